// A set built by one study takes later imports of that very plan only (security review of issue 19): the
// study id is plan.json's own claim, so a second bundle carrying the same id with another recipe could
// add its outputs to the set and replace its provenance (the recipe every later recipe match shows).
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { getReferenceSetSummary } from '../../../main/reference/store.ts';
import { importStudy } from '../../../main/studies/import.ts';
import { importSuite, KOHYA_EVIDENCE, writeBundle } from './bundle-fixture.ts';

const suite = importSuite('study-other-plan-');
const tmp = suite.tmp;

describe('a second plan with the same study id', () => {
  it('is refused into the first plan\'s set; the set and its provenance are unchanged', async () => {
    const a = join(tmp, 'a');
    const p = await writeBundle(a, { subjects: 1, sizes: [1], steps: 1 });
    const out = join(a, p.runs[0].output);
    mkdirSync(dirname(out), { recursive: true });
    copyFileSync(KOHYA_EVIDENCE, out);        // follows its own recipe, carries no stamp
    const b = join(tmp, 'b');
    await writeBundle(b, { subjects: 1, sizes: [1], steps: 1 });
    const plan = JSON.parse(readFileSync(join(b, 'plan.json'), 'utf8'));
    plan.recipe.learningRate = { value: 0.5, source: 'metadata: ss_learning_rate' };
    writeFileSync(join(b, 'plan.json'), JSON.stringify(plan));
    mkdirSync(dirname(join(b, p.runs[0].output)), { recursive: true });
    copyFileSync(KOHYA_EVIDENCE, join(b, p.runs[0].output));
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      await importStudy(db, a, { name: 'study', engine: suite.engine });
      const before = (await getReferenceSetSummary(db, 'study')).provenance.study!;
      await expect(importStudy(db, b, { name: 'study', engine: suite.engine })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      const after = (await getReferenceSetSummary(db, 'study')).provenance.study!;
      expect(after.planSha256).toBe(before.planSha256);
      expect(after.recipe.learningRate.value).toBe(before.recipe.learningRate.value);
    } finally { await db.close(); }
  });
});
