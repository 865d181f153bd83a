// An output that follows the plan in structure but that the importer then refuses (NaN weights: BAD_SHARD)
// is not in the set, so the set's provenance must not count it (security review of issue 19). Before,
// the coverage was written from the outputs matched to the plan, before the import: "2 of 2 planned runs"
// in the provenance and the recipe-match table, for a set of one adapter.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { getReferenceSetSummary } from '../../../main/reference/store.ts';
import { importStudy } from '../../../main/studies/import.ts';
import { importSuite, KOHYA_EVIDENCE, writeBundle } from './bundle-fixture.ts';

const suite = importSuite('study-failed-row-');
const tmp = suite.tmp;

describe('an output the importer refuses', () => {
  it('is not counted in the set\'s coverage, its runs or the report', async () => {
    const b = join(tmp, 'bundle');
    const p = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 1 });
    const [r0, r1] = p.runs;
    for (const r of p.runs) mkdirSync(dirname(join(b, r.output)), { recursive: true });
    copyFileSync(KOHYA_EVIDENCE, join(b, r0.output));
    // the evidence with one lora_down value made NaN: the same structure, weights the importer refuses
    const bytes = readFileSync(KOHYA_EVIDENCE);
    const data = 8 + Number(bytes.readBigUInt64LE(0));
    bytes.writeFloatLE(Number.NaN, data + 4);
    writeFileSync(join(b, r1.output), bytes);
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const r = await importStudy(db, b, { name: 'study', engine: suite.engine });
      expect(r.reference.errors.length).toBe(1);
      expect(r.imported.map((x) => x.runId)).toEqual([r0.runId]);
      expect(r.complete).toBe(false);
      expect(r.coverage).toMatchObject({ planned: 2, imported: 1 });
      expect(r.coverage.rejected).toContain(r1.runId);
      const set = await getReferenceSetSummary(db, 'study');
      expect(set.adapterCount).toBe(1);
      const st = set.provenance.study!;
      expect(st.coverage).toMatchObject({ planned: 2, imported: 1 });
      expect(st.runs.map((x) => x.runId)).toEqual([r0.runId]);
      expect(set.provenance.notes).toContain('1 of 2 planned runs');
    } finally { await db.close(); }
  });
});
