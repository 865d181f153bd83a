// The append-only audit trail of a case. Each entry's hash is SHA-256 over the canonical JSON of
// {case, seq, at, actor, osUser, action, details, prevHash}, and each entry carries the previous
// entry's hash (the first one a fixed genesis value), so editing, deleting or reordering a row breaks a
// link that verifyChain() finds. The case row keeps the newest (seq, hash), updated in the same
// transaction as each append, so deleting the last entries (which no later link points at) shows too.
// Both live in the database, so a rewrite of both is consistent; each new head is therefore also written,
// once its transaction commits, to the journal beside the database (journal.ts), which verification
// compares with the trail.
import type { Queryable, Transaction } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import type { Actor } from './actor.ts';
import { canonicalJson, sha256Hex } from '../common/hashing.ts';
import { appendJournal } from './journal.ts';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditAction =
  | 'case-created' | 'case-status' | 'evidence-added' | 'analysis' | 'analysis-refused' | 'note'
  | 'report' | 'export' | 'import' | 'verify' | 'store-recovered';

export interface AuditEntry {
  caseId: string;
  seq: number;
  at: string;
  actor: string;
  osUser: string;
  action: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** A row as stored: details still as text, so a hand edit that breaks the JSON is itself a finding. */
export interface AuditRow {
  case_id: string;
  seq: number;
  at: string;
  actor: string;
  os_user: string;
  action: string;
  details: string;
  prev_hash: string;
  hash: string;
}

export interface ChainProblem {
  seq: number;
  kind: 'edited' | 'deleted' | 'reordered';
  message: string;
}

export interface ChainVerification {
  ok: boolean;
  entries: number;
  head: { seq: number; hash: string } | null;
  problem?: ChainProblem;
}

export function entryHash(e: Omit<AuditEntry, 'hash'>): string {
  return sha256Hex(canonicalJson({
    case: e.caseId, seq: e.seq, at: e.at, actor: e.actor, osUser: e.osUser,
    action: e.action, details: e.details, prevHash: e.prevHash,
  }));
}

/** Appends one entry. Call it inside the transaction that makes the change it records; the new head is
 *  journaled after that transaction commits (never when it rolls back). */
export async function appendAudit(tx: Transaction, caseId: string, actor: Actor, action: AuditAction,
  details: Record<string, unknown>, at: string = new Date().toISOString()): Promise<AuditEntry> {
  const last = await tx.get<{ seq: number; hash: string }>(
    'SELECT seq, hash FROM audit_log WHERE case_id = ? ORDER BY seq DESC LIMIT 1', [caseId]);
  const head = await tx.get<{ audit_head_seq: number; audit_head_hash: string }>(
    'SELECT audit_head_seq, audit_head_hash FROM cases WHERE id = ?', [caseId]);
  if (!head) throw new AuditError('NOT_FOUND', `no case with id ${caseId}`);
  // Appending after a trail whose tail was cut would make the cut invisible: refuse instead.
  if ((last?.seq ?? 0) !== head.audit_head_seq || (last?.hash ?? '') !== head.audit_head_hash) {
    throw new AuditError('AUDIT_BROKEN', `the audit trail of case ${caseId} no longer ends where the case recorded it (entry ${head.audit_head_seq}): ` +
      'nothing more can be recorded; run "lora-audit case verify" to see what changed');
  }
  const partial = {
    caseId, seq: (last?.seq ?? 0) + 1, at, actor: actor.name, osUser: actor.osUser, action,
    // through JSON once, so the hash is over exactly what a reader will parse back
    details: JSON.parse(canonicalJson(details)) as Record<string, unknown>, prevHash: last?.hash ?? GENESIS_HASH,
  };
  const entry: AuditEntry = { ...partial, hash: entryHash(partial) };
  await tx.run(`INSERT INTO audit_log (case_id, seq, at, actor, os_user, action, details, prev_hash, hash)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, [caseId, entry.seq, at, entry.actor, entry.osUser, action,
    canonicalJson(entry.details), entry.prevHash, entry.hash]);
  await tx.run('UPDATE cases SET audit_head_seq = ?, audit_head_hash = ?, updated_at = ? WHERE id = ?',
    [entry.seq, entry.hash, at, caseId]);
  tx.afterCommit(() => appendJournal(tx.dbPath, { caseId, seq: entry.seq, hash: entry.hash }));
  return entry;
}

export async function auditRows(q: Queryable, caseId: string): Promise<AuditRow[]> {
  return q.all<AuditRow>(`SELECT case_id, seq, at, actor, os_user, action, details, prev_hash, hash
    FROM audit_log WHERE case_id = ? ORDER BY seq`, [caseId]);
}

export function rowToEntry(row: AuditRow): AuditEntry {
  return {
    caseId: row.case_id, seq: row.seq, at: row.at, actor: row.actor, osUser: row.os_user, action: row.action,
    details: JSON.parse(row.details) as Record<string, unknown>, prevHash: row.prev_hash, hash: row.hash,
  };
}

export async function listAudit(q: Queryable, caseId: string): Promise<AuditEntry[]> {
  return (await auditRows(q, caseId)).map(rowToEntry);
}

/** Verifies a case's trail as stored, against the head the case row recorded. */
export async function verifyAudit(q: Queryable, caseId: string): Promise<ChainVerification> {
  const head = await q.get<{ audit_head_seq: number; audit_head_hash: string }>(
    'SELECT audit_head_seq, audit_head_hash FROM cases WHERE id = ?', [caseId]);
  if (!head) throw new AuditError('NOT_FOUND', `no case with id ${caseId}`);
  return verifyChain(caseId, await auditRows(q, caseId), { seq: head.audit_head_seq, hash: head.audit_head_hash });
}

/** Walks the rows in seq order and reports the first broken link. Pure: archives use it on rows read
 *  from a file before anything is written to the database. */
export function verifyChain(caseId: string, rows: AuditRow[], recordedHead?: { seq: number; hash: string }): ChainVerification {
  const sorted = [...rows].sort((x, y) => x.seq - y.seq);
  const byHash = new Map(sorted.map((r) => [r.hash, r]));
  const fail = (problem: ChainProblem): ChainVerification => ({ ok: false, entries: sorted.length, head: headOf(sorted), problem });
  let prevHash = GENESIS_HASH;
  let expected = 1;
  for (const row of sorted) {
    if (row.case_id !== caseId) {
      return fail({ seq: row.seq, kind: 'edited', message: `entry ${row.seq} names case ${row.case_id}, not ${caseId}` });
    }
    if (row.seq !== expected) {
      const gap = row.seq - 1 === expected ? `entry ${expected} is` : `entries ${expected}–${row.seq - 1} are`;
      return fail({ seq: expected, kind: 'deleted', message: `${gap} missing from the audit trail (deleted)` });
    }
    let details: Record<string, unknown>;
    try {
      details = JSON.parse(row.details) as Record<string, unknown>;
    } catch {
      return fail({ seq: row.seq, kind: 'edited', message: `entry ${row.seq} was edited: its details are no longer valid JSON` });
    }
    const content = { caseId: row.case_id, seq: row.seq, at: row.at, actor: row.actor, osUser: row.os_user,
      action: row.action, details, prevHash: row.prev_hash };
    if (entryHash(content) !== row.hash) {
      // Same content, other position? Then rows were renumbered, not rewritten.
      for (let k = 1; k <= sorted.length + 1; k++) {
        if (k !== row.seq && entryHash({ ...content, seq: k }) === row.hash) {
          return fail({ seq: row.seq, kind: 'reordered', message: `the entry written as number ${k} (${row.action}) now sits at position ${row.seq}: the trail was reordered` });
        }
      }
      return fail({ seq: row.seq, kind: 'edited', message: `entry ${row.seq} (${row.action}, ${row.at}) was edited after it was written: its hash no longer matches its content` });
    }
    if (row.prev_hash !== prevHash) {
      const pointsAt = byHash.get(row.prev_hash);
      if (pointsAt) {
        return fail({ seq: row.seq, kind: 'reordered', message: `entry ${row.seq} follows entry ${pointsAt.seq} in the chain but sits after entry ${row.seq - 1}: the trail was reordered` });
      }
      if (row.seq === 1) {
        return fail({ seq: 1, kind: 'deleted', message: 'entry 1 does not start the chain: earlier entries were deleted and the rest renumbered' });
      }
      return fail({ seq: row.seq - 1, kind: 'edited', message: `entry ${row.seq - 1} was replaced: entry ${row.seq} recorded a different hash for it` });
    }
    prevHash = row.hash;
    expected++;
  }
  const last = sorted[sorted.length - 1];
  if (recordedHead) {
    if (sorted.length < recordedHead.seq) {
      const from = sorted.length + 1;
      return fail({ seq: from, kind: 'deleted', message: `the case records ${recordedHead.seq} audit entries but the trail ends at ${sorted.length}: ${from === recordedHead.seq ? `entry ${from} was` : `entries ${from}–${recordedHead.seq} were`} deleted` });
    }
    if (sorted.length !== recordedHead.seq || (last && last.hash !== recordedHead.hash)) {
      return fail({ seq: Math.min(sorted.length, recordedHead.seq + 1), kind: 'edited', message: `the trail's newest entry does not match the one the case recorded (entry ${recordedHead.seq}): entries were rewritten or added outside the app` });
    }
  }
  return { ok: true, entries: sorted.length, head: headOf(sorted) };
}

function headOf(rows: AuditRow[]): { seq: number; hash: string } | null {
  const last = rows[rows.length - 1];
  return last ? { seq: last.seq, hash: last.hash } : null;
}
