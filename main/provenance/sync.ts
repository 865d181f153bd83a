// Keeps the index in step with what it indexes, before every search: evidence items without a
// fingerprint (added before this index existed, or arrived in an imported case archive) are
// fingerprinted from their stored copy, whose SHA-256 must still be the recorded one; fingerprints of
// evidence that is gone or changed are dropped; each complete reference set is indexed once per state
// (adapter count and last adapter id), with its near calibration, and dropped when the set is deleted.
import type { Database, Queryable } from '../db/database.ts';
import { AuditError, toApiError } from '../errors.ts';
import { PairCalibration } from './calibration.ts';
import { FINGERPRINT_FORMAT } from './fingerprint.ts';
import { fingerprintFile } from './file.ts';
import { FLOOR_COMPUTED, FLOOR_REFERENCE } from './keys.ts';
import { deleteFingerprints, insertFingerprints, readReferenceFingerprint, readSetConfig, type NewFingerprint } from './store.ts';

export interface SyncOptions {
  /** The absolute path of an evidence item's stored copy (the cases layer's rule, handed in: this layer
   *  does not import it). May throw for a path outside the store. */
  evidenceFile(storedPath: string): string;
  signal?: AbortSignal;
  log?(line: string): void;
}

export interface SyncReport {
  evidenceIndexed: number;
  referenceSetsIndexed: string[];
  removed: number;
  notes: string[];
}

/** Reference adapters read per page while a set is indexed. */
const PAGE = 256;

export async function syncIndex(db: Database, opts: SyncOptions): Promise<SyncReport> {
  const report: SyncReport = { evidenceIndexed: 0, referenceSetsIndexed: [], removed: 0, notes: [] };
  report.removed += await dropStaleEvidence(db);
  await indexMissingEvidence(db, opts, report);
  await syncReferenceSets(db, opts, report);
  return report;
}

/** Empties the index; the next syncIndex rebuilds it from the evidence copies and the reference rows
 *  (the answer to an index someone may have edited: it has no integrity of its own). */
export async function clearIndex(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    for (const table of ['provenance_module_index', 'provenance_adapter_index', 'provenance_fingerprints', 'provenance_reference_sets', 'provenance_layouts', 'provenance_modules']) {
      await tx.run(`DELETE FROM ${table}`);
    }
  });
}

async function dropStaleEvidence(db: Database): Promise<number> {
  return db.transaction(async (tx) => {
    const stale = await tx.all<{ id: number }>(`SELECT f.id FROM provenance_fingerprints f LEFT JOIN evidence e ON e.id = f.evidence_id
      WHERE f.source = 'evidence' AND (e.id IS NULL OR e.sha256 IS NOT f.sha256 OR f.format != ?)`, [FINGERPRINT_FORMAT]);
    await deleteFingerprints(tx, stale.map((r) => r.id));
    return stale.length;
  });
}

async function indexMissingEvidence(db: Database, opts: SyncOptions, report: SyncReport): Promise<void> {
  const missing = await db.all<{ id: string; sha256: string; stored_path: string; file_name: string }>(`SELECT e.id, e.sha256, e.stored_path, e.file_name
    FROM evidence e WHERE NOT EXISTS (SELECT 1 FROM provenance_fingerprints f WHERE f.evidence_id = e.id) ORDER BY e.imported_at, e.id`);
  for (const row of missing) {
    if (opts.signal?.aborted) throw new AuditError('CANCELLED', 'indexing was cancelled');
    const entry = await evidenceEntry(row, opts);
    await db.transaction(async (tx) => {
      if (await tx.get('SELECT 1 FROM provenance_fingerprints WHERE evidence_id = ?', [row.id])) return;
      if (!(await tx.get('SELECT 1 FROM evidence WHERE id = ? AND sha256 = ?', [row.id, row.sha256]))) return;
      await insertFingerprints(tx, [entry]);
      report.evidenceIndexed++;
    });
  }
}

/** The fingerprint of a stored evidence copy, or an unreadable entry saying why. */
async function evidenceEntry(row: { id: string; sha256: string; stored_path: string; file_name: string }, opts: SyncOptions): Promise<NewFingerprint> {
  const base = { source: 'evidence' as const, evidenceId: row.id, sha256: row.sha256, floor: FLOOR_COMPUTED };
  try {
    const f = await fingerprintFile(opts.evidenceFile(row.stored_path), { expectedSha256: row.sha256, signal: opts.signal });
    return { ...base, describe: { family: f.family, dtypes: f.dtypes }, fp: f.fp, ...(f.refusal ? { reason: `${f.refusal.code}: ${f.refusal.message}` } : {}) };
  } catch (e) {
    if (e instanceof AuditError && e.code === 'CANCELLED') throw e;
    const api = toApiError(e);
    opts.log?.(`evidence ${row.id} (${row.file_name}) not fingerprinted: ${api.message}`);
    return { ...base, describe: { family: 'unknown', dtypes: [] }, fp: null, reason: `${api.code}: ${api.message}` };
  }
}

interface SetRow { id: number; name: string; config: string; provenance: string; complete: number; n: number; last: number | null }

async function syncReferenceSets(db: Database, opts: SyncOptions, report: SyncReport): Promise<void> {
  const sets = await db.all<SetRow>(`SELECT s.id, s.name, s.config, s.provenance, s.complete,
    (SELECT COUNT(*) FROM reference_adapters a WHERE a.set_id = s.id) AS n,
    (SELECT MAX(id) FROM reference_adapters a WHERE a.set_id = s.id) AS last FROM reference_sets s ORDER BY s.id`);
  const indexed = new Map((await db.all<{ set_id: number; state: string }>('SELECT set_id, state FROM provenance_reference_sets'))
    .map((r) => [r.set_id, r.state]));
  const live = new Set(sets.map((s) => s.id));
  for (const setId of indexed.keys()) {
    if (live.has(setId)) continue;
    report.removed += await db.transaction(async (tx) => dropSet(tx, setId));
  }
  for (const set of sets) {
    const state = stateOf(set);
    if (indexed.get(set.id) === state) {
      if (set.complete !== 1) report.notes.push(`reference set "${set.name}" is incomplete (its import was interrupted): not searched`);
      continue;
    }
    if (opts.signal?.aborted) throw new AuditError('CANCELLED', 'indexing was cancelled');
    opts.log?.(`indexing reference set "${set.name}" (${set.n} adapters) for provenance …`);
    try {
      await db.transaction(async (tx) => {
        const now = await tx.get<{ state: string }>('SELECT state FROM provenance_reference_sets WHERE set_id = ?', [set.id]);
        if (now?.state === state) return; // another process got there first
        report.removed += await dropSet(tx, set.id);
        await indexSet(tx, set, state, opts);
      });
      if (set.complete === 1) report.referenceSetsIndexed.push(set.name);
      else report.notes.push(`reference set "${set.name}" is incomplete (its import was interrupted): not searched`);
    } catch (e) {
      if (e instanceof AuditError && e.code === 'CANCELLED') throw e;
      report.notes.push(`reference set "${set.name}" could not be indexed (${toApiError(e).message}): not searched`);
    }
  }
}

function stateOf(set: SetRow): string {
  return `format ${FINGERPRINT_FORMAT}; complete ${set.complete}; adapters ${set.n}; last ${set.last ?? 0}`;
}

async function dropSet(tx: Queryable, setId: number): Promise<number> {
  const ids = (await tx.all<{ id: number }>("SELECT id FROM provenance_fingerprints WHERE source = 'reference' AND set_id = ?", [setId])).map((r) => r.id);
  await deleteFingerprints(tx, ids);
  await tx.run('DELETE FROM provenance_reference_sets WHERE set_id = ?', [setId]);
  return ids.length;
}

/** One set's adapters, page by page in (name, label, id) order so that each name's adapters arrive
 *  together for the calibration. An incomplete set is recorded (so it is not re-read) but not indexed. */
async function indexSet(tx: Queryable, set: SetRow, state: string, opts: SyncOptions): Promise<void> {
  const calibration = new PairCalibration();
  if (set.complete === 1) {
    const config = readSetConfig(set.config, set.name);
    const oneFilePerAdapter = sourceOf(set.provenance) === 'labelled-folder';
    let after: { name: string; label: number; id: number } | null = null;
    for (;;) {
      if (opts.signal?.aborted) throw new AuditError('CANCELLED', 'indexing was cancelled');
      const rows: { id: number; name: string; label: number; features: unknown; sha256: string | null; shard_rows: number | null }[] = await tx.all(
        `SELECT a.id, a.name, a.label, a.features, sh.sha256, sh.rows AS shard_rows FROM reference_adapters a
         LEFT JOIN reference_shards sh ON sh.id = a.shard_id
         WHERE a.set_id = ? ${after ? 'AND (a.name, a.label, a.id) > (?, ?, ?)' : ''} ORDER BY a.name, a.label, a.id LIMIT ${PAGE}`,
        after ? [set.id, after.name, after.label, after.id] : [set.id]);
      if (rows.length === 0) break;
      const entries: NewFingerprint[] = rows.map((r) => {
        const base = {
          source: 'reference' as const, referenceAdapterId: r.id, setId: set.id, floor: FLOOR_REFERENCE,
          // a labelled folder's shard is the adapter file itself: its SHA-256 is the adapter's
          sha256: oneFilePerAdapter && r.shard_rows === 1 && typeof r.sha256 === 'string' ? r.sha256 : null,
          describe: { family: config.family, dtypes: [] },
        };
        try {
          const fp = readReferenceFingerprint(r.features, config);
          if (typeof r.name === 'string' && Number.isSafeInteger(r.label)) calibration.add(r.name, r.label, fp);
          return { ...base, fp };
        } catch (e) {
          return { ...base, fp: null, reason: toApiError(e).message };
        }
      });
      await insertFingerprints(tx, entries);
      const last = rows[rows.length - 1];
      after = { name: last.name, label: last.label, id: last.id };
    }
  }
  const c = calibration.finish();
  await tx.run(`INSERT INTO provenance_reference_sets (set_id, state, pairs, min_distance, median_distance, indexed_at)
    VALUES (?, ?, ?, ?, ?, ?)`, [set.id, state, c.pairs, c.min, c.median, new Date().toISOString()]);
}

function sourceOf(provenance: string): string | null {
  try {
    const p: unknown = JSON.parse(provenance);
    return p !== null && typeof p === 'object' && typeof (p as { source?: unknown }).source === 'string' ? (p as { source: string }).source : null;
  } catch {
    return null;
  }
}
