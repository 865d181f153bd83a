// The audit journal beside the database: every committed append is journaled (a rolled-back one is
// not), and a consistent rewrite of the trail (every entry rechained, the case's head updated), which
// the chain check cannot see, is named by the journal. No report is involved here (anchor.test.ts).
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendAudit, auditRows, verifyAudit } from '../../../main/cases/audit.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { journalPath, MAX_JOURNAL_LINES, readJournal } from '../../../main/cases/journal.ts';
import { addNote } from '../../../main/cases/notes.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import type { Database } from '../../../main/db/database.ts';
import { rewriteTrail } from './anchor-rewrite.ts';
import { rawSql, tempDb } from './helpers.ts';

let t: Awaited<ReturnType<typeof tempDb>>;
let db: Database;
let caseId: string;
beforeEach(async () => {
  t = await tempDb();
  db = t.db;
  caseId = (await createCase(db, { title: 'Journal', examiner: 'E' })).id;
  for (let i = 1; i <= 5; i++) await addNote(db, caseId, `note ${i}`);
});
afterEach(async () => { await t.cleanup(); });

/** A consistent rewrite of note entry `seq`: the note's row and its entry say the same new text. */
async function rewriteNote(seq: number, text: string): Promise<void> {
  const [entry] = await rawSql(t.dbPath, 'SELECT details FROM audit_log WHERE case_id = ? AND seq = ?', [caseId, seq]);
  const { noteId } = JSON.parse(entry.details as string) as { noteId: string };
  await rawSql(t.dbPath, 'UPDATE notes SET text = ? WHERE id = ?', [text, noteId]);
  await rewriteTrail(db, t.dbPath, caseId, seq, (d) => ({ ...d, text }));
}

const journalLines = () => readFileSync(journalPath(t.dbPath), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

describe('audit journal', () => {
  it('journals each committed head {caseId, seq, hash, at}, and nothing for a rolled-back append', async () => {
    const trail = await auditRows(db, caseId);
    expect(journalLines().map((l) => [l.caseId, l.seq, l.hash])).toEqual(trail.map((r) => [caseId, r.seq, r.hash]));
    expect(journalLines()[0].at).toMatch(/^\d{4}-\d\d-\d\dT/);

    const failed = db.transaction(async (tx) => {
      await appendAudit(tx, caseId, { name: 'E', osUser: 'u' }, 'note', { text: 'never committed' });
      throw new Error('the change this entry records failed');
    });
    await expect(failed).rejects.toThrow('the change this entry records failed');
    expect(journalLines()).toHaveLength(trail.length);
    expect(await auditRows(db, caseId)).toHaveLength(trail.length);
  });

  it('names a consistently rewritten entry that the chain check passes', async () => {
    await rewriteNote(3, 'a note nobody wrote');
    expect((await verifyAudit(db, caseId)).ok).toBe(true);   // the attack: the chain alone is satisfied

    const v = await verifyCase(db, caseId);
    expect(v.ok).toBe(false);
    expect(v.problems).toHaveLength(1);
    expect(v.problems[0]).toMatchObject({ kind: 'audit-journal', seq: 3,
      message: expect.stringMatching(/^audit entry 3 differs from the journal written at \d{4}-.*later journaled entries differ too.*rewritten/) });
  });

  it('names a cut tail when the head was moved back with it', async () => {
    const trail = await auditRows(db, caseId);
    await rawSql(t.dbPath, 'DELETE FROM audit_log WHERE case_id = ? AND seq >= 5', [caseId]);
    await rawSql(t.dbPath, "DELETE FROM notes WHERE text IN ('note 4', 'note 5')");   // the rows those entries recorded, with them
    await rawSql(t.dbPath, 'UPDATE cases SET audit_head_seq = 4, audit_head_hash = ? WHERE id = ?', [trail[3].hash, caseId]);
    expect((await verifyAudit(db, caseId)).ok).toBe(true);

    const v = await verifyCase(db, caseId);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'audit-journal', seq: 5,
      message: expect.stringContaining('records audit entry 6, but the trail ends at entry 4: entries 5–6 were cut from its tail') })]);
  });

  it('says plainly when there is no journal anchor (a warning: older databases still verify)', async () => {
    rmSync(journalPath(t.dbPath));
    await rewriteNote(3, 'rewritten with the journal deleted');
    const v = await verifyCase(db, caseId);
    expect(v.ok).toBe(true);
    expect(v.warnings).toEqual([expect.objectContaining({ kind: 'journal-missing',
      message: expect.stringMatching(/^no journal anchor: .*audit-journal does not exist.*rewrite of the database would not be seen/) })]);
    // the verification's own entry starts a new journal, which anchors from here on
    expect(existsSync(journalPath(t.dbPath))).toBe(true);
  });

  it('skips and reports unreadable lines (not JSON, wrong shape, overlong, torn) and still compares the rest', async () => {
    const path = journalPath(t.dbPath);
    const good = readFileSync(path, 'utf8');
    // line 3 is a well-formed line naming a wrong hash for entry 2, padded past the length bound: it is never parsed
    const overlong = `{"caseId":"${caseId}","seq":2,"hash":"${'f'.repeat(64)}","at":"t"${' '.repeat(5 << 20)}}`;
    writeFileSync(path, `not json\n{"caseId":"x","seq":-1,"hash":"00","at":"t"}\n${overlong}\n${good}{"caseId":"torn`);
    const read = await readJournal(t.dbPath, caseId);
    expect(read.unreadable).toEqual([1, 2, 3, 10]);
    expect(read.lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6]);

    await rewriteNote(4, 'changed');
    const v = await verifyCase(db, caseId);
    expect(v.problems.map((p) => [p.kind, p.seq])).toEqual([['audit-journal', 4]]);
    expect(v.warnings).toEqual([expect.objectContaining({ kind: 'journal-unreadable', message: expect.stringContaining('4 unreadable line(s) (line 1, 2, 3, 10)') })]);
  });

  it('neither hangs nor follows a FIFO put in the journal\'s place: the read warns, the write refuses', async () => {
    rmSync(journalPath(t.dbPath));
    execFileSync('mkfifo', [journalPath(t.dbPath)]);
    const read = await readJournal(t.dbPath, caseId);
    expect(read).toMatchObject({ exists: true, notAFile: true, lines: [] });
    await expect(addNote(db, caseId, 'recorded, but not journaled')).rejects.toMatchObject({ code: 'DB_ERROR',
      message: expect.stringContaining('audit entry 7 of case') });
    expect((await auditRows(db, caseId)).map((r) => r.seq).at(-1)).toBe(7);   // committed before the journal write
  });

  it('reads at most MAX_JOURNAL_LINES lines and says the rest was not read', async () => {
    const path = journalPath(t.dbPath);
    writeFileSync(path, '\n'.repeat(MAX_JOURNAL_LINES));
    appendFileSync(path, '{"caseId":"beyond the bound","seq":1,"hash":"' + '0'.repeat(64) + '","at":"t"}\n');
    const read = await readJournal(t.dbPath, caseId);
    expect(read.total).toBe(MAX_JOURNAL_LINES);
    expect(read.truncated).toBe(true);
    expect(read.unreadableCount).toBe(MAX_JOURNAL_LINES);
    expect(read.unreadable).toEqual([1, 2, 3, 4, 5]);
  });
});
