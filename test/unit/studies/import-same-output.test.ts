// One file handed back as the output of several runs (security review of issue 19): the labelled importer
// keeps one row per SHA-256 and skips the rest, so the study's report and provenance counted every run as
// imported ("2 of 2 planned runs", complete) for a set holding one adapter. Runs sharing one output's
// bytes are named as such, and none of them is imported.
import { describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { importStudy } from '../../../main/studies/import.ts';
import { importSuite, KOHYA_EVIDENCE, writeBundle } from './bundle-fixture.ts';

const suite = importSuite('study-same-');
const tmp = suite.tmp;

describe('one file as the output of two runs', () => {
  it('is named for both runs and imported for neither', async () => {
    const b = join(tmp, 'bundle');
    const p = await writeBundle(b, { subjects: 1, sizes: [1, 2], steps: 1 });
    // the evidence itself follows its own recipe and carries no run stamp: the same bytes at both outputs
    for (const r of p.runs) {
      mkdirSync(dirname(join(b, r.output)), { recursive: true });
      copyFileSync(KOHYA_EVIDENCE, join(b, r.output));
    }
    const db = await openDatabase(join(tmp, 'db.sqlite'));
    try {
      const err = await importStudy(db, b, { name: 'same', engine: suite.engine }).then((r) => r, (e: unknown) => e);
      expect(err).toMatchObject({ code: 'NOT_FOUND' });
      for (const r of p.runs) expect((err as Error).message).toContain(`${r.runId}: the same file (SHA-256`);
    } finally { await db.close(); }
  });
});
