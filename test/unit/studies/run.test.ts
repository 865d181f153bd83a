// study run (built-in trainer) on a hand-written bundle from the demo kohya evidence's recipe: kohya
// files with the recipe's rank, alpha and ss_* metadata, the run id stamped; done.json makes it
// resumable; a changed output is trained again; cancel leaves nothing half-written; a bundle that
// points outside itself or whose images changed is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, cpSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAdapter, loadModuleWeights } from '../../../main/intake/open.ts';
import { runStudy, builtinSettings, subjectClass } from '../../../main/studies/run.ts';
import type { Plan } from '../../../main/studies/types.ts';
import { BASE_MODEL_DIR, writeBundle } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-run-'));
const bundle = join(tmp, 'bundle');
let plan: Plan;
beforeAll(async () => { plan = await writeBundle(bundle, { subjects: 2, sizes: [1, 2], steps: 3 }); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const partials = (dir: string): string[] => readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.partial'));

describe('study run (builtin)', () => {
  it('follows the kohya recipe: kaiming-uniform A, scale alpha/r, rank 4, the demo lr; deviations stated', () => {
    const s = builtinSettings(plan.recipe);
    expect(s).toMatchObject({ format: 'kohya', rank: 4, alpha: 4, scale: 1, initA: 'kaiming-uniform', learningRate: 0.003, steps: 3, batchSize: 2, repeats: 10 });
    expect(subjectClass('copper_stripes')).toBe('stripes');
    expect(() => subjectClass('my_cat')).toThrow(/classes/);
    expect(() => builtinSettings({ ...plan.recipe, baseModel: { value: 'runwayml/stable-diffusion-v1-5', source: 'x' } })).toThrow(/fine-tunes only/);
  });

  it('is cancelled at a step with nothing written', async () => {
    const ctl = new AbortController();
    await expect(runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 2, signal: ctl.signal,
      onProgress: (p) => { if (p.phase === 'training') ctl.abort(); } })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(plan.runs.some((r) => existsSync(join(bundle, r.output)))).toBe(false);
    expect(partials(bundle)).toEqual([]);
  });

  it('trains every run into a kohya file stamped with its run id, then skips them on a second call', async () => {
    const seen: string[] = [];
    const r = await runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 2, onProgress: (p) => seen.push(p.phase) });
    expect(r.trained.map((t) => t.runId).sort()).toEqual(plan.runs.map((x) => x.runId).sort());
    expect(seen).toContain('training');
    expect(seen.at(-1)).toBe('done');
    for (const run of plan.runs) {
      const a = await openAdapter(join(bundle, run.output));
      try {
        expect(a.family).toBe('kohya');
        expect(a.ranks).toEqual([4]);
        expect(a.modules).toHaveLength(128);
        expect(a.modules.every((m) => m.scale === 1 && m.alpha === 4)).toBe(true);
        expect(a.metadata.kohya?.realImageCount).toBe(run.size);
        const md = a.metadata.raw;
        expect(md.lora_auditor_run).toBe(run.runId);
        expect(md.lora_auditor_study).toBe(plan.studyId);
        expect(md.ss_training_comment).toBe(`lora-audit study ${plan.studyId} run ${run.runId}`);
        expect(md.ss_network_dim).toBe('4');
        expect(md.ss_learning_rate).toBe('0.003');
        const w = await loadModuleWeights(a);
        expect(w.every((m) => m.a.every(Number.isFinite) && m.b.some((v) => v !== 0))).toBe(true);
      } finally { await a.source.close(); }
      const done = JSON.parse(readFileSync(join(bundle, run.dir, 'done.json'), 'utf8'));
      expect(done.sha256).toBe(r.trained.find((t) => t.runId === run.runId)!.sha256);
    }
    const again = await runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 2 });
    expect(again.trained).toEqual([]);
    expect(again.skipped.map((s) => s.runId).sort()).toEqual(plan.runs.map((x) => x.runId).sort());
  });

  it('trains again a run whose output changed, to the same bytes (deterministic, whatever --jobs)', async () => {
    const run = plan.runs[1];
    const before = readFileSync(join(bundle, run.output));
    writeFileSync(join(bundle, run.output), Buffer.concat([before, Buffer.from('x')]));
    const r = await runStudy(bundle, { baseModelDir: BASE_MODEL_DIR, jobs: 1 });
    expect(r.trained.map((t) => t.runId)).toEqual([run.runId]);
    expect(readFileSync(join(bundle, run.output)).equals(before)).toBe(true);
  });

  it('refuses a bundle whose image changed, or whose plan points outside it or through a symlink', async () => {
    const b2 = join(tmp, 'b2');
    cpSync(bundle, b2, { recursive: true });
    rmSync(join(b2, plan.runs[0].dir, 'done.json'));
    const img = join(b2, plan.runs[0].images[0].path);
    const bytes = readFileSync(img); bytes[bytes.length - 20] ^= 1; writeFileSync(img, bytes);
    await expect(runStudy(b2, { baseModelDir: BASE_MODEL_DIR, only: [plan.runs[0].runId] })).rejects.toMatchObject({ code: 'HASH_MISMATCH' });

    const p3 = structuredClone(plan);
    p3.runs[0].output = '../outside.safetensors';
    writeFileSync(join(b2, 'plan.json'), JSON.stringify(p3));
    await expect(runStudy(b2, { baseModelDir: BASE_MODEL_DIR })).rejects.toMatchObject({ code: 'BAD_CONFIG' });

    const b3 = join(tmp, 'b3');
    cpSync(bundle, b3, { recursive: true });
    rmSync(join(b3, plan.runs[0].dir, 'done.json'));
    const target = join(b3, plan.runs[0].images[0].path);
    rmSync(target);
    symlinkSync('/etc/passwd', target);
    await expect(runStudy(b3, { baseModelDir: BASE_MODEL_DIR, only: [plan.runs[0].runId] })).rejects.toMatchObject({ details: { reason: 'UNSAFE_PATH' } });
  });
});
