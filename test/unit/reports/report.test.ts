// The whole path a report takes: model → HTML → PDF (Chromium) → CMS signature → manifest, checked by
// Debian's poppler tools (an independent implementation) and by our own verifier, then tampered with.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumRenderer, type ChromiumRenderer } from '../../../main/reports/render.ts';
import { issueReport, type IssuedReport } from '../../../main/reports/report.ts';
import { signedRanges, verifyReport } from '../../../main/reports/verify.ts';
import { FONTS_URL } from '../../../main/reports/template.ts';
import { EVIDENCE_OK, EVIDENCE_REFUSED, REFUSAL_REASON, makeModel } from './fixture.ts';
import { makePki, pdfsig, pdftotext, type TestPki } from './pki.ts';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, '../../../test-results/reports');

let pki: TestPki;
let renderer: ChromiumRenderer;
let work: string;
let both: IssuedReport;
let refused: IssuedReport;

/** Keeps one page image so a person can look at what the report looks like. */
function keepPage(pdf: string, name: string, page = 1): string {
  mkdirSync(RESULTS, { recursive: true });
  const prefix = join(work, `${name}-img`);
  execFileSync('pdftoppm', ['-png', '-r', '70', '-f', String(page), '-l', String(page), pdf, prefix]);
  const png = readdirSync(work).find((f) => f.startsWith(`${name}-img`) && f.endsWith('.png'))!;
  copyFileSync(join(work, png), join(RESULTS, `${name}.png`));
  return join(work, png);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lora-audit-report-'));
  pki = makePki();
  renderer = await chromiumRenderer();
  const p12 = readFileSync(pki.p12);
  both = await issueReport(makeModel('both'), { out: join(work, 'both.pdf'), p12, passphrase: pki.passphrase, renderer: renderer.render, place: 'Utrecht' });
  // the other font mode: fonts by file: URL, as the CLI prints
  refused = await issueReport(makeModel('refused'), { out: join(work, 'refused.pdf'), p12, passphrase: pki.passphrase, renderer: renderer.render, fontBase: FONTS_URL });
}, 120_000);

afterAll(async () => {
  await renderer?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

describe('a generated report', () => {
  it('renders to pages a person can read, with the case, the evidence hashes, the estimate and σ', () => {
    const pages = execFileSync('pdfinfo', [both.pdf], { encoding: 'utf8' }).match(/Pages:\s+(\d+)/)![1];
    expect(Number(pages)).toBe(both.pages);
    expect(both.pages).toBeGreaterThanOrEqual(2);
    execFileSync('pdftoppm', ['-png', '-r', '30', both.pdf, join(work, 'page')]);
    const images = readdirSync(work).filter((f) => f.startsWith('page') && f.endsWith('.png'));
    expect(images).toHaveLength(both.pages);
    for (const img of images) expect(readFileSync(join(work, img)).byteLength).toBeGreaterThan(1000);
    keepPage(both.pdf, 'report-estimate', 2);

    const text = pdftotext(both.pdf);
    expect(text).toContain('Case 2026-117: Pixel style adapter');
    expect(text.replace(/\s+/g, '')).toContain(EVIDENCE_OK.sha256);
    expect(text).toContain('10 images');
    expect(text).toContain('σ(ΔW)');
    expect(text).toContain('λ');
    expect(text).toContain('∑');
    // untrusted file names are printed as text, not interpreted as markup
    expect(text).toContain('pixel_style_v2<script>.safetensors');
    expect(text).toContain('Ana Examiner');
    expect(text).toContain('Limitations');
    // the bundled fonts, embedded in the PDF: no system font stood in for σ λ ∑
    const fonts = execFileSync('pdffonts', [both.pdf], { encoding: 'utf8' });
    expect(fonts).toMatch(/DejaVuSans\s/);
    expect(fonts).toMatch(/DejaVuSansMono/);
  });

  it('is a signature Debian pdfsig calls valid, and trusted with an NSS database that trusts the test CA', () => {
    const plain = pdfsig(both.pdf);
    expect(plain).toContain('Signature is Valid');
    expect(plain).toContain('adbe.pkcs7.detached');
    expect(plain).toContain('Total document signed');
    const trusted = pdfsig(both.pdf, pki.nssDir);
    expect(trusted).toContain('Signature is Valid');
    expect(trusted).toContain('Certificate is Trusted');
  });

  it('verifies with our verifier: valid, unmodified, signer named, trusted via the CA, manifest consistent', async () => {
    const v = await verifyReport(both.pdf, { trust: [pki.caPem] });
    expect(v.problems).toEqual([]);
    expect(v).toMatchObject({ ok: true, signed: true, signatureValid: true, documentUnmodified: true, trusted: true, subFilter: 'adbe.pkcs7.detached' });
    expect(v.signer).toMatchObject({ subject: 'Ana Examiner', organisation: 'Audit Lab', issuer: 'Test Forensic CA', selfSigned: false });
    expect(v.manifest).toMatchObject({ path: both.manifest, signatureValid: true, sameSigner: true, pdfSha256Matches: true, evidenceMatchesCase: null });
    expect(v.sha256).toBe(both.sha256);
  });

  it('is not trusted without an anchor, nor with an unrelated CA', async () => {
    const none = await verifyReport(both.pdf);
    expect(none.signatureValid).toBe(true);
    expect(none.trusted).toBe(false);
    expect(none.ok).toBe(false);
    expect(none.problems.join(' ')).toMatch(/no trust anchor/);
    const other = await verifyReport(both.pdf, { trust: [pki.otherCaPem] });
    expect(other.trusted).toBe(false);
    expect(other.ok).toBe(false);
  });

  it('carries a manifest with the evidence hashes, results and the PDF hash', () => {
    const m = JSON.parse(readFileSync(both.manifest, 'utf8'));
    expect(m.evidence.map((e: { sha256: string }) => e.sha256)).toEqual([EVIDENCE_OK.sha256, EVIDENCE_REFUSED.sha256]);
    expect(m.results[0]).toMatchObject({ applicable: true, estimate: 10, interval: { low: 5, high: 20, coverage: 0.9 } });
    expect(m.results[1]).toMatchObject({ applicable: false, estimate: null, reasons: [REFUSAL_REASON] });
    expect(m.pdf.sha256).toBe(both.sha256);
    expect(m.references[0].shards[0].sha256).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the renderer', () => {
  it('fetches nothing from the network, even when the page asks', async () => {
    let hits = 0;
    const server = createServer((_req, res) => { hits++; res.end('x'); });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      const html = `<!doctype html><html><body><p>hello σ</p><img src="http://127.0.0.1:${port}/pixel.png">
<link rel="stylesheet" href="http://127.0.0.1:${port}/style.css"><script>fetch('http://127.0.0.1:${port}/beacon').catch(() => {});
window.__reportReady = true;</script></body></html>`;
      const pdf = await renderer.render(html);
      expect(Buffer.from(pdf.subarray(0, 5)).toString()).toBe('%PDF-');
      expect(hits).toBe(0);
    } finally {
      server.close();
    }
  });

  it('fails with RENDER_FAILED when the page never signals it is ready', async () => {
    const html = '<!doctype html><p>no charts</p><script>throw new Error("chart library missing")</script>';
    await expect(renderer.render(html)).rejects.toMatchObject({ code: 'RENDER_FAILED', message: expect.stringContaining('chart library missing') });
  }, 60_000);
});

describe('tampering', () => {
  it('one flipped byte inside the signed range: pdfsig and verifyReport both report it', async () => {
    const bytes = readFileSync(both.pdf);
    const [, b, c, d] = signedRanges(bytes)!;
    for (const [name, at] of [['early', Math.floor(b / 3)], ['late', c + Math.floor(d / 2)]] as const) {
      const copy = Buffer.from(bytes);
      copy[at] ^= 0x01;
      const file = join(work, `tampered-${name}.pdf`);
      writeFileSync(file, copy);
      const sig = pdfsig(file);
      expect(sig).not.toContain('Signature is Valid');
      expect(sig).toMatch(/Digest Mismatch|Signature is Invalid/);
      const v = await verifyReport(file, { trust: [pki.caPem], manifestPath: both.manifest });
      expect(v.ok).toBe(false);
      expect(v.documentUnmodified).toBe(false);
      expect(v.signatureValid).toBe(false);
      expect(v.manifest?.pdfSha256Matches).toBe(false);
      expect(v.problems.join(' ')).toMatch(/changed after signing/);
    }
  });

  it('bytes appended after signing are outside the signature and reported', async () => {
    const file = join(work, 'appended.pdf');
    writeFileSync(file, Buffer.concat([readFileSync(both.pdf), Buffer.from('\n% added later\n')]));
    const v = await verifyReport(file, { trust: [pki.caPem], manifestPath: both.manifest });
    expect(v.ok).toBe(false);
    expect(v.documentUnmodified).toBe(false);
    expect(v.problems.join(' ')).toMatch(/content was added after signing/);
  });

  it('a manifest edited after signing is detected', async () => {
    const dir = mkdtempSync(join(work, 'manifest-'));
    const pdf = join(dir, 'both.pdf');
    copyFileSync(both.pdf, pdf);
    const manifest = join(dir, 'both.manifest.json');
    const text = readFileSync(both.manifest, 'utf8');
    expect(text).toContain('"estimate": 10,');
    writeFileSync(manifest, text.replace('"estimate": 10,', '"estimate": 40,'));
    copyFileSync(`${both.manifest}.sig`, `${manifest}.sig`);
    const v = await verifyReport(pdf, { trust: [pki.caPem] });   // found beside the PDF
    expect(v.signatureValid).toBe(true);
    expect(v.manifest?.signatureValid).toBe(false);
    expect(v.ok).toBe(false);
    expect(v.problems.join(' ')).toMatch(/manifest signature does not match/);
  });

  it("another report's manifest does not vouch for this PDF", async () => {
    const v = await verifyReport(both.pdf, { trust: [pki.caPem], manifestPath: refused.manifest });
    expect(v.manifest?.signatureValid).toBe(true);
    expect(v.manifest?.pdfSha256Matches).toBe(false);
    expect(v.ok).toBe(false);
  });
});

describe('a refused adapter', () => {
  it('shows the refusal and its reason, never a number', async () => {
    keepPage(refused.pdf, 'report-refused', 1);
    const text = pdftotext(refused.pdf);
    expect(text).toContain('Refused: no estimate is given for this adapter.');
    expect(text.replace(/\s+/g, ' ')).toContain(REFUSAL_REASON);
    expect(text).toContain(EVIDENCE_REFUSED.fileName);
    expect(text).not.toMatch(/\d+ images? \(/);           // no estimate line
    expect(text).not.toMatch(/nominal coverage/);          // no interval
    expect(text).not.toMatch(/Votes per reference/);       // no vote chart
    const m = JSON.parse(readFileSync(refused.manifest, 'utf8'));
    expect(m.results).toEqual([expect.objectContaining({ applicable: false, estimate: null, interval: null })]);
    expect(pdfsig(refused.pdf)).toContain('Signature is Valid');
  });
});
