// The cached reliability of a reference set (schema version 201): one JSON record per (set, content hash,
// method version, mode). The record's shape belongs to the classifier (main/dsire/reliability.ts); this
// layer only keeps it with the set, so deleting the set deletes it and a changed set never reads it.
import type { Database, Queryable } from '../db/database.ts';

/** The database handle reliability is cached in (hosts pass the case database). */
export type ReliabilityDb = Database;

export interface ReliabilityKey { setId: number; contentHash: string; methodVersion: string; mode: string }

export async function readReliability(db: Queryable, key: ReliabilityKey): Promise<unknown | null> {
  const row = await db.get<{ record: string }>(
    'SELECT record FROM reference_reliability WHERE set_id = ? AND content_hash = ? AND method_version = ? AND mode = ?',
    [key.setId, key.contentHash, key.methodVersion, key.mode]);
  if (!row) return null;
  try {
    return JSON.parse(row.record) as unknown;
  } catch {
    return null; // an unreadable row is measured again, not trusted
  }
}

/** Stores a record, dropping the set's rows for other contents or methods (the set or the method changed
 *  since they were measured). */
export async function writeReliability(db: Database, key: ReliabilityKey, record: unknown, measuredAt: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM reference_reliability WHERE set_id = ? AND (content_hash <> ? OR method_version <> ?)', [key.setId, key.contentHash, key.methodVersion]);
    await tx.run(`INSERT OR REPLACE INTO reference_reliability (set_id, content_hash, method_version, mode, record, measured_at)
      VALUES (?, ?, ?, ?, ?, ?)`, [key.setId, key.contentHash, key.methodVersion, key.mode, JSON.stringify(record), measuredAt]);
  });
}
