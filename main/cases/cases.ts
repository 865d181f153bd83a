// Cases: the unit of forensic work. Creating one and changing its status are audited in the same
// transaction as the change.
import type { Database, Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { resolveActor } from './actor.ts';
import { appendAudit } from './audit.ts';
import { newId, resolveId } from './ids.ts';

export type CaseStatus = 'open' | 'closed' | 'archived';
export const CASE_STATUSES: CaseStatus[] = ['open', 'closed', 'archived'];

export interface CaseRecord {
  id: string;
  title: string;
  examiner: string;
  organisation: string;
  description: string;
  status: CaseStatus;
  createdAt: string;
  updatedAt: string;
  auditHead: { seq: number; hash: string };
}

export interface NewCase {
  title: string;
  examiner: string;
  organisation?: string;
  description?: string;
}

export interface CaseRow {
  id: string; title: string; examiner: string; organisation: string; description: string; status: string;
  created_at: string; updated_at: string; audit_head_seq: number; audit_head_hash: string;
}

export function rowToCase(r: CaseRow): CaseRecord {
  return {
    id: r.id, title: r.title, examiner: r.examiner, organisation: r.organisation, description: r.description,
    status: r.status as CaseStatus, createdAt: r.created_at, updatedAt: r.updated_at,
    auditHead: { seq: r.audit_head_seq, hash: r.audit_head_hash },
  };
}

export async function createCase(db: Database, input: NewCase, actorName?: string): Promise<CaseRecord> {
  const title = input.title?.trim();
  const examiner = input.examiner?.trim();
  if (!title) throw new AuditError('BAD_REQUEST', 'a case needs a title');
  if (!examiner) throw new AuditError('BAD_REQUEST', 'a case needs an examiner (the person responsible for it)');
  const id = newId();
  const now = new Date().toISOString();
  const actor = resolveActor(examiner, actorName);
  await db.transaction(async (tx) => {
    await tx.run(`INSERT INTO cases (id, title, examiner, organisation, description, status, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, 'open', ?, ?)`,
      [id, title, examiner, input.organisation?.trim() ?? '', input.description?.trim() ?? '', now, now]);
    await appendAudit(tx, id, actor, 'case-created',
      { title, examiner, organisation: input.organisation?.trim() ?? '', description: input.description?.trim() ?? '' }, now);
  });
  return getCase(db, id);
}

export async function listCases(q: Queryable): Promise<CaseRecord[]> {
  return (await q.all<CaseRow>('SELECT * FROM cases ORDER BY created_at, id')).map(rowToCase);
}

/** By full id or unique prefix. */
export async function getCase(q: Queryable, idOrPrefix: string): Promise<CaseRecord> {
  const id = await resolveId(q, 'cases', idOrPrefix);
  const row = await q.get<CaseRow>('SELECT * FROM cases WHERE id = ?', [id]);
  if (!row) throw new AuditError('NOT_FOUND', `no case with id ${idOrPrefix}`);
  return rowToCase(row);
}

export async function setCaseStatus(db: Database, idOrPrefix: string, status: CaseStatus, actorName?: string): Promise<CaseRecord> {
  if (!CASE_STATUSES.includes(status)) {
    throw new AuditError('BAD_REQUEST', `unknown case status "${status}" (one of ${CASE_STATUSES.join(', ')})`);
  }
  const current = await getCase(db, idOrPrefix);
  if (current.status !== status) {
    await db.transaction(async (tx) => {
      await tx.run('UPDATE cases SET status = ? WHERE id = ?', [status, current.id]);
      await appendAudit(tx, current.id, resolveActor(current.examiner, actorName), 'case-status', { from: current.status, to: status });
    });
  }
  return getCase(db, current.id);
}
