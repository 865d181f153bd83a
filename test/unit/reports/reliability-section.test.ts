// The report's "Reliability of this estimate" (issue 18): from a real case analysed against the demo
// reference, the method's measured error on that set in words, the confusion matrix as a shaded table with
// its counts, the interval's measured coverage and the opinion grade with its reasons; the summary states
// the interval or why there is none, never a bare "—". An overridden analysis prints "Compared despite"
// with the justification beside the estimate; an analysis recorded before issue 18 still renders and says
// what it lacks. Page images are kept in test-results/reports/.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import type { AnalysisResult } from '../../../main/dsire/types.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { buildManifest } from '../../../main/reports/manifest.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { chromiumRenderer } from '../../../main/reports/render.ts';
import { renderReportHtml } from '../../../main/reports/template.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { repoRoot, tempDb } from '../cases/helpers.ts';
import { makeModel } from './fixture.ts';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, '../../../test-results/reports');
const demo = join(repoRoot, 'assets/demo');

/** The reliability block of the first result. */
function reliability(html: string): string {
  const start = html.indexOf('<div class="reliability">');
  expect(start).toBeGreaterThan(0);
  return html.slice(start, html.indexOf('</div>', start));
}

/** Renders the HTML to PDF and keeps the page holding `marker` as test-results/reports/<name>.png. */
async function keepPage(html: string, marker: string, name: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'reliability-report-'));
  const renderer = await chromiumRenderer();
  try {
    const pdf = join(work, 'report.pdf');
    writeFileSync(pdf, await renderer.render(html));
    const pages = Number(execFileSync('pdfinfo', [pdf], { encoding: 'utf8' }).match(/Pages:\s+(\d+)/)![1]);
    const page = Array.from({ length: pages }, (_, i) => i + 1)
      .find((p) => execFileSync('pdftotext', ['-f', String(p), '-l', String(p), pdf, '-'], { encoding: 'utf8' }).includes(marker))!;
    expect(page).toBeGreaterThan(0);
    const text = execFileSync('pdftotext', ['-f', String(page), '-l', String(page + 1 <= pages ? page + 1 : page), pdf, '-'], { encoding: 'utf8' });
    mkdirSync(RESULTS, { recursive: true });
    execFileSync('pdftoppm', ['-png', '-r', '80', '-f', String(page), '-l', String(page), pdf, join(work, name)]);
    const png = readdirSync(work).find((f) => f.startsWith(name) && f.endsWith('.png'))!;
    copyFileSync(join(work, png), join(RESULTS, `${name}.png`));
    return text;
  } finally {
    await renderer.close();
    rmSync(work, { recursive: true, force: true });
  }
}

describe('the report states the reliability of each estimate', () => {
  let t: Awaited<ReturnType<typeof tempDb>>;
  let engine: FeatureEngine;

  beforeAll(async () => {
    t = await tempDb();
    engine = await createFeatureEngine({ backend: 'cpu' });
    const imported = await importReference(t.db, { name: 'demo', paths: [join(demo, 'reference/train-00000-of-00001.parquet')], rank: 4, engine });
    expect(imported.errors).toEqual([]);
  }, 120_000);

  afterAll(async () => {
    engine?.dispose();
    await t?.cleanup();
  });

  it('prints the measured figures in words, the confusion heat map with counts, the coverage and the grade, and keeps a page image', async () => {
    const kase = await createCase(t.db, { title: 'Reliability', examiner: 'Ana Examiner' });
    const ev = await addEvidence(t.db, kase.id, join(demo, 'evidence/diffusers/clay_ring-2img/pytorch_lora_weights.safetensors'));
    const outcome = await runAnalysis(t.db, kase.id, ev.id, 'demo', {}, engine);
    if (outcome.status !== 'done') throw new Error(outcome.finding.message);
    const result = outcome.analysis.result;
    const rel = result.reliability!;
    const html = renderReportHtml(await buildReportModel(t.db, kase.id));
    const s = reliability(html);
    const pct = (x: number) => `${Math.round(x * 100)} %`;
    expect(s).toContain('<h4>Reliability of this estimate</h4>');
    expect(s).toContain(`On held-out adapters of this reference set, the method named the exact size ${pct(rel.accuracy)} of the time and was within one size ${pct(rel.withinOne)} of the time; mean absolute error ${rel.mae.toFixed(1)} images`);
    expect(s).toContain('10 splits by name, 8 of 10 names as references and the rest held out, seed 42, best mode');
    expect(s).toContain(`The 90 % interval held the true size of ${pct(rel.intervalCoverage!)} of the held-out adapters`);
    // the heat map: a header of the six sizes, each row's counts (2 held-out names × 10 splits = 20 per size)
    expect(s).toContain('<table class="grid heat"><thead><tr><th>true \\ named</th><th>1</th><th>2</th><th>3</th><th>4</th><th>5</th><th>6</th><th>exact</th></tr></thead>');
    rel.confusion.counts.forEach((row, i) => {
      expect(row.reduce((a, b) => a + b, 0)).toBe(20);
      const cells = [...s.matchAll(new RegExp(`<tr><th>${i + 1}</th>(.*?)</tr>`, 'g'))][0][1];
      expect([...cells.matchAll(/>(\d+)<\/td>/g)].map((m) => Number(m[1]))).toEqual(row);
      expect(cells).toMatch(/style="background:hsl\(/);
    });
    expect(s).toContain(`Opinion: <strong>${result.opinion!.grade}</strong>`);
    for (const b of result.opinion!.because) expect(s).toContain(b.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;'));
    // the summary never shows a bare "—" for the interval
    const iv = result.interval as { low: number; high: number; coverage: number };
    expect(html).toContain(`<td>${iv.low}–${iv.high} (90 % nominal, ${pct(iv.coverage)} measured)</td>`);
    expect(html).toContain(`on held-out adapters of this reference set it held the true size ${pct(iv.coverage)} of the time`);

    const text = await keepPage(html, 'Reliability of this estimate', 'reliability-section');
    expect(text).toContain(`the method named the exact size ${pct(rel.accuracy)} of the time`);
    expect(text).toContain(`Opinion: ${result.opinion!.grade.toUpperCase()}`);
  }, 180_000);

  it('prints "Compared despite" with the justification beside the estimate of an overridden analysis, and keeps a page image', async () => {
    const model = makeModel('estimated');
    const res = model.results[0].result as AnalysisResult;
    res.override = { justification: 'The file is a kohya conversion of a diffusers adapter <b>trained</b> with the reference recipe.', reasonsOverridden: ['The training tool differs: layout of kohya\'s sd-scripts, no training metadata (possibly converted).'] };
    const html = renderReportHtml(model);
    const estimateRow = html.slice(html.indexOf('<tr><th>Estimate</th>'), html.indexOf('<tr><th>Interval</th>'));
    expect(estimateRow).toContain('<tr class="override"><th>Compared despite</th><td><p>Compared despite: The training tool differs: layout of kohya&#39;s sd-scripts, no training metadata (possibly converted).</p>');
    expect(estimateRow).toContain('<p>Examiner\'s justification: <q>The file is a kohya conversion of a diffusers adapter &lt;b&gt;trained&lt;/b&gt; with the reference recipe.</q></p>');
    const text = await keepPage(html, 'Compared despite', 'reliability-override');
    expect(text).toContain('Examiner\'s justification: “The file is a kohya conversion of a diffusers adapter <b>trained</b>');
  }, 120_000);

  it('certifies the interval in the manifest as manifests always have (coverage = the nominal level), for old and new results alike', () => {
    const pdf = { fileName: 'r.pdf', size: 1, sha256: 'a'.repeat(64), pages: 1 };
    const signer = { subject: 'Ana Examiner', serial: '01', sha256Fingerprint: 'b'.repeat(64) } as Parameters<typeof buildManifest>[2];
    const legacy = makeModel('both');
    // what a report signed before issue 18 certified for the same stored row: verification compares the two
    expect(buildManifest(legacy, pdf, signer).results.map((r) => r.interval)).toEqual([{ low: 5, high: 20, coverage: 0.9 }, null]);
    const today = makeModel('estimated');
    (today.results[0].result as AnalysisResult).interval = { low: 5, high: 20, nominal: 0.9, coverage: 0.86, method: 'm' };
    expect(buildManifest(today, pdf, signer).results[0].interval).toEqual({ low: 5, high: 20, coverage: 0.9 });
    (today.results[0].result as AnalysisResult).interval = { reason: 'faithful mode' };
    expect(buildManifest(today, pdf, signer).results[0].interval).toBeNull();
  });

  it('still renders an analysis recorded before issue 18 (old interval, no reliability), saying what it lacks', () => {
    const html = renderReportHtml(makeModel('both'));
    // the fixture's result holds the old shape {low, high, coverage (nominal), method}
    expect(html).toContain('<td>5–20 (90 % nominal, coverage not measured)</td>');
    expect(html).toContain('5 – 20 images at 90 % nominal coverage; its coverage on this set was not measured');
    expect(reliability(html)).toContain('No error rate is stated: this analysis was recorded before the method&#39;s error was measured on each reference set, so none is stated with it.');
  });
});
