// User text cannot influence signing or verification (issue 15 item 7): a case title written like a
// signature's byte range, and one that is the exact placeholder text the previous signer searched
// for, both end up in the PDF (its metadata, its outline, the signature's /Reason), and both reports
// sign and verify VALID, for our verifier and for Debian's pdfsig.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumRenderer, type ChromiumRenderer } from '../../../main/reports/render.ts';
import { issueReport } from '../../../main/reports/report.ts';
import { verifyReport } from '../../../main/reports/verify.ts';
import { makeModel } from './fixture.ts';
import { makePki, pdfsig, type TestPki } from './pki.ts';

let pki: TestPki;
let renderer: ChromiumRenderer;
let work: string;

beforeAll(async () => {
  pki = makePki();
  renderer = await chromiumRenderer();
  work = mkdtempSync(join(tmpdir(), 'lora-audit-titles-'));
}, 60_000);

afterAll(async () => {
  await renderer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

const TITLES: [string, string][] = [
  ['byte-range', 'x /ByteRange [0 1 2 3] /Contents <00>'],
  ['placeholder', '/ByteRange [0 /********** /********** /**********]'],
];

describe('a case title that looks like a signature', () => {
  it.each(TITLES)('%s title: the report signs and verifies VALID, and pdfsig calls the whole document signed', async (name, title) => {
    const model = makeModel('estimated');
    model.case.title = title;
    const issued = await issueReport(model, { out: join(work, `${name}.pdf`), p12: readFileSync(pki.p12), passphrase: pki.passphrase, renderer: renderer.render });
    // the title is really in the file's bytes where a text search would find it (the signature's /Reason is hex)
    expect(readFileSync(issued.pdf).toString('latin1')).toContain(title.replace(/[()]/g, '\\$&'));
    const v = await verifyReport(issued.pdf, { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, documentUnmodified: true, manifest: { signatureValid: true, pdfSha256Matches: true } });
    expect(v.signatures).toHaveLength(1);
    expect(pdfsig(issued.pdf)).toMatch(/Total document signed[\s\S]*Signature is Valid/);
  }, 60_000);
});
