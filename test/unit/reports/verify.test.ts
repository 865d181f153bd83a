// What verify says about files that are not signed reports: it answers, it does not crash.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    expect(v.problems[0]).toMatch(/no digital signature/);
  });

  it('a signature dictionary whose contents are not a CMS: reported as unreadable', async () => {
    const body = '%PDF-1.7\n1 0 obj <</Type /Sig /SubFilter /adbe.pkcs7.detached /ByteRange [0 60 70 10] /Contents <00000000>>> endobj\n';
    const file = join(dir, 'fake.pdf');
    writeFileSync(file, body.padEnd(80, ' '));
    const v = await verifyReport(file);
    expect(v.signed).toBe(true);
    expect(v.signatureValid).toBe(false);
    expect(v.ok).toBe(false);
    expect(v.problems.length).toBeGreaterThan(0);
  });

  it('a missing file is an error naming the file', async () => {
    await expect(verifyReport(join(dir, 'absent.pdf'))).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
