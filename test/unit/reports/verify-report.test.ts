// verifyReport against reports made to fool or hang it (issue 15): a certificate whose key would keep
// RSA busy for minutes, a report changed after its signature and then countersigned, /Contents
// padding changed after signing; and the human output naming the certificate by its fingerprint.
// Debian's pdfsig is the reference where it has an opinion.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as verifyCommand } from '../../../main/cli/commands/verify.ts';
import { loadKey, type LoadedKey } from '../../../main/reports/keys.ts';
import { signPdf, signPdfWith } from '../../../main/reports/sign.ts';
import { signedRanges, verifyReport } from '../../../main/reports/verify.ts';
import { HUGE_BITS, cpuSeconds, forgeDetachedCms, hugeKeyCertificate, smallForgeKey } from './hostile.ts';
import { countersignWithChange } from './incremental.ts';
import { makePki, pdfsig, type TestPki } from './pki.ts';

let pki: TestPki;
let work: string;
let ana: LoadedKey;
let mallory: LoadedKey;
let unsigned: Uint8Array;
let signed: Uint8Array;

/** A second examiner certificate from the same CA: a countersignature that is itself trusted. */
function issueMallory(): LoadedKey {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'mal.key', '-out', 'mal.csr', '-subj', '/CN=Mallory Countersigner/O=Elsewhere']);
  run(['x509', '-req', '-in', 'mal.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'mal.pem', '-days', '30', '-extfile', 'ext.cnf']);
  run(['pkcs12', '-export', '-inkey', 'mal.key', '-in', 'mal.pem', '-certfile', 'ca.pem', '-out', 'mal.p12', '-passout', 'pass:mallory passphrase']);
  return loadKey(readFileSync(join(pki.dir, 'mal.p12')), 'mallory passphrase');
}

const write = (name: string, bytes: Uint8Array) => { const f = join(work, name); writeFileSync(f, bytes); return f; };
const FIELD_TEXT = { reason: 'test', contactInfo: '', name: 'x', location: '', signingTime: new Date() };

beforeAll(async () => {
  pki = makePki();
  work = mkdtempSync(join(tmpdir(), 'lora-audit-verify-report-'));
  ana = loadKey(readFileSync(pki.p12), pki.passphrase);
  mallory = issueMallory();
  const doc = await PDFDocument.create();
  doc.setTitle('Case 2026-117: Pixel style adapter');
  doc.addPage().drawText('Estimated training images: 10');
  unsigned = await doc.save();
  signed = (await signPdf(unsigned, { p12: readFileSync(pki.p12), passphrase: pki.passphrase, key: ana })).pdf;
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

describe('a genuine report', () => {
  it('is VALID: one signature, over the whole document, named with its certificate fingerprint; pdfsig agrees', async () => {
    const file = write('genuine.pdf', signed);
    const v = await verifyReport(file, { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, signatureValid: true, documentUnmodified: true, trusted: true });
    expect(v.signatures).toEqual([expect.objectContaining({
      field: 'Signature1', coversWholeDocument: true, signatureValid: true, trusted: true, problems: [],
      sha256Fingerprint: ana.info.sha256Fingerprint, byteRange: signedRanges(signed),
    })]);
    expect(v.signatures[0].signer).toMatchObject({ subject: 'Ana Examiner' });
    expect(pdfsig(file)).toMatch(/Total document signed[\s\S]*Signature is Valid/);
  });
});

describe('reports signed before this verifier', () => {
  it('a report signed by @signpdf (the previous signer: lower-case hex, literal strings) still verifies VALID', async () => {
    const { SignPdf } = await import('@signpdf/signpdf');
    const { P12Signer } = await import('@signpdf/signer-p12');
    const { pdflibAddPlaceholder } = await import('@signpdf/placeholder-pdf-lib');
    const doc = await PDFDocument.load(unsigned);
    pdflibAddPlaceholder({ pdfDoc: doc, reason: 'Forensic report', contactInfo: '', name: 'Ana Examiner', location: 'Utrecht', signatureLength: 16_384 });
    const old = await new SignPdf().sign(Buffer.from(await doc.save({ useObjectStreams: false })), new P12Signer(readFileSync(pki.p12), { passphrase: pki.passphrase }));
    const v = await verifyReport(write('signpdf.pdf', old), { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v.ok).toBe(true);
  });
});

describe('a certificate whose key would hang RSA (issue 15 item 4)', () => {
  it(`${HUGE_BITS}-bit modulus and exponent, in the PDF and in the manifest's .sig: answered within 5 s of CPU, naming the key size`, async () => {
    const small = smallForgeKey();
    const huge = hugeKeyCertificate(small);
    const pdf = await signPdfWith(unsigned, FIELD_TEXT, async (data) => forgeDetachedCms(data, huge, small));
    const file = write('huge.pdf', pdf);
    const manifest = join(work, 'huge.manifest.json');
    writeFileSync(manifest, '{"format":"lora-auditor/report-manifest"}\n');
    writeFileSync(`${manifest}.sig`, JSON.stringify({ algorithm: 'RSA-SHA256', signature: Buffer.alloc(HUGE_BITS / 8, 7).toString('base64'), certificate: forge.pki.certificateToPem(huge) }));
    expect(pdf.byteLength).toBeLessThan(64 * 1024);
    const { value: v, cpu } = await cpuSeconds(() => verifyReport(file, { trust: [pki.caPem], manifestPath: manifest }));
    expect(cpu).toBeLessThan(5);
    expect(v).toMatchObject({ ok: false, signatureValid: false, signer: { subject: 'Hostile Signer' } });
    expect(v.problems).toContain(`the signature is not checked: the certificate of Hostile Signer cannot be used: its RSA modulus has ${HUGE_BITS} bits, more than the 8192 this verifier accepts`);
    expect(v.problems).toContain(`the manifest's signature is not checked: its certificate cannot be used: its RSA modulus has ${HUGE_BITS} bits, more than the 8192 this verifier accepts`);
  });
});

describe('a report changed after its signature, then countersigned (issue 15 item 6)', () => {
  it('is NOT VALID though both signatures verify and both signers are trusted; each signature says what it covers', async () => {
    const file = write('countersigned.pdf', await countersignWithChange(signed, mallory, 'Case 2026-117: a different adapter'));
    const reference = pdfsig(file);
    expect(reference).toMatch(/Signature #1:[\s\S]*Not total document signed[\s\S]*Signature #2:[\s\S]*Total document signed/);
    const v = await verifyReport(file, { trust: [pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.documentUnmodified).toBe(false);
    expect(v.signer).toMatchObject({ subject: 'Ana Examiner' });   // the report's signature is the first, not the last
    expect(v.signatures.map((s) => [s.signer?.subject, s.coversWholeDocument, s.signatureValid, s.trusted])).toEqual([
      ['Ana Examiner', false, true, true],
      ['Mallory Countersigner', true, true, true],
    ]);
    expect(v.signatures[1].sha256Fingerprint).toBe(mallory.info.sha256Fingerprint);
    expect(v.problems[0]).toBe('the PDF carries 2 signatures; an examiner report has exactly one, over the whole file: the document was changed ' +
      'after the first signature (Ana Examiner) by later revisions, signed by Mallory Countersigner');
    expect(v.problems[1]).toMatch(/^signature 1 of 2 \(Ana Examiner\): the signature covers \d+ bytes but the file has \d+: content was added after signing/);
  });
});

describe('/Contents padding (issue 15 item 12)', () => {
  it('a changed byte in the zero padding after the CMS: NOT VALID, as pdfsig says "Not total document signed"', async () => {
    const bytes = Buffer.from(signed);
    const [, , c] = signedRanges(bytes)!;
    bytes[c - 10] = 0x31;   // an ASCII '1' among the '0' hex digits of the padding
    const file = write('padding.pdf', bytes);
    expect(pdfsig(file)).toContain('Not total document signed');
    const v = await verifyReport(file, { trust: [pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.signatureValid).toBe(false);
    expect(v.problems).toEqual(['the signature cannot be read: 5 bytes after the CMS are not zero padding']);
  });
});

describe('/Contents hex digits', () => {
  it('one hex letter of the CMS changed to the other case (same bytes once decoded): NOT VALID', async () => {
    const bytes = Buffer.from(signed);
    const [, b] = signedRanges(bytes)!;
    const letter = bytes.subarray(b, b + 200).findIndex((x) => x >= 0x41 && x <= 0x46);   // A-F
    bytes[b + letter] += 0x20;
    const v = await verifyReport(write('case.pdf', bytes), { trust: [pki.caPem] });
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual(["the signature's /Contents mixes upper- and lower-case hex digits: it was rewritten after signing"]);
  });
});

describe('human output (issue 15 item 13)', () => {
  it("names the signer certificate's SHA-256 fingerprint, and every signature's when there are several", async () => {
    const one = verifyCommand.human(await verifyReport(write('human.pdf', signed), { trust: [pki.caPem] }));
    expect(one).toContain(`certificate SHA-256  ${ana.info.sha256Fingerprint}`);
    expect(one).toContain('signatures           1 (covers the whole document)');
    const two = verifyCommand.human(await verifyReport(write('human2.pdf', await countersignWithChange(signed, mallory, 'changed')), { trust: [pki.caPem] }));
    expect(two).toMatch(/^NOT VALID/);
    expect(two).toContain(ana.info.sha256Fingerprint);
    expect(two).toContain(mallory.info.sha256Fingerprint);
    expect(two).toMatch(/covers +the first \d+ bytes only: NOT the whole document/);
  });
});
