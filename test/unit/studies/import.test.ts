// study status and study import on a small built-in study: outputs matched by path and by stamped run
// id, missing / mismatched / unplanned ones named, a partial study imported with its coverage, and the
// same import run again after the rest finished completes the set (provenance refreshed).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { getReferenceSetSummary, loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { runStudy } from '../../../main/studies/run.ts';
import { importStudy, studyStatus } from '../../../main/studies/import.ts';
import type { Plan } from '../../../main/studies/types.ts';
import { BASE_MODEL_DIR, ROOT, writeBundle } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-import-'));
const bundle = join(tmp, 'bundle');
let plan: Plan;
let engine: FeatureEngine;
beforeAll(async () => {
  plan = await writeBundle(bundle, { subjects: 2, sizes: [1, 2], steps: 2 });
  engine = await createFeatureEngine({ backend: 'cpu' });
  await runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 3, only: plan.runs.slice(0, 3).map((r) => r.runId) });
});
afterAll(() => { engine?.dispose(); rmSync(tmp, { recursive: true, force: true }); });

describe('study status and import', () => {
  it('status: three runs trained, one missing, coverage by size', async () => {
    const s = await studyStatus(bundle);
    expect(s.runs.map((r) => r.state)).toEqual(['trained', 'trained', 'trained', 'missing']);
    expect(s.coverage).toMatchObject({ planned: 4, done: 3, missing: [plan.runs[3].runId], sizes: [{ size: 1, planned: 2, done: 2 }, { size: 2, planned: 2, done: 1 }] });
    expect(s.complete).toBe(false);
  });

  it('imports a partial study: by path and by run id; missing, mismatched and unplanned named by run id', async () => {
    const [r0, r1, r2, r3] = plan.runs;
    // r2's output moved elsewhere in the bundle (found by its stamped run id); r1's replaced by r0's file
    // (stamped as another run); a diffusers file nobody planned.
    mkdirSync(join(bundle, 'elsewhere'));
    renameSync(join(bundle, r2.output), join(bundle, 'elsewhere', 'moved.safetensors'));
    copyFileSync(join(bundle, r1.output), join(tmp, 'r1.keep'));
    copyFileSync(join(bundle, r0.output), join(bundle, r1.output));
    copyFileSync(join(ROOT, 'assets/demo/evidence/diffusers/clay_ring-2img/pytorch_lora_weights.safetensors'), join(bundle, 'runs', 'stray.safetensors'));
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const r = await importStudy(db, bundle, { name: 'study', engine });
      expect(r.imported.map((x) => [x.runId, x.matchedBy])).toEqual([[r0.runId, 'path'], [r2.runId, 'run id']]);
      expect(r.missing).toEqual([r3.runId]);
      expect(r.mismatched).toEqual([{ runId: r1.runId, output: r1.output, reason: `its metadata says it is run ${r0.runId}` }]);
      expect(r.unplanned).toEqual([{ output: 'runs/stray.safetensors', reason: 'no planned run writes here and it carries no run id' }]);
      expect(r.complete).toBe(false);
      expect(r.coverage).toMatchObject({ planned: 4, imported: 2, missing: [r1.runId, r3.runId], rejected: [r1.runId] });
      const set = await getReferenceSetSummary(db, 'study');
      expect(set.adapterCount).toBe(2);
      expect(set.config).toMatchObject({ family: 'kohya', rank: 4, scale: 1 });
      expect(set.provenance.source).toBe('study');
      const st = set.provenance.study!;
      expect(st.studyId).toBe(plan.studyId);
      expect(st.planSha256).toMatch(/^[0-9a-f]{64}$/);
      expect(st.runs.map((x) => x.runId)).toEqual([r0.runId, r2.runId]);
      expect(st.runs[0].command).toEqual(r0.command);
      expect(st.runs[1].images).toEqual(r2.images.map((i) => ({ path: i.path, sha256: i.sha256 })));
      expect(st.recipe.learningRate).toEqual({ value: 0.003, source: 'metadata: ss_learning_rate' });
      expect(st.assumed).toContain('optimizer');
      expect(set.provenance.notes).toContain('2 of 4 planned runs');
    } finally { await db.close(); }
  });

  it('the same import after the rest finished completes the set, provenance refreshed', async () => {
    const [, r1] = plan.runs;
    copyFileSync(join(tmp, 'r1.keep'), join(bundle, r1.output));
    rmSync(join(bundle, 'runs', 'stray.safetensors'));
    await runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 1 });
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const r = await importStudy(db, bundle, { name: 'study', engine });
      expect(r.complete).toBe(true);
      expect(r.missing).toEqual([]);
      expect(r.reference.skipped).toHaveLength(2);
      const set = await loadReferenceSet(db, 'study');
      expect(set.adapters.map((a) => `${a.name}/${a.label}`).sort()).toEqual(plan.runs.map((x) => `${x.subject}/${x.size}`).sort());
      expect(set.provenance.study!.coverage).toMatchObject({ planned: 4, imported: 4, missing: [] });
    } finally { await db.close(); }
  });
});

describe('a hostile bundle', () => {
  it('an output that is a symlink is named by run id and not followed; an oversized plan.json is refused unread', async () => {
    const { symlinkSync, truncateSync, writeFileSync } = await import('node:fs');
    const b = join(tmp, 'hostile');
    const p = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 2 });
    await runStudy(b, { baseModelDir: BASE_MODEL_DIR, jobs: 2, only: [p.runs[0].runId] });
    mkdirSync(join(b, p.runs[1].dir, 'output'), { recursive: true });
    symlinkSync(join(bundle, plan.runs[0].output), join(b, p.runs[1].output));
    const db = await openDatabase(join(tmp, 'hostile.sqlite'));
    try {
      const r = await importStudy(db, b, { name: 'hostile', engine });
      expect(r.imported.map((x) => x.runId)).toEqual([p.runs[0].runId]);
      expect(r.mismatched).toEqual([{ runId: p.runs[1].runId, output: p.runs[1].output, reason: expect.stringContaining('symlink') }]);
    } finally { await db.close(); }
    const big = join(b, 'plan.json');
    writeFileSync(big, '{}');
    truncateSync(big, 65 * 1024 * 1024);
    await expect(studyStatus(b)).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
  });
});

describe('duplicated outputs', () => {
  it('two different files stamped as one run: named, neither imported; the other runs are', async () => {
    const { readFileSync, writeFileSync } = await import('node:fs');
    const b = join(tmp, 'dup');
    const p = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 2 });
    await runStudy(b, { baseModelDir: BASE_MODEL_DIR, jobs: 2 });
    const bytes = readFileSync(join(b, p.runs[0].output));
    bytes[bytes.length - 1] ^= 1;            // same header and stamp, other weights
    mkdirSync(join(b, 'copies'));
    writeFileSync(join(b, 'copies', 'again.safetensors'), bytes);
    const db = await openDatabase(join(tmp, 'dup.sqlite'));
    try {
      const r = await importStudy(db, b, { name: 'dup', engine });
      expect(r.duplicated).toEqual([{ runId: p.runs[0].runId, outputs: [p.runs[0].output, 'copies/again.safetensors'] }]);
      expect(r.imported.map((x) => x.runId)).toEqual([p.runs[1].runId]);
      expect(r.coverage.rejected).toEqual([p.runs[0].runId]);
    } finally { await db.close(); }
  });
});
