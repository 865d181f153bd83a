// Case export and import are long jobs (a large case is minutes of copying and hashing): they report
// files done of the total and honour a cancel, leaving nothing written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { snapshot } from './archive-helpers.ts';
import { CATUNDCHAT, PEFT_BERT, plainInspector, tempDb } from './helpers.ts';
import { haveRealAdapters } from '../../fixtures.ts';

describe.skipIf(!haveRealAdapters)('archive jobs', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => { await cleanup?.(); cleanup = undefined; });

  async function exportedCase(): Promise<{ archive: string; dir: string }> {
    const t = await tempDb();
    cleanup = t.cleanup;
    const kase = await createCase(t.db, { title: 'long job', examiner: 'E' });
    await addEvidence(t.db, kase.id, CATUNDCHAT.path, { inspector: plainInspector });
    await addEvidence(t.db, kase.id, PEFT_BERT.path, { inspector: plainInspector });
    const progress: [number, number][] = [];
    const archive = join(t.dir, 'case.tar');
    await exportCase(t.db, kase.id, archive, { onProgress: (done, total) => progress.push([done, total]) });
    // three stored files (an adapter, an adapter and its config) copied, then those and case.json hashed
    expect(progress.map(([d]) => d)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(new Set(progress.map(([, total]) => total))).toEqual(new Set([7]));
    return { archive, dir: t.dir };
  }

  it('export reports every file copied and hashed, and a cancelled export writes no archive', async () => {
    const { dir } = await exportedCase();
    const db = await openDatabase(join(dir, 'cases.sqlite'));
    try {
      const [{ id }] = await db.all<{ id: string }>('SELECT id FROM cases');
      const stop = new AbortController();
      const out = join(dir, 'cancelled.tar');
      await expect(exportCase(db, id, out, { signal: stop.signal, onProgress: (done) => { if (done === 2) stop.abort(); } }))
        .rejects.toMatchObject({ code: 'CANCELLED' });
      expect(existsSync(out)).toBe(false);
    } finally {
      await db.close();
    }
  });

  it('import reports entries as they arrive, and a cancelled import writes nothing', async () => {
    const { archive } = await exportedCase();
    const target = await tempDb();
    const before = await snapshot(target.dbPath);
    const stop = new AbortController();
    const seen: number[] = [];
    try {
      await expect(importCase(target.db, archive, { signal: stop.signal, onProgress: (done) => { seen.push(done); if (seen.length === 3) stop.abort(); } }))
        .rejects.toMatchObject({ code: 'CANCELLED' });
      expect(seen.length).toBe(3);
      expect(await snapshot(target.dbPath)).toBe(before);
      const done: number[] = [];
      const ok = await importCase(target.db, archive, { onProgress: (d, total) => { done.push(d); expect(total).toBeGreaterThanOrEqual(d); } });
      expect(ok.counts.evidence).toBe(2);
      expect(done.length).toBeGreaterThan(3);
    } finally {
      await target.cleanup();
    }
  });
});
