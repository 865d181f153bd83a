// Row ids are random UUIDs (stable across machines, see schema.ts). People type them, so anywhere an
// id is asked for, a unique prefix of at least 4 characters will do, as with git commit ids.
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';

export function newId(): string {
  return randomUUID();
}

const TABLES = { cases: 'case', evidence: 'evidence item', analyses: 'analysis', reports: 'report', notes: 'note' } as const;

/** The full id for an id or unique prefix in `table` (optionally within one case). */
export async function resolveId(q: Queryable, table: keyof typeof TABLES, idOrPrefix: string, caseId?: string): Promise<string> {
  const what = TABLES[table];
  const wanted = idOrPrefix.trim().toLowerCase();
  if (wanted.length < 4 || !/^[0-9a-f-]+$/.test(wanted)) {
    throw new AuditError('BAD_REQUEST', `"${idOrPrefix}" is not a ${what} id (give the id, or at least its first 4 characters)`);
  }
  const scope = caseId === undefined ? '' : ' AND case_id = ?';
  const params = caseId === undefined ? [wanted + '%'] : [wanted + '%', caseId];
  const rows = await q.all<{ id: string }>(`SELECT id FROM ${table} WHERE id LIKE ?${scope} LIMIT 2`, params);
  if (rows.length === 0) throw new AuditError('NOT_FOUND', `no ${what} with id ${idOrPrefix}${caseId ? ` in case ${caseId}` : ''}`);
  if (rows.length > 1) throw new AuditError('BAD_REQUEST', `"${idOrPrefix}" matches more than one ${what}: give more of the id`);
  return rows[0].id;
}
