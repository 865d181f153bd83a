// A study imported twice, its outputs changed in between (security review of issue 19's provenance):
// the set keeps the rows of the first import, but its provenance was rewritten from the second, so it
// named a replaced output's new SHA-256 for a row computed from the old bytes, and dropped a run whose
// output had since been deleted while its row stayed in the set. The provenance states what the set
// holds; bytes offered for a run the set already holds from other bytes are named and not imported.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../../../main/common/hashing.ts';
import { importLabelledFolder } from '../../../main/reference/import-folder.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { ImportRun } from '../../../main/reference/import-run.ts';
import { getReferenceSetSummary } from '../../../main/reference/store.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { importStudy } from '../../../main/studies/import.ts';
import { runStudy } from '../../../main/studies/run.ts';
import type { PlanRun } from '../../../main/studies/types.ts';
import { BASE_MODEL_DIR, importSuite, writeBundle } from './bundle-fixture.ts';

const suite = importSuite('study-changed-');
const tmp = suite.tmp;

/** The same tensors under a header with one more metadata entry: other bytes, the same adapter. */
function withExtraMetadata(file: string, to = file): void {
  const bytes = readFileSync(file);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  header.__metadata__ = { ...header.__metadata__, note: 'edited after the first import' };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(to, Buffer.concat([size, json, bytes.subarray(8 + length)]));
}

/** A study of one subject at sizes 1 and 2, both runs trained. */
async function trainedStudy(name: string): Promise<{ b: string; runs: PlanRun[] }> {
  const b = join(tmp, name);
  const plan = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 1 });
  await runStudy(b, { baseModelDir: BASE_MODEL_DIR, jobs: 1 });
  return { b, runs: plan.runs };
}

describe('a study imported again after its outputs changed', () => {
  it('keeps stating the bytes the set holds: a replaced output is named, not recorded; a deleted one stays recorded', async () => {
    const { b, runs: [r0, r1] } = await trainedStudy('bundle');
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const first = await importStudy(db, b, { name: 'changed', engine: suite.engine });
      expect(first.imported.map((x) => x.runId)).toEqual([r0.runId, r1.runId]);
      const sha0 = first.imported[0].sha256;
      const sha1 = first.imported[1].sha256;

      withExtraMetadata(join(b, r0.output));
      const sha0Now = sha256Hex(readFileSync(join(b, r0.output)));
      expect(sha0Now).not.toBe(sha0);
      rmSync(join(b, r1.output));

      const second = await importStudy(db, b, { name: 'changed', engine: suite.engine });
      expect(second.imported).toEqual([]);
      expect(second.missing).toEqual([r1.runId]);
      expect(second.mismatched).toEqual([{ runId: r0.runId, output: r0.output,
        reason: `it hashes to ${sha0Now}, but the set holds this run from ${r0.output}, which hashed to ${sha0} when it was imported: ` +
          'the output changed since, and the set keeps what it imported (import into a new set to use the new output)' }]);
      // the set still holds both first rows, and says so
      expect(second.coverage).toMatchObject({ planned: 2, imported: 2, missing: [], rejected: [] });
      const set = await getReferenceSetSummary(db, 'changed');
      expect(set.adapterCount).toBe(2);
      const runs = set.provenance.study!.runs;
      expect(runs.map((r) => [r.runId, r.output, r.sha256])).toEqual([[r0.runId, r0.output, sha0], [r1.runId, r1.output, sha1]]);
      expect(set.provenance.notes).toContain('2 of 2 planned runs');
    } finally { await db.close(); }
  }, 120_000);
});

describe('rows of a study set that no run of the study produced', () => {
  it('a labelled folder is not imported into a study set; a row put there otherwise is not counted as a run', async () => {
    const { b, runs: [r0, r1] } = await trainedStudy('bundle-foreign');
    const aside = join(tmp, 'never-finished.safetensors');
    renameSync(join(b, r1.output), aside);   // r1 never finished
    const folder = join(tmp, 'folder');
    mkdirSync(folder);
    withExtraMetadata(aside, join(folder, 'other.safetensors'));
    writeFileSync(join(folder, 'labels.csv'), `file,name,size\nother.safetensors,${r1.subject},${r1.size}\n`);
    const db = await openDatabase(join(tmp, 'db-foreign.sqlite'));
    try {
      await importStudy(db, b, { name: 'study', engine: suite.engine });
      await expect(importReference(db, { name: 'study', paths: [folder], engine: suite.engine })).rejects.toMatchObject({
        code: 'ALREADY_EXISTS', message: expect.stringContaining('reference set "study" was built by a study import') });
      expect((await getReferenceSetSummary(db, 'study')).adapterCount).toBe(1);

      // as an earlier version let it in: the folder's row lands in the set under r1's subject and size
      const run = await ImportRun.begin(db, { name: 'study', paths: [folder], engine: suite.engine });
      await importLabelledFolder(run, folder);
      await run.finish();
      expect((await getReferenceSetSummary(db, 'study')).adapterCount).toBe(2);

      const again = await importStudy(db, b, { name: 'study', engine: suite.engine });
      expect(again.missing).toEqual([r1.runId]);
      expect(again.coverage).toMatchObject({ planned: 2, imported: 1, missing: [r1.runId] });
      expect(again.complete).toBe(false);
      const set = await getReferenceSetSummary(db, 'study');
      expect(set.provenance.study!.runs.map((r) => r.runId)).toEqual([r0.runId]);
      expect(set.provenance.notes).toMatch(/1 of 2 planned runs; missing .*; 1 other row\(s\) of the set are no output of this study's runs$/);

      // a provenance that is no longer JSON (edited in the database) is not this study's: refused, typed
      await db.run("UPDATE reference_sets SET provenance = '{not json' WHERE name = 'study'");
      await expect(importStudy(db, b, { name: 'study', engine: suite.engine })).rejects.toMatchObject({
        code: 'ALREADY_EXISTS', message: expect.stringContaining('exists and is not from study') });
    } finally { await db.close(); }
  }, 120_000);
});
