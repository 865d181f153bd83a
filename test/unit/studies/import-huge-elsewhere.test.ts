// An output found elsewhere in a study bundle (matched by its stamped run id) is held to the same size
// bound as one at its planned path (security review of issue 19): a sparse file of more than
// BUNDLE_LIMITS.outputBytes is free to make and was hashed whole (twice) once its header's stamp matched.
import { describe, expect, it } from 'vitest';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { BUNDLE_LIMITS } from '../../../main/studies/bundle.ts';
import { importStudy } from '../../../main/studies/import.ts';
import { META_RUN, META_STUDY } from '../../../main/studies/run.ts';
import { importSuite, KOHYA_EVIDENCE, writeBundle } from './bundle-fixture.ts';

const suite = importSuite('study-huge-');
const tmp = suite.tmp;

describe('a huge stamped output elsewhere in the bundle', () => {
  it('is named as unplanned for its size, never opened', async () => {
    const b = join(tmp, 'bundle');
    const p = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 1 });
    // run 1: the evidence itself at its planned path (follows the plan, no stamp), so the import goes ahead
    mkdirSync(join(b, 'runs', p.runs[1].runId, 'output'), { recursive: true });
    writeFileSync(join(b, p.runs[1].output), readFileSync(KOHYA_EVIDENCE));
    const bytes = readFileSync(KOHYA_EVIDENCE);
    const n = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
    Object.assign(header.__metadata__, { [META_STUDY]: p.studyId, [META_RUN]: p.runs[0].runId });
    const text = Buffer.from(JSON.stringify(header), 'utf8');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    mkdirSync(join(b, 'elsewhere'));
    const file = join(b, 'elsewhere', 'huge.safetensors');
    writeFileSync(file, Buffer.concat([len, text, bytes.subarray(8 + n)]));
    const fd = openSync(file, 'r+');
    ftruncateSync(fd, BUNDLE_LIMITS.outputBytes + 1);   // sparse
    closeSync(fd);
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const r = await importStudy(db, b, { name: 'huge', engine: suite.engine });
      expect(r.imported.map((x) => x.runId)).toEqual([p.runs[1].runId]);
      expect(r.missing).toEqual([p.runs[0].runId]);
      expect(r.unplanned).toEqual([{ output: 'elsewhere/huge.safetensors', reason: expect.stringContaining(`more than the ${BUNDLE_LIMITS.outputBytes}`) }]);
    } finally { await db.close(); }
  }, 120_000);
});
