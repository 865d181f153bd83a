// Time and a signature (issue 15 review). The signing time is written by the signer himself: a genuine
// key could sign a report "on 2001-01-01", 25 years before its certificate existed, and verify said VALID
// with that date beside it. A signing time outside the certificate's validity is now a problem. Trust is
// judged at verification time, not at the claimed signing time (which would let an expired key backdate
// its way back into trust): a certificate that has expired is not trusted, however its signature claims
// to be old. Without a time-stamp authority nothing better can be known.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signDetachedCms, verifyDetachedCms } from '../../../main/reports/cms.ts';
import { loadKey, type LoadedKey } from '../../../main/reports/keys.ts';
import { signPdf } from '../../../main/reports/sign.ts';
import { verifyReport } from '../../../main/reports/verify.ts';
import { makePki, type TestPki } from './pki.ts';

let pki: TestPki;
let key: LoadedKey;
let unsigned: Uint8Array;
const data = new TextEncoder().encode('a signed manifest\n');

beforeAll(async () => {
  pki = makePki();
  key = loadKey(readFileSync(pki.p12), pki.passphrase);
  const doc = await PDFDocument.create();
  doc.addPage().drawText('Estimated training images: 10');
  unsigned = await doc.save();
});
afterAll(() => { if (pki) rmSync(pki.dir, { recursive: true, force: true }); });

/** An examiner certificate the test CA issued for 2020 only, with its key, as loadKey would give it. */
function expiredExaminer(): LoadedKey {
  const caKey = forge.pki.privateKeyFromPem(readFileSync(join(pki.dir, 'ca.key'), 'utf8'));
  const caCert = forge.pki.certificateFromPem(readFileSync(pki.caPem, 'utf8'));
  const keys = forge.pki.rsa.generateKeyPair(2048);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '0a1b2c';
  cert.validity.notBefore = new Date('2020-01-01T00:00:00Z');
  cert.validity.notAfter = new Date('2021-01-01T00:00:00Z');
  cert.setSubject([{ name: 'commonName', value: 'Old Examiner' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([{ name: 'basicConstraints', cA: false }, { name: 'keyUsage', critical: true, digitalSignature: true, nonRepudiation: true }]);
  cert.sign(caKey, forge.md.sha256.create());
  return { key: keys.privateKey, certificate: cert, chain: [cert, caCert], certificatePem: forge.pki.certificateToPem(cert), info: key.info };
}

describe('the signing time against the certificate', () => {
  it('a report "signed" years before its certificate existed is NOT VALID (it was VALID)', async () => {
    const { pdf } = await signPdf(unsigned, { p12: readFileSync(pki.p12), passphrase: pki.passphrase, key, signingTime: new Date('2001-01-01T00:00:00Z') });
    const file = join(pki.dir, 'backdated.pdf');
    writeFileSync(file, pdf);
    const v = await verifyReport(file, { trust: [pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.signingTime).toBe('2001-01-01T00:00:00.000Z');
    expect(v.problems).toEqual([`the signature says it was made at 2001-01-01T00:00:00.000Z, outside its certificate's validity (${key.info.notBefore} to ${key.info.notAfter}): ` +
      'the signing time is false, or the certificate was not valid when it signed']);
  });

  it('a signature made now, within the validity, has no such problem', async () => {
    const v = await verifyDetachedCms(data, await signDetachedCms(data, key), { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
  });

  it('an expired certificate is not trusted, though its signature claims a time when it was valid', async () => {
    const v = await verifyDetachedCms(data, await signDetachedCms(data, expiredExaminer(), new Date('2020-06-01T00:00:00Z')), { trust: [pki.caPem] });
    expect(v.signatureValid).toBe(true);
    expect(v.trusted).toBe(false);
    expect(v.problems).toEqual([expect.stringMatching(/^the signer's certificate does not chain to a trusted anchor: .*(expired|valid)/i)]);
  }, 30_000);
});
