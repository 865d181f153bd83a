// Slow (minutes: 12 fine-tunes of 100 steps on the CPU): the whole issue-19 loop through the CLI, as the
// demo shows it. The demo's kohya evidence is refused against the demo reference (another tool); a
// --trainer builtin study planned from it (4 subjects × sizes 1, 2, 3), run, imported and evaluated makes
// a reference set it is applicable to, and analyze gives an estimate with the recipe-match table.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KOHYA_EVIDENCE, ROOT } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-cli-'));
const db = join(tmp, 'db.sqlite');
const bundle = join(tmp, 'bundle');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): { code: number; json: any } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'lora-audit.mjs'), ...args, '--json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  let json: any = null;
  try { json = JSON.parse(r.stdout); } catch { throw new Error(`lora-audit ${args.join(' ')}: not JSON (exit ${r.status}): ${r.stdout.slice(0, 400)} ${r.stderr.slice(0, 400)}`); }
  return { code: r.status ?? -1, json };
}

describe('a reference study for the demo kohya evidence, end to end', () => {
  it('refused → plan → run → status → import → evaluate → applicable estimate with the recipe match', () => {
    expect(cli('reference', 'import', join(ROOT, 'assets', 'demo', 'reference'), '--name', 'demo', '--db', db).code).toBe(0);
    const refused = cli('analyze', KOHYA_EVIDENCE, '--reference', 'demo', '--db', db).json[0];
    expect(refused.applicable).toBe(false);
    expect(refused.reasons.join(' ')).toContain("kohya's sd-scripts");

    const planned = cli('study', 'plan', KOHYA_EVIDENCE, '--images', 'builtin', '--sizes', '1,2,3', '--subjects', '4', '--trainer', 'builtin', '--out', bundle);
    expect(planned.code).toBe(0);
    const plan = planned.json.plan;
    expect(plan.runs).toHaveLength(12);
    expect(plan.recipe.rank.value).toBe(4);
    expect(plan.recipe.alpha.value).toBe(4);
    expect(plan.recipe.learningRate.value).toBe(0.003);
    expect(plan.recipe.maxTrainSteps.value).toBe(100);

    const before = cli('study', 'status', bundle).json;
    expect(before.coverage).toMatchObject({ planned: 12, done: 0 });

    const ran = cli('study', 'run', bundle, '--jobs', '12');
    expect(ran.code).toBe(0);
    expect(ran.json.trained).toHaveLength(12);
    expect(ran.json.settings).toMatchObject({ format: 'kohya', rank: 4, alpha: 4, scale: 1, initA: 'kaiming-uniform', steps: 100, learningRate: 0.003 });
    const again = cli('study', 'run', bundle, '--jobs', '12').json;
    expect(again.trained).toHaveLength(0);
    expect(again.skipped).toHaveLength(12);

    const status = cli('study', 'status', bundle).json;
    expect(status.complete).toBe(true);
    expect(status.runs.every((r: { state: string }) => r.state === 'trained')).toBe(true);

    const imported = cli('study', 'import', bundle, '--name', 'copper-study', '--db', db);
    expect(imported.code).toBe(0);
    expect(imported.json.complete).toBe(true);
    expect(imported.json.imported).toHaveLength(12);
    expect(imported.json.reference.set.provenance.source).toBe('study');
    expect(imported.json.reference.set.config).toMatchObject({ family: 'kohya', rank: 4, sizes: [1, 2, 3] });

    const evaluated = cli('evaluate', '--reference', 'copper-study', '--train-names', '3', '--db', db);
    expect(evaluated.code).toBe(0);
    expect(JSON.stringify(evaluated.json)).toMatch(/accuracy/);

    const estimate = cli('analyze', KOHYA_EVIDENCE, '--reference', 'copper-study', '--db', db).json[0];
    expect(estimate.applicable).toBe(true);
    expect([1, 2, 3]).toContain(estimate.estimate);
    expect(estimate.recipeMatch.studyId).toBe(plan.studyId);
    expect(estimate.recipeMatch.sameEvidence).toBe(true);
    const row = (f: string) => estimate.recipeMatch.rows.find((r: { field: string }) => r.field === f);
    expect(row('rank')).toMatchObject({ match: 'same', assumed: false });
    expect(row('learningRate')).toMatchObject({ match: 'same', assumed: false, evidence: { source: 'metadata: ss_learning_rate' } });
    expect(row('optimizer')).toMatchObject({ assumed: true });
  }, 3_600_000);
});
