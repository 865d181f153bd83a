// Notes: the examiner's own words on a case, kept and audited like everything else.
import type { Database, Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { resolveActor } from './actor.ts';
import { appendAudit } from './audit.ts';
import { getCase } from './cases.ts';
import { newId } from './ids.ts';

export interface Note {
  id: string;
  caseId: string;
  author: string;
  text: string;
  createdAt: string;
}

export async function addNote(db: Database, caseIdOrPrefix: string, text: string, actorName?: string): Promise<Note> {
  const kase = await getCase(db, caseIdOrPrefix);
  const body = text.trim();
  if (!body) throw new AuditError('BAD_REQUEST', 'a note needs some text');
  const actor = resolveActor(kase.examiner, actorName);
  const note: Note = { id: newId(), caseId: kase.id, author: actor.name, text: body, createdAt: new Date().toISOString() };
  await db.transaction(async (tx) => {
    await tx.run('INSERT INTO notes (id, case_id, author, text, created_at) VALUES (?, ?, ?, ?, ?)',
      [note.id, note.caseId, note.author, note.text, note.createdAt]);
    await appendAudit(tx, kase.id, actor, 'note', { noteId: note.id, text: note.text }, note.createdAt);
  });
  return note;
}

export async function listNotes(q: Queryable, caseId: string): Promise<Note[]> {
  const rows = await q.all<{ id: string; case_id: string; author: string; text: string; created_at: string }>(
    'SELECT * FROM notes WHERE case_id = ? ORDER BY created_at, id', [caseId]);
  return rows.map((r) => ({ id: r.id, caseId: r.case_id, author: r.author, text: r.text, createdAt: r.created_at }));
}
