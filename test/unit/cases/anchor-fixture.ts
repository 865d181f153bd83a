// For the anchor tests: a case with real analyses and a signed report, built once and copied per test.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PDFDocument } from 'pdf-lib';
import { afterAll, beforeAll, expect } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { runAnalysis } from '../../../main/cases/analyses.ts';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { createCaseReport } from '../../../main/reports/report.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';
import { makePki, type TestPki } from '../reports/pki.ts';

const SIZES = [1, 10, 100];
const layout = sd1Modules(16);

/** A diffusers-LoRA file whose update shrinks as the training set grows (the effect DSiRe reads). */
function adapterFile(path: string, size: number, seed: number, rank = 4): void {
  const modules = randomAdapter(layout, rank, seed);
  const shrink = 1 / Math.sqrt(size);
  writeFileSync(path, encodeSafetensors(modules.flatMap((m) => [
    { key: `${m.id}.lora.down.weight`, dtype: 'F32' as const, shape: [m.rank, m.inFeatures], data: m.a },
    { key: `${m.id}.lora.up.weight`, dtype: 'F32' as const, shape: [m.outFeatures, m.rank], data: Array.from(m.b, (v) => v * shrink) },
  ])));
}

/** Chromium is not needed to test what is recorded: a blank page, signed for real. */
export async function blankPdf(): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  doc.addPage([595, 842]);
  return doc.save();
}

export interface ReportedCase {
  /** Holds cases.sqlite, its journal and its store: copy it whole (copyCase) before changing anything. */
  dir: string;
  pki: TestPki;
  caseId: string;
  reportId: string;
  /** Estimated, then not applicable (rank 8 against a rank-4 reference set). */
  evidenceIds: [string, string];
  cleanup(): void;
}

/** One reported case for the enclosing suite: built in beforeAll with a cpu feature engine (kept for tests
 *  that analyse again), removed in afterAll. Read its fields inside tests, once beforeAll has run. */
export function reportedCaseForSuite(): { readonly built: ReportedCase; readonly engine: FeatureEngine } {
  const suite = {} as { built: ReportedCase; engine: FeatureEngine };
  beforeAll(async () => {
    suite.engine = await createFeatureEngine({ backend: 'cpu' });
    suite.built = await buildReportedCase(suite.engine);
  }, 120_000);
  afterAll(() => {
    suite.engine?.dispose();
    suite.built?.cleanup();
  });
  return suite;
}

export async function buildReportedCase(engine: FeatureEngine): Promise<ReportedCase> {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-anchor-'));
  const pki = makePki();
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
  const db = await openDatabase(join(dir, 'cases.sqlite'));
  try {
    expect((await importReference(db, { name: 'mini', paths: [refDir], engine })).errors).toEqual([]);
    const caseId = (await createCase(db, { title: 'Anchored case', examiner: 'Ana Examiner' })).id;
    adapterFile(join(dir, 'query-size10.safetensors'), 10, 99_010);
    adapterFile(join(dir, 'query-rank8.safetensors'), 10, 99_020, 8);
    const ids: string[] = [];
    for (const file of ['query-size10.safetensors', 'query-rank8.safetensors']) {
      const ev = await addEvidence(db, caseId, join(dir, file));
      const outcome = await runAnalysis(db, caseId, ev.id, 'mini', { mode: 'faithful' }, engine);
      expect(outcome.status).toBe('done');
      ids.push(ev.id);
    }
    const issued = await createCaseReport(db, caseId, {
      out: join(dir, 'out', 'report.pdf'), p12: readFileSync(pki.p12), passphrase: pki.passphrase, renderer: blankPdf,
    });
    return { dir, pki, caseId, reportId: issued.reportId, evidenceIds: [ids[0], ids[1]], cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
      rmSync(pki.dir, { recursive: true, force: true });
    } };
  } finally {
    await db.close();
  }
}

/** A private copy of the built case (database, journal, store), opened. */
export async function copyCase(built: ReportedCase): Promise<{ db: Database; dbPath: string; dir: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-anchor-copy-'));
  for (const name of ['cases.sqlite', 'cases.sqlite.audit-journal', 'cases']) cpSync(join(built.dir, name), join(dir, name), { recursive: true });
  const dbPath = join(dir, 'cases.sqlite');
  const db = await openDatabase(dbPath);
  return { db, dbPath, dir, cleanup: async () => { await db.close().catch(() => undefined); rmSync(dir, { recursive: true, force: true }); } };
}
