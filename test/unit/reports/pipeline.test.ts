// A report of a real analysis: a small labelled reference set imported through the reference module,
// an evidence file analysed by the cases service (intake → features → DSiRe), then the report with the
// spectra chart recomputed from the re-hashed evidence copy (the classifier does not record them).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { buildReportModel } from '../../../main/reports/model.ts';
import { chromiumRenderer } from '../../../main/reports/render.ts';
import { createCaseReport } from '../../../main/reports/report.ts';
import { FONTS_URL } from '../../../main/reports/template.ts';
import { verifyReport } from '../../../main/reports/verify.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';
import { makePki, pdfsig, pdftotext, type TestPki } from './pki.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SIZES = [1, 10, 100];
const layout = sd1Modules(16);

/** A diffusers-LoRA file whose update shrinks as the training set grows (the effect DSiRe reads). */
function adapterFile(path: string, size: number, seed: number): void {
  const modules = randomAdapter(layout, 4, seed);
  const shrink = 1 / Math.sqrt(size);
  writeFileSync(path, encodeSafetensors(modules.flatMap((m) => [
    { key: `${m.id}.lora.down.weight`, dtype: 'F32' as const, shape: [m.rank, m.inFeatures], data: m.a },
    { key: `${m.id}.lora.up.weight`, dtype: 'F32' as const, shape: [m.outFeatures, m.rank], data: Array.from(m.b, (v) => v * shrink) },
  ])));
}

let dir: string;
let engine: FeatureEngine;
let pki: TestPki;
let dbPath: string;
let caseId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-audit-report-pipeline-'));
  pki = makePki();
  const refDir = join(dir, 'reference');
  mkdirSync(refDir);
  const labels = ['file,name,size'];
  for (const name of ['1', '2', '3']) {
    for (const size of SIZES) {
      const file = `n${name}-s${size}.safetensors`;
      adapterFile(join(refDir, file), size, Number(name) * 1000 + size);
      labels.push(`${file},${name},${size}`);
    }
  }
  writeFileSync(join(refDir, 'labels.csv'), labels.join('\n') + '\n');
  engine = await createFeatureEngine({ backend: 'cpu' });
  dbPath = join(dir, 'cases.sqlite');
  const db = await openDatabase(dbPath);
  try {
    const imported = await importReference(db, { name: 'mini', paths: [refDir], engine });
    expect(imported.errors).toEqual([]);
    caseId = (await createCase(db, { title: 'Pipeline case', examiner: 'Ana Examiner' })).id;
    const query = join(dir, 'query-size10.safetensors');
    adapterFile(query, 10, 99_010);
    const ev = await addEvidence(db, caseId, query);
    const outcome = await runAnalysis(db, caseId, ev.id, 'mini', { mode: 'faithful' }, engine);
    expect(outcome.status).toBe('done');
  } finally {
    await db.close();
  }
}, 120_000);

afterAll(() => {
  engine?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

describe('a report of a real analysis', () => {
  it('carries the estimate, the provenance and spectra recomputed from the evidence', async () => {
    const db = await openDatabase(dbPath);
    const renderer = await chromiumRenderer();
    try {
      const plain = await buildReportModel(db, caseId);
      const res = plain.results[0].result!;
      expect(res.applicable).toBe(true);
      expect(res.estimate).not.toBeNull();
      expect(plain.references[0].name).toBe('mini');

      const model = await buildReportModel(db, caseId, { engine });
      const spectra = model.results[0].result!.spectra!;
      expect(spectra.modules.length).toBeGreaterThan(0);
      expect(spectra.bySize.map((b) => b.size)).toEqual(SIZES);
      // the update shrinks with size: the mean σ₁(ΔW) of size 1 lies above that of size 100
      expect(spectra.bySize[0].mean[0]).toBeGreaterThan(spectra.bySize[2].mean[0]);

      const out = join(dir, 'pipeline.pdf');
      const issued = await createCaseReport(db, caseId, {
        out, p12: readFileSync(pki.p12), passphrase: pki.passphrase, renderer: renderer.render, fontBase: FONTS_URL, engine,
      });
      expect(pdfsig(out)).toContain('Signature is Valid');
      const text = pdftotext(out);
      expect(text).toContain(`${res.estimate} images`);
      expect(text).toContain('σ₁(ΔW) per module');
      expect(text).not.toContain('were not recorded');
      const v = await verifyReport(out, { trust: [pki.caPem], db });
      expect(v.problems).toEqual([]);
      expect(v.manifest?.evidenceMatchesCase).toBe(true);

      const results = join(here, '../../../test-results/reports');
      mkdirSync(results, { recursive: true });
      // every page of a real report, for a person to look at
      execFileSync('pdftoppm', ['-png', '-r', '70', out, join(dir, 'pipeline-page')]);
      const pngs = readdirSync(dir).filter((f) => f.startsWith('pipeline-page') && f.endsWith('.png')).sort();
      expect(pngs).toHaveLength(issued.pages);
      pngs.forEach((png, i) => copyFileSync(join(dir, png), join(results, `report-pipeline-p${i + 1}.png`)));
      expect(issued.pages).toBeGreaterThanOrEqual(2);
    } finally {
      await renderer.close();
      await db.close();
    }
  }, 120_000);
});
