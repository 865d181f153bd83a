// A small --trainer builtin study bundle written by hand from the demo's kohya evidence recipe: the
// plan.json fields study run/import/status read, built-in subjects' PNGs, few steps (seconds to train).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { sha256Hex } from '../../../main/common/hashing.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { deriveRecipe } from '../../../main/studies/recipe.ts';
import { builtinSubjects } from '../../../main/studies/images.ts';
import { PLAN_FORMAT, PLAN_VERSION, type Plan, type PlanRun } from '../../../main/studies/types.ts';

export const ROOT = join(import.meta.dirname, '..', '..', '..');
export const KOHYA_EVIDENCE = join(ROOT, 'assets', 'demo', 'evidence', 'kohya', 'copper_stripes-3img.safetensors');
export const BASE_MODEL_DIR = join(ROOT, 'assets', 'base-model');

/** A temporary folder and a cpu feature engine for one test file's study imports, removed after it. */
export function importSuite(prefix: string): { readonly tmp: string; readonly engine: FeatureEngine } {
  const suite = { tmp: mkdtempSync(join(tmpdir(), prefix)) } as { tmp: string; engine: FeatureEngine };
  beforeAll(async () => { suite.engine = await createFeatureEngine({ backend: 'cpu' }); });
  afterAll(() => { suite.engine?.dispose(); rmSync(suite.tmp, { recursive: true, force: true }); });
  return suite;
}

export async function writeBundle(dir: string, opts: { subjects: number; sizes: number[]; steps: number; seed?: number }): Promise<Plan> {
  const adapter = await openAdapter(KOHYA_EVIDENCE);
  const { recipe, assumed } = deriveRecipe(adapter, { trainer: 'builtin' });
  await adapter.source.close();
  recipe.maxTrainSteps = { value: opts.steps, source: 'examiner: --set maxTrainSteps' };
  const seed = opts.seed ?? 42;
  const subjects = builtinSubjects(seed, opts.subjects, Math.max(...opts.sizes));
  const runs: PlanRun[] = [];
  mkdirSync(dir, { recursive: true });
  for (const s of subjects) {
    const paths = s.images.map((im, i) => {
      const rel = `images/${s.name}/${String(i).padStart(3, '0')}.png`;
      mkdirSync(join(dir, 'images', s.name), { recursive: true });
      writeFileSync(join(dir, rel), im.png!);
      return { path: rel, sha256: sha256Hex(im.png!), source: im.name, generated: im.generated };
    });
    for (const size of opts.sizes) {
      const runId = `${s.name}-n${size}`;
      runs.push({
        runId, subject: s.name, size, seed: recipe.seed.value ?? seed, images: paths.slice(0, size),
        output: `runs/${runId}/output/${runId}.safetensors`, dir: `runs/${runId}`,
        command: ['lora-audit', 'study', 'run', '.', '--only', runId],
      });
    }
  }
  const plan: Plan = {
    format: PLAN_FORMAT, version: PLAN_VERSION, studyId: 'study-0123456789abcdef', createdAt: '2026-12-03T00:00:00.000Z', toolVersion: 'test',
    trainer: 'builtin', evidence: { file: KOHYA_EVIDENCE, sha256: adapter.identity.sha256, size: adapter.identity.size, family: 'kohya' },
    recipe, assumed, sizes: opts.sizes, seed, images: 'builtin', subjects: subjects.map((s) => ({ name: s.name, order: s.images.map((i) => i.name) })),
    runs, files: [], warnings: [],
  };
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(plan, null, 2));
  return plan;
}
