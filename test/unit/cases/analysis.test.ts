// Analyses inside a case: the real pipeline (intake → features → DSiRe) on a small labelled reference
// set written for the test, the refusal when the stored copy changed, and SIGKILL during analysis.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { listAnalyses, runAnalysis } from '../../../main/cases/analyses.ts';
import { listAudit, verifyAudit } from '../../../main/cases/audit.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';
import { haveRealAdapters, realAdapter } from '../../fixtures.ts';
import { cli, cliJson, node, rawSql, repoRoot, tempDir } from './helpers.ts';

const SIZES = [1, 10, 100];
const layout = sd1Modules(16);

/** A diffusers-LoRA file whose update shrinks as the training set grows, as DSiRe observed. */
function adapterFile(path: string, size: number, seed: number): void {
  const modules = randomAdapter(layout, 4, seed);
  const shrink = 1 / Math.sqrt(size);
  writeFileSync(path, encodeSafetensors(modules.flatMap((m) => [
    { key: `${m.id}.lora.down.weight`, dtype: 'F32' as const, shape: [m.rank, m.inFeatures], data: m.a },
    { key: `${m.id}.lora.up.weight`, dtype: 'F32' as const, shape: [m.outFeatures, m.rank], data: Array.from(m.b, (v) => v * shrink) },
  ])));
}

let t: ReturnType<typeof tempDir>;
let engine: FeatureEngine;
let dbPath: string;
let caseId: string;
let evidenceId: string;

beforeAll(async () => {
  t = tempDir();
  const refDir = join(t.dir, 'reference');
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
  dbPath = join(t.dir, 'base', 'cases.sqlite');
  const db = await openDatabase(dbPath);
  const report = await importReference(db, { name: 'mini', paths: [refDir], engine });
  expect(report.errors).toEqual([]);
  caseId = (await createCase(db, { title: 'Analysis', examiner: 'E' })).id;
  const query = join(t.dir, 'query.safetensors');
  adapterFile(query, 10, 99_010);
  evidenceId = (await addEvidence(db, caseId, query)).id;
  await db.close();
}, 120_000);

afterAll(() => {
  engine?.dispose();
  t.cleanup();
});

function copyOf(name: string): string {
  cpSync(join(t.dir, 'base'), join(t.dir, name), { recursive: true });
  return join(t.dir, name, 'cases.sqlite');
}

describe('analyses in a case', () => {
  it.skipIf(!haveRealAdapters)('records an adapter the set cannot judge (LyCORIS LoKr) with its reasons and no number, computing no features', async () => {
    const db = await openDatabase(copyOf('lokr'));
    try {
      const lokr = realAdapter('lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors');
      const item = await addEvidence(db, caseId, lokr);
      const outcome = await runAnalysis(db, caseId, item.id, 'mini', { mode: 'best' }, engine);
      expect(outcome.status).toBe('done');
      if (outcome.status !== 'done') return;
      expect(outcome.analysis.result.applicable).toBe(false);
      expect(outcome.analysis.result.estimate).toBeNull();
      expect(outcome.analysis.result.reasons.join(' ')).toMatch(/lokr/i);
      // kohya metadata states the real image count: shown as a claim, with where it comes from
      expect(outcome.analysis.result.metadataClaim).toMatchObject({ claimed: 130, source: expect.stringContaining('ss_dataset_dirs') });
    } finally {
      await db.close();
    }
  });

  it('stores the result with its reference provenance, versions and backend, and audits it', async () => {
    const db = await openDatabase(copyOf('run'));
    try {
      const outcome = await runAnalysis(db, caseId, evidenceId.slice(0, 8), 'mini', { mode: 'faithful' }, engine);
      expect(outcome.status).toBe('done');
      if (outcome.status !== 'done') return;
      const a = outcome.analysis;
      expect(a.result.applicable).toBe(true);
      expect(SIZES).toContain(a.result.estimate);
      expect(a).toMatchObject({ evidenceId, referenceSet: 'mini', mode: 'faithful', backend: 'cpu', appVersion: expect.stringMatching(/^\d+\.\d+\.\d+/) });
      expect(a.methodVersion).toBe(a.result.method.version);
      expect(a.referenceProvenance.source).toBe('labelled-folder');
      expect(a.result.sha256).toBe((await db.get<{ sha256: string }>('SELECT sha256 FROM evidence WHERE id = ?', [evidenceId]))!.sha256);
      expect(await listAnalyses(db, caseId)).toEqual([a]);
      expect((await listAudit(db, caseId)).at(-1)).toMatchObject({ action: 'analysis', details: { analysisId: a.id, estimate: a.result.estimate } });
      expect((await verifyAudit(db, caseId)).ok).toBe(true);
    } finally {
      await db.close();
    }
  });

  it('refuses to analyse a stored copy whose bytes changed: a finding and an audit entry, no result', async () => {
    const path = copyOf('changed');
    const db = await openDatabase(path);
    try {
      const stored = (await db.get<{ stored_path: string }>('SELECT stored_path FROM evidence WHERE id = ?', [evidenceId]))!.stored_path;
      const file = join(t.dir, 'changed', 'cases', stored);
      chmodSync(file, 0o644);
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] ^= 0x40;
      writeFileSync(file, bytes);
      const outcome = await runAnalysis(db, caseId, evidenceId, 'mini', { mode: 'faithful' }, engine);
      expect(outcome).toMatchObject({ status: 'refused', finding: { code: 'EVIDENCE_HASH_MISMATCH', message: expect.stringContaining('no longer matches') } });
      expect(await listAnalyses(db, caseId)).toEqual([]);
      expect((await listAudit(db, caseId)).at(-1)).toMatchObject({ action: 'analysis-refused', details: { evidenceId, code: 'EVIDENCE_HASH_MISMATCH' } });
    } finally {
      await db.close();
    }
  });

  it('runs through the CLI: case analyze prints the outcome per evidence item', async () => {
    const path = copyOf('cli');
    const r = await cliJson<{ outcomes: { status: string; evidenceId: string; analysis: { result: { estimate: number } } }[] }>(
      ['case', 'analyze', caseId, '--reference', 'mini', '--backend', 'cpu', '--db', path]);
    expect(r.code).toBe(0);
    expect(r.data.outcomes).toMatchObject([{ status: 'done', evidenceId }]);
    expect(SIZES).toContain(r.data.outcomes[0].analysis.result.estimate);
  });

  it('leaves a consistent case after SIGKILL during analysis (8 runs)', async () => {
    const path = copyOf('kill');
    let killed = 0;
    // one uninterrupted run sets the time scale for the kills, however loaded the machine is
    const args = ['case', 'analyze', caseId, '--reference', 'mini', '--backend', 'cpu', '--db', path, '--json'];
    const t0 = Date.now();
    expect((await cliJson(args.slice(0, -1))).code).toBe(0);
    const span = Date.now() - t0;
    for (let i = 0; i < 8; i++) {
      const child = spawn(node, [cli, ...args], { cwd: repoRoot, stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), Math.floor(span * (0.2 + Math.random() * 0.7)));
      const { code, signal } = await new Promise<{ code: number | null; signal: string | null }>((res) => child.on('close', (c, s) => res({ code: c, signal: s })));
      clearTimeout(timer);
      if (signal === 'SIGKILL') killed++;
      else expect(code).toBe(0);
      expect(await rawSql(path, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      const db = await openDatabase(path);
      try {
        expect((await verifyAudit(db, caseId)).problem).toBeUndefined();
        const rows = (await listAnalyses(db, caseId)).length;
        const audited = (await listAudit(db, caseId)).filter((e) => e.action === 'analysis').length;
        expect(rows).toBe(audited);
      } finally {
        await db.close();
      }
    }
    expect(killed).toBeGreaterThan(2);
    console.log(`analysis kill loop: ${killed}/8 killed`);
  }, 180_000);
});

