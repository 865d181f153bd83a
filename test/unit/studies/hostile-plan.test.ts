// A study bundle handed over by someone else (security review of issue 19): plan.json is checked field by
// field before anything reads it, as strictly as study plan writes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle } from '../../../main/studies/bundle.ts';
import type { Plan } from '../../../main/studies/types.ts';
import { writeBundle } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-hostile-'));
const good = join(tmp, 'good');
let plan: Plan;
beforeAll(async () => { plan = await writeBundle(good, { subjects: 1, sizes: [1], steps: 1 }); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A copy of the good bundle's plan.json, edited, in a fresh folder (images are not needed to read it). */
function hostile(edit: (p: Record<string, any>) => void): string {
  const dir = join(tmp, `h${n++}`);
  mkdirSync(dir);
  const p = JSON.parse(readFileSync(join(good, 'plan.json'), 'utf8'));
  edit(p);
  // "1e400" stands in the text itself (JSON.parse reads it as Infinity; JSON.stringify would write null)
  writeFileSync(join(dir, 'plan.json'), JSON.stringify(p).replace('"<1e400>"', '1e400'));
  return dir;
}

describe('a hostile plan.json', () => {
  it('the good bundle reads', async () => {
    expect((await readBundle(good)).plan.runs).toHaveLength(plan.runs.length);
  });

  it('a recipe missing fields, with a field that is not { value, source }, or with values of the wrong kind is refused, naming plan.json', async () => {
    const cases: ((p: Record<string, any>) => void)[] = [
      (p) => { p.recipe = {}; },
      (p) => { delete p.recipe.rank; },
      (p) => { p.recipe.rank = 8; },
      (p) => { p.recipe.rank.source = 42; },
      (p) => { p.recipe.rank.value = '8'; },
      (p) => { p.recipe.rank.value = '<1e400>'; },        // written as 1e400: JSON.parse reads Infinity
      (p) => { p.recipe.targetModules.value = [1, 2]; },
      (p) => { p.recipe.trainTextEncoder.value = 'no'; },
      (p) => { p.recipe.family.value = { kohya: true }; },
      (p) => { p.assumed = [null]; },
      (p) => { p.assumed = [{ field: 'nonsense' }]; },
      (p) => { p.evidence.file = 7; },
    ];
    for (const edit of cases) {
      const dir = hostile(edit);
      const err = await readBundle(dir).then(() => null, (e: unknown) => e);
      expect(err, String(edit)).toMatchObject({ code: 'BAD_CONFIG', file: expect.stringContaining('plan.json') });
    }
  });

  it('a subject name with a bidirectional control (a right-to-left override disguising it) is refused, as study plan refuses it', async () => {
    for (const ch of ['\u202e', '\u2066', '\u200f', '\u061c']) {
      const dir = hostile((p) => { p.runs[0].subject = `copper${ch}sepirts`; });
      await expect(readBundle(dir)).rejects.toMatchObject({ code: 'BAD_CONFIG', file: expect.stringContaining('plan.json') });
    }
  });

  it('two runs of one subject at one size are refused: the set could hold only one of them, and the provenance would name both', async () => {
    const dir = hostile((p) => {
      p.runs.push({ ...p.runs[0], runId: `${p.runs[0].runId}-again`, seed: 7, output: 'runs/again/output/again.safetensors', dir: 'runs/again' });
    });
    await expect(readBundle(dir)).rejects.toMatchObject({ code: 'BAD_CONFIG', file: expect.stringContaining('plan.json'),
      message: expect.stringContaining(`runs ${plan.runs[0].runId} and ${plan.runs[0].runId}-again both train subject ${plan.runs[0].subject} at size 1`) });
  });
});
