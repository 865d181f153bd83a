// Poisoned weights get no number, whichever host asks. Adapters written with the project's own
// safetensors writer against a small labelled reference set: one with a NaN weight in one module, one
// with +Inf, one with finite float32 weights of 1e30 (features beyond what single precision can square),
// one with finite float64 weights of 1e200 (Gram products that overflow float64 itself). Each is
// analysed by dsire directly, by `lora-audit analyze --json` and by `lora-audit case analyze --json`,
// and each gets the same refusal: not applicable, no estimate, a reason naming the module and feature.
// A reference set that stores such an adapter (the labelled-folder import does: its weights are
// finite) is refused too, so it can never be a neighbour.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { analyze } from '../../../main/dsire/analyze.ts';
import { NO_INTERVAL } from '../../../main/dsire/conformal.ts';
import { describeAdapter } from '../../../main/dsire/describe.ts';
import type { AnalysisResult } from '../../../main/dsire/types.ts';
import { extractFeatures } from '../../../main/features/extract.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { cliJson, tempDir } from '../cases/helpers.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';

const SIZES = [1, 10, 100];
const layout = sd1Modules(16);
const RANK = 4;

/** A diffusers-LoRA file whose update shrinks as the training set grows; `poison` edits the factors. */
function adapterFile(path: string, size: number, seed: number, poison: (m: ModuleWeights[]) => void = () => {}, dtype: 'F32' | 'F64' = 'F32'): void {
  const modules = randomAdapter(layout, RANK, seed);
  for (const m of modules) m.b = m.b.map((v) => v / Math.sqrt(size));
  poison(modules);
  writeFileSync(path, encodeSafetensors(modules.flatMap((m) => [
    { key: `${m.id}.lora.down.weight`, dtype, shape: [m.rank, m.inFeatures], data: m.a },
    { key: `${m.id}.lora.up.weight`, dtype, shape: [m.outFeatures, m.rank], data: m.b },
  ])));
}

const scaled = (i: number, by: number) => (ms: ModuleWeights[]) => {
  ms[i].a = ms[i].a.map((v) => v * by);
  ms[i].b = ms[i].b.map((v) => v * by);
};

/** Each poisoned file: how it is poisoned, and what its refusal must say. */
const POISONED = [
  { name: 'nan-in-A', module: layout[5].id, poison: (ms: ModuleWeights[]) => { ms[5].a[3] = Number.NaN; },
    says: [/not finite numbers in 1 module/, /σ\(A\) is NaN/, /σ\(ΔW\) is NaN/, /from factor A\)/] },
  { name: 'inf-in-B', module: layout[7].id, poison: (ms: ModuleWeights[]) => { ms[7].b[2] = Infinity; },
    says: [/not finite numbers in 1 module/, /σ\(B\) is NaN/, /σ\(ΔW\) is NaN/, /from factor B\)/] },
  { name: 'f32-1e30', module: layout[9].id, poison: scaled(9, 1e30),
    says: [/exceed 1\.8e\+19, whose square overflows single precision, in 1 module/, /\(σ\(A\) reaches 1\.5e\+30, σ\(B\) reaches 1\.6e\+27, σ\(ΔW\) reaches 1\.9e\+57; from factors A and B\)/] },
  { name: 'f64-1e200', module: layout[11].id, poison: scaled(11, 1e200), dtype: 'F64' as const,
    says: [/not finite numbers in 1 module/, /σ\(A\) is NaN/, /σ\(B\) is NaN/, /from factors A and B\)/] },
];

let t: ReturnType<typeof tempDir>;
let engine: FeatureEngine;
let dbPath: string;
let caseId: string;
const files: Record<string, string> = {};

beforeAll(async () => {
  t = tempDir('lora-audit-nonfinite-');
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
  // The same set plus one reference whose weights are finite float32 but of magnitude 1e30.
  const poisonedRefDir = join(t.dir, 'reference-poisoned');
  mkdirSync(poisonedRefDir);
  for (const line of labels.slice(1)) {
    const [file, name, size] = line.split(',');
    adapterFile(join(poisonedRefDir, file), Number(size), Number(name) * 1000 + Number(size));
  }
  adapterFile(join(poisonedRefDir, 'n4-s10.safetensors'), 10, 4010, scaled(2, 1e30));
  writeFileSync(join(poisonedRefDir, 'labels.csv'), [...labels, 'n4-s10.safetensors,4,10'].join('\n') + '\n');

  const evidence = join(t.dir, 'evidence');
  mkdirSync(evidence);
  files.clean = join(evidence, 'clean.safetensors');
  adapterFile(files.clean, 10, 99_010);
  for (const p of POISONED) {
    files[p.name] = join(evidence, `${p.name}.safetensors`);
    adapterFile(files[p.name], 10, 99_010, p.poison, p.dtype);
  }

  engine = await createFeatureEngine({ backend: 'cpu' });
  dbPath = join(t.dir, 'cases.sqlite');
  const db = await openDatabase(dbPath);
  try {
    expect((await importReference(db, { name: 'mini', paths: [refDir], engine })).errors).toEqual([]);
    expect((await importReference(db, { name: 'mini-poisoned', paths: [poisonedRefDir], engine })).errors).toEqual([]);
    caseId = (await createCase(db, { title: 'Poisoned weights', examiner: 'E' })).id;
    for (const p of POISONED) await addEvidence(db, caseId, files[p.name]);
  } finally {
    await db.close();
  }
}, 120_000);

afterAll(() => {
  engine?.dispose();
  t?.cleanup();
});

/** dsire itself, on the features the engine computes from the file. */
async function analyzeDirect(file: string, setName: string): Promise<AnalysisResult> {
  const db = await openDatabase(dbPath);
  const adapter = await openAdapter(file);
  try {
    const ref = await loadReferenceSet(db, setName);
    const features = await extractFeatures(adapter, engine);
    return analyze({ file, sha256: adapter.identity.sha256, descriptor: describeAdapter(adapter), features: features.modules, backend: features.backend }, ref, { mode: 'best' });
  } finally {
    await adapter.source.close();
    await db.close();
  }
}

function expectRefused(result: Pick<AnalysisResult, 'applicable' | 'estimate' | 'votes' | 'nearest' | 'interval' | 'reasons'>, p: (typeof POISONED)[number]): void {
  expect(result.applicable).toBe(false);
  expect(result.estimate).toBeNull();
  expect(result.votes).toEqual([]);
  expect(result.nearest).toEqual([]);
  expect(result.interval).toEqual({ reason: NO_INTERVAL.refused });
  expect(result.reasons).toHaveLength(1);
  expect(result.reasons[0]).toContain(p.module);
  for (const s of p.says) expect(result.reasons[0]).toMatch(s);
  expect(result.reasons[0]).toMatch(/no estimate is given/);
}

describe('poisoned weights get no number', () => {
  it('the fixture is sound: the same file unpoisoned gets an estimate', async () => {
    const clean = await analyzeDirect(files.clean, 'mini');
    expect(clean.applicable).toBe(true);
    expect(SIZES).toContain(clean.estimate);
  }, 60_000);

  it('dsire analyze: not applicable, no estimate, the module and the feature named', async () => {
    for (const p of POISONED) expectRefused(await analyzeDirect(files[p.name], 'mini'), p);
  }, 60_000);

  it('lora-audit analyze --json: the same refusals as dsire, and a failing exit code', async () => {
    const r = await cliJson<AnalysisResult[]>(['analyze', ...POISONED.map((p) => files[p.name]), '--reference', 'mini', '--db', dbPath, '--backend', 'cpu']);
    expect(r.code).toBe(1);
    expect(r.data).toHaveLength(POISONED.length);
    for (const [i, p] of POISONED.entries()) {
      expectRefused(r.data[i], p);
      expect(r.data[i].reasons).toEqual((await analyzeDirect(files[p.name], 'mini')).reasons);
    }
  }, 60_000);

  it('lora-audit case analyze --json: the same refusals recorded, and audited without an estimate', async () => {
    const r = await cliJson<{ outcomes: { status: string; analysis: { result: AnalysisResult } }[] }>(
      ['case', 'analyze', caseId, '--reference', 'mini', '--backend', 'cpu', '--db', dbPath]);
    expect(r.data.outcomes).toHaveLength(POISONED.length);
    // evidence is listed in import order
    for (const [i, p] of POISONED.entries()) {
      expect(r.data.outcomes[i].status).toBe('done');
      expectRefused(r.data.outcomes[i].analysis.result, p);
      expect(r.data.outcomes[i].analysis.result.reasons).toEqual((await analyzeDirect(files[p.name], 'mini')).reasons);
    }
    const db = await openDatabase(dbPath);
    try {
      const audited = await db.all<{ details: string }>("SELECT details FROM audit_log WHERE case_id = ? AND action = 'analysis'", [caseId]);
      expect(audited.map((a) => JSON.parse(a.details))).toEqual(POISONED.map(() => expect.objectContaining({ applicable: false, estimate: null })));
    } finally {
      await db.close();
    }
  }, 60_000);

  it('a reference set that stored an adapter of 1e30 weights is refused, naming it: never a neighbour', async () => {
    const result = await analyzeDirect(files.clean, 'mini-poisoned');
    expect(result.applicable).toBe(false);
    expect(result.estimate).toBeNull();
    expect(result.nearest).toEqual([]);
    expect(result.reasons).toHaveLength(1);
    expect(result.reasons[0]).toMatch(/^1 of the 10 adapters of reference set "mini-poisoned" hold features that are not finite numbers or exceed 1\.8e\+19/);
    expect(result.reasons[0]).toContain(`"4" (size 10, n4-s10.safetensors): module ${layout[2].id} (σ(A) reaches`);
    expect(result.reasons[0]).toMatch(/re-import it from its source/);
  }, 60_000);
});
