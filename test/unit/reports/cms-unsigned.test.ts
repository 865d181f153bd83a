// What a signature does not cover (issue 15 review): a genuine report's /Contents had room for more
// than its CMS, and an unsigned attribute (say, a time-stamp token the forger made up, which other
// viewers show as a trusted signing time), a revocation list or another digest algorithm could be
// written into it after signing. The signature still verified, so `verify` said VALID and "unmodified"
// for a file whose bytes were not the ones issued. Such a CMS is now refused, in a PDF and beside an
// archive manifest alike.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import { PDFDocument } from 'pdf-lib';
import * as pkijs from 'pkijs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDetachedCms, verifyDetachedCms } from '../../../main/reports/cms.ts';
import { loadKey, type LoadedKey } from '../../../main/reports/keys.ts';
import { signPdf } from '../../../main/reports/sign.ts';
import { signedRanges, verifyReport } from '../../../main/reports/verify.ts';
import { makePki, type TestPki } from './pki.ts';

let pki: TestPki;
let key: LoadedKey;
const data = new TextEncoder().encode('the bytes of a signed manifest\n');

beforeAll(() => {
  pki = makePki();
  key = loadKey(readFileSync(pki.p12), pki.passphrase);
});
afterAll(() => { if (pki) rmSync(pki.dir, { recursive: true, force: true }); });

/** The CMS re-encoded after `edit` changed its unsigned parts: what anyone can do to a signature. */
function edited(cms: Uint8Array, edit: (sd: pkijs.SignedData) => void): Uint8Array {
  const info = new pkijs.ContentInfo({ schema: asn1js.fromBER(cms).result });
  const sd = new pkijs.SignedData({ schema: info.content });
  edit(sd);
  return new Uint8Array(new pkijs.ContentInfo({ contentType: info.contentType, content: sd.toSchema(true) }).toSchema().toBER(false));
}

const timeStampToken = (sd: pkijs.SignedData) => {
  sd.signerInfos[0].unsignedAttrs = new pkijs.SignedAndUnsignedAttributes({ type: 1, attributes: [
    new pkijs.Attribute({ type: '1.2.840.113549.1.9.16.2.14', values: [new asn1js.OctetString({ valueHex: Buffer.from('a time-stamp of 1999-01-01 nobody issued') })] }),
  ] });
};

describe('a detached CMS with parts its signature does not cover', () => {
  it('the signature as made verifies', async () => {
    const v = await verifyDetachedCms(data, await signDetachedCms(data, key), { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v.signatureValid).toBe(true);
  });

  it('an unsigned attribute added after signing is refused', async () => {
    const v = await verifyDetachedCms(data, edited(await signDetachedCms(data, key), timeStampToken), { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it carries unsigned attributes, which its signature does not cover (added after signing, or by a signer this verifier does not accept)']);
  });

  it('a revocation list added after signing is refused', async () => {
    const cms = edited(await signDetachedCms(data, key), (sd) => {
      sd.crls = [new pkijs.OtherRevocationInfoFormat({ otherRevInfoFormat: '1.3.6.1.5.5.7.16.2', otherRevInfo: new asn1js.OctetString({ valueHex: Buffer.from('any bytes') }) })];
    });
    const v = await verifyDetachedCms(data, cms, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it carries revocation lists, which its signature does not cover']);
  });

  it('a second digest algorithm listed after signing is refused', async () => {
    const cms = edited(await signDetachedCms(data, key), (sd) => {
      sd.digestAlgorithms.push(new pkijs.AlgorithmIdentifier({ algorithmId: '2.16.840.1.101.3.4.2.3' }));
    });
    const v = await verifyDetachedCms(data, cms, { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: it lists the digest algorithms 2.16.840.1.101.3.4.2.1, 2.16.840.1.101.3.4.2.3, not exactly the one its signer used']);
  });
});

describe('a genuine report whose /Contents gained an unsigned time-stamp in its padding', () => {
  it('is NOT VALID (it was VALID and "unmodified")', async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawText('Estimated training images: 10');
    const { pdf } = await signPdf(await doc.save(), { p12: readFileSync(pki.p12), passphrase: pki.passphrase, key });
    const bytes = Buffer.from(pdf);
    const [, b, c] = signedRanges(bytes)!;
    const hex = bytes.toString('latin1', b + 1, c - 1);
    const cms = Buffer.from(hex.replace(/(00)+$/, ''), 'hex');
    const grown = Buffer.from(edited(cms, timeStampToken)).toString('hex');
    const digits = hex === hex.toUpperCase() ? grown.toUpperCase() : grown;
    expect(digits.length).toBeLessThan(hex.length);
    bytes.write(digits.padEnd(hex.length, '0'), b + 1, 'latin1');
    const file = join(pki.dir, 'time-stamped.pdf');
    writeFileSync(file, bytes);

    const v = await verifyReport(file, { trust: [pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.signatureValid).toBe(false);
    expect(v.documentUnmodified).toBe(false);
    expect(v.problems).toContain('the signature cannot be read: it carries unsigned attributes, which its signature does not cover (added after signing, or by a signer this verifier does not accept)');
  });
});
