import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { appendAudit, auditRows, entryHash, GENESIS_HASH, listAudit, verifyAudit, verifyChain, type AuditRow } from '../../../main/cases/audit.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addNote } from '../../../main/cases/notes.ts';
import type { Database } from '../../../main/db/database.ts';
import { rawSql, tempDb } from './helpers.ts';

let t: Awaited<ReturnType<typeof tempDb>>;
let db: Database;
let caseId: string;
beforeEach(async () => {
  t = await tempDb();
  db = t.db;
  caseId = (await createCase(db, { title: 'Chain', examiner: 'E' })).id;
  for (let i = 1; i <= 5; i++) await addNote(db, caseId, `note ${i}`);
});
afterEach(async () => { await t.cleanup(); });

describe('audit chain', () => {
  it('links each entry to the one before, from the genesis value, and verifies', async () => {
    const trail = await listAudit(db, caseId);
    expect(trail.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(trail[0].prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < trail.length; i++) expect(trail[i].prevHash).toBe(trail[i - 1].hash);
    for (const e of trail) expect(entryHash(e)).toBe(e.hash);
    expect(await verifyAudit(db, caseId)).toMatchObject({ ok: true, entries: 6, head: { seq: 6, hash: trail[5].hash } });
  });

  it('detects an edited row (details) at its seq', async () => {
    await rawSql(t.dbPath, `UPDATE audit_log SET details = '{"noteId":"x","text":"something else"}' WHERE case_id = ? AND seq = 3`, [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 3, kind: 'edited' });
  });

  it('detects an edited actor or time', async () => {
    await rawSql(t.dbPath, "UPDATE audit_log SET actor = 'Someone Else' WHERE case_id = ? AND seq = 2", [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 2, kind: 'edited' });
  });

  it('detects a row rewritten with a freshly computed hash (the next link breaks)', async () => {
    const rows = await auditRows(db, caseId);
    const row = rows[2];
    const forged = { caseId, seq: row.seq, at: row.at, actor: 'Forger', osUser: row.os_user, action: row.action, details: JSON.parse(row.details), prevHash: row.prev_hash };
    await rawSql(t.dbPath, 'UPDATE audit_log SET actor = ?, hash = ? WHERE case_id = ? AND seq = 3', ['Forger', entryHash(forged), caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 3, kind: 'edited' });
  });

  it('detects a deleted row in the middle, at the start, and at the end', async () => {
    await rawSql(t.dbPath, 'DELETE FROM audit_log WHERE case_id = ? AND seq = 4', [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 4, kind: 'deleted' });
    await rawSql(t.dbPath, 'DELETE FROM audit_log WHERE case_id = ? AND seq = 1', [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 1, kind: 'deleted' });
  });

  it('detects deleted last entries through the head the case recorded, and refuses to append after them', async () => {
    await rawSql(t.dbPath, 'DELETE FROM audit_log WHERE case_id = ? AND seq >= 5', [caseId]);
    const v = await verifyAudit(db, caseId);
    expect(v.problem).toMatchObject({ seq: 5, kind: 'deleted', message: expect.stringContaining('entries 5–6 were deleted') });
    await expect(addNote(db, caseId, 'hiding the cut')).rejects.toMatchObject({ code: 'AUDIT_BROKEN' });
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 5, kind: 'deleted' });
  });

  it('detects reordered rows (seq numbers swapped)', async () => {
    await rawSql(t.dbPath, 'UPDATE audit_log SET seq = -1 WHERE case_id = ? AND seq = 3', [caseId]);
    await rawSql(t.dbPath, 'UPDATE audit_log SET seq = 3 WHERE case_id = ? AND seq = 4', [caseId]);
    await rawSql(t.dbPath, 'UPDATE audit_log SET seq = 4 WHERE case_id = ? AND seq = -1', [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 3, kind: 'reordered' });
  });

  it('detects invalid JSON written into details', async () => {
    await rawSql(t.dbPath, "UPDATE audit_log SET details = '{broken' WHERE case_id = ? AND seq = 2", [caseId]);
    expect((await verifyAudit(db, caseId)).problem).toMatchObject({ seq: 2, kind: 'edited' });
  });

  it('keeps each case its own chain', async () => {
    const other = (await createCase(db, { title: 'Other', examiner: 'F' })).id;
    await db.transaction((tx) => appendAudit(tx, other, { name: 'F', osUser: 'u' }, 'note', { n: 1 }));
    expect((await listAudit(db, other)).map((e) => e.seq)).toEqual([1, 2]);
    expect((await verifyAudit(db, caseId)).ok).toBe(true);
    expect((await verifyAudit(db, other)).ok).toBe(true);
  });

  it('finds any single-field change to any row (property)', async () => {
    const rows = await auditRows(db, caseId);
    const head = { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash };
    const fields: (keyof AuditRow)[] = ['at', 'actor', 'os_user', 'action', 'details', 'prev_hash', 'hash'];
    fc.assert(fc.property(fc.integer({ min: 0, max: rows.length - 1 }), fc.constantFrom(...fields), fc.string({ minLength: 1, maxLength: 8 }), (i, field, junk) => {
      const tampered = rows.map((r) => ({ ...r }));
      const value = field === 'details' ? JSON.stringify({ junk }) : `${tampered[i][field]}${junk}`;
      (tampered[i] as unknown as Record<string, unknown>)[field] = value;
      const v = verifyChain(caseId, tampered, head);
      expect(v.ok).toBe(false);
      // the first broken link is at the changed row, or (for its hash) the row itself
      expect(v.problem!.seq).toBe(rows[i].seq);
    }), { numRuns: 200 });
  });
});
