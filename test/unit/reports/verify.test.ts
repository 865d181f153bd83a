// What verify says about files that are not signed reports: it answers, it does not crash.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signPdfWith } from '../../../main/reports/sign.ts';
import { verifyReport } from '../../../main/reports/verify.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'lora-audit-verify-')); });
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('verifyReport on files that are not signed reports', () => {
  it('an unsigned PDF: not signed, not valid, and says why', async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawText('An unsigned report');
    const file = join(dir, 'unsigned.pdf');
    writeFileSync(file, await doc.save());
    const v = await verifyReport(file);
    expect(v).toMatchObject({ ok: false, signed: false, signatureValid: false, documentUnmodified: false, signer: null, trusted: false });
    expect(v.problems).toEqual(['the PDF carries no digital signature (no signature field with a value)']);
  });

  it('a signature field whose /Contents is not a CMS: signed, not valid, reported as unreadable', async () => {
    const doc = await PDFDocument.create();
    doc.addPage().drawText('A report with a broken signature');
    const text = { reason: 'r', contactInfo: '', name: 'n', location: '', signingTime: new Date() };
    const file = join(dir, 'fake.pdf');
    writeFileSync(file, await signPdfWith(await doc.save(), text, async () => Uint8Array.from([0x04, 0x02, 0xab, 0xcd])));
    const v = await verifyReport(file);
    expect(v).toMatchObject({ ok: false, signed: true, signatureValid: false, documentUnmodified: false });
    expect(v.problems[0]).toMatch(/^the signature cannot be read: not a CMS SignedData/);
  });

  it('a signature dictionary the structure does not reach (text in the file, no xref to it): not a signature', async () => {
    const body = '%PDF-1.7\n1 0 obj <</Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 60 70 10] /Contents <00000000>>> endobj\n';
    const file = join(dir, 'text-only.pdf');
    writeFileSync(file, body.padEnd(80, ' '));
    const v = await verifyReport(file);
    expect(v).toMatchObject({ ok: false, signed: false, signatureValid: false });
    expect(v.problems[0]).toMatch(/^the PDF's structure cannot be read, so its signatures cannot be found \(the file is damaged, or was changed after signing\): no startxref/);
  });

  it('a missing file is an error naming the file', async () => {
    await expect(verifyReport(join(dir, 'absent.pdf'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
