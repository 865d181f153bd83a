// The attacker's tool in the anchor and journal tests: a consistent rewrite of a case's audit trail
// with the project's own hashing (every entry from the changed one rechained, the case's head moved),
// straight on the database file, bypassing the app. Afterwards verifyAudit is satisfied.
import { auditRows, entryHash } from '../../../main/cases/audit.ts';
import type { Database } from '../../../main/db/database.ts';
import { rawSql } from './helpers.ts';

/** Rewrites entry `from`'s details with `edit`, rechains every later entry, moves the case's head. */
export async function rewriteTrail(db: Database, dbPath: string, caseId: string, from: number,
  edit: (details: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const rows = await auditRows(db, caseId);
  let prevHash = rows[from - 2]?.hash;
  for (const row of rows.filter((r) => r.seq >= from)) {
    const stored = JSON.parse(row.details) as Record<string, unknown>;
    const details = row.seq === from ? edit(stored) : stored;
    const hash = entryHash({ caseId, seq: row.seq, at: row.at, actor: row.actor, osUser: row.os_user, action: row.action, details, prevHash: prevHash! });
    await rawSql(dbPath, 'UPDATE audit_log SET details = ?, prev_hash = ?, hash = ? WHERE case_id = ? AND seq = ?',
      [JSON.stringify(details), prevHash, hash, caseId, row.seq]);
    prevHash = hash;
  }
  await rawSql(dbPath, 'UPDATE cases SET audit_head_hash = ? WHERE id = ?', [prevHash, caseId]);
}
