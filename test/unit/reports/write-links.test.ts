// Output written where someone else may have been first (issue 15 review): a report was written to
// "<out>.partial" and renamed, and a link planted at that guessable name (a shared or /tmp output
// folder) sent the PDF, then the manifest, into the link's target, overwriting it, and left <out> a link.
// A new key followed a dangling link planted at --out the same way. Files are now written under
// unpredictable names created exclusively (never a link's target), and a key refuses any entry there.
import { lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeExaminerKey } from '../../../main/reports/keys.ts';
import { issueReport } from '../../../main/reports/report.ts';
import { blankPdf } from '../cases/anchor-fixture.ts';
import { makeModel } from './fixture.ts';
import { makePki, type TestPki } from './pki.ts';

let pki: TestPki;
let work: string;
beforeAll(() => {
  pki = makePki();
  work = mkdtempSync(join(tmpdir(), 'lora-audit-write-links-'));
});
afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

describe('links planted at an output\'s names', () => {
  it('a report: the link targets stay untouched, and the PDF, manifest and signature are regular files of their own', async () => {
    const victim = join(work, 'victim.txt');
    writeFileSync(victim, 'the victim\'s own content');
    const out = join(work, 'report.pdf');
    for (const name of ['report.pdf.partial', 'report.manifest.json.partial', 'report.manifest.json.sig.partial']) symlinkSync(victim, join(work, name));

    const issued = await issueReport(makeModel('both'), { out, p12: readFileSync(pki.p12), passphrase: pki.passphrase, renderer: blankPdf });
    expect(readFileSync(victim, 'utf8')).toBe('the victim\'s own content');
    for (const file of [issued.pdf, issued.manifest, issued.manifestSignature]) expect(lstatSync(file).isFile()).toBe(true);
    expect(readFileSync(out).subarray(0, 5).toString()).toBe('%PDF-');
    // no temporary file left behind
    expect(readdirSync(work).filter((f) => /\.partial-/.test(f))).toEqual([]);
  });

  it('a key: a dangling link at --out is refused, and its target is never created', async () => {
    const target = join(work, 'where-the-key-would-land.p12');
    const out = join(work, 'examiner.p12');
    symlinkSync(target, out);
    await expect(writeExaminerKey(out, { name: 'Ana Examiner' }, 'a long passphrase')).rejects.toMatchObject({ code: 'BAD_REQUEST',
      message: expect.stringContaining('refusing to overwrite a signing key') });
    expect(() => lstatSync(target)).toThrow();
  });
});
