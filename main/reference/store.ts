// Reference sets in the database: list, load (with every adapter's features), delete. Sizes and names
// of a set's config are derived from its adapters and shards from the shard table, so they can never
// disagree with what is stored.
import type { Database, Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { unpackFeatures } from './features-blob.ts';
import type { ReferenceAdapter, ReferenceConfig, ReferenceProvenance, ReferenceSet, ReferenceSetSummary, ShardProvenance } from './types.ts';

/** A reference label is a training-set size: a whole number of at least 1. A label of 0 would make the
 *  estimate "0 samples"; every importer (parquet rows, labels.csv, packs) and the loader apply this one rule. */
export function isTrainingSetSize(label: unknown): label is number {
  return typeof label === 'number' && Number.isSafeInteger(label) && label >= 1;
}

interface SetRow { id: number; name: string; config: string; provenance: string; complete: number; created_at: string }
interface ShardRow { file_name: string; size: number; sha256: string; rows: number; imported_at: string }

async function shardsOf(db: Queryable, setId: number): Promise<ShardProvenance[]> {
  const rows = await db.all<ShardRow>(
    'SELECT file_name, size, sha256, rows, imported_at FROM reference_shards WHERE set_id = ? ORDER BY id', [setId]);
  return rows.map((r) => ({ fileName: r.file_name, size: r.size, sha256: r.sha256, rows: r.rows, importedAt: r.imported_at }));
}

/** Labels ascending; names sorted as numbers when all are integers (LoRA-WiSE medium/high), else as text. */
async function sizesAndNames(db: Queryable, setId: number): Promise<{ sizes: number[]; names: string[] }> {
  const sizes = (await db.all<{ label: number }>('SELECT DISTINCT label FROM reference_adapters WHERE set_id = ? ORDER BY label', [setId]))
    .map((r) => r.label);
  const names = (await db.all<{ name: string }>('SELECT DISTINCT name FROM reference_adapters WHERE set_id = ?', [setId]))
    .map((r) => r.name);
  const numeric = names.every((n) => /^-?\d+$/.test(n));
  names.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  return { sizes, names };
}

async function summaryOf(db: Queryable, row: SetRow): Promise<ReferenceSetSummary> {
  const config = JSON.parse(row.config) as ReferenceConfig;
  const { sizes, names } = await sizesAndNames(db, row.id);
  const provenance = JSON.parse(row.provenance) as ReferenceProvenance;
  const count = await db.get<{ n: number }>('SELECT count(*) AS n FROM reference_adapters WHERE set_id = ?', [row.id]);
  return {
    id: row.id,
    name: row.name,
    config: { ...config, sizes, names },
    provenance: { ...provenance, shards: await shardsOf(db, row.id) },
    adapterCount: count?.n ?? 0,
    complete: row.complete === 1,
  };
}

export async function findSetRow(db: Queryable, name: string): Promise<SetRow | undefined> {
  return db.get<SetRow>('SELECT id, name, config, provenance, complete, created_at FROM reference_sets WHERE name = ?', [name]);
}

async function requireSetRow(db: Queryable, name: string): Promise<SetRow> {
  const row = await findSetRow(db, name);
  if (!row) {
    const known = (await db.all<{ name: string }>('SELECT name FROM reference_sets ORDER BY name')).map((r) => r.name);
    throw new AuditError('NOT_FOUND', `no reference set named "${name}"` +
      (known.length ? ` (known: ${known.join(', ')})` : '; import one with `lora-audit reference import <shards…> --name <set>`'));
  }
  return row;
}

/** Every set, incomplete ones included and flagged (`complete: false`), by name. */
export async function listReferenceSets(db: Queryable): Promise<ReferenceSetSummary[]> {
  const rows = await db.all<SetRow>('SELECT id, name, config, provenance, complete, created_at FROM reference_sets ORDER BY name');
  const out: ReferenceSetSummary[] = [];
  for (const row of rows) out.push(await summaryOf(db, row));
  return out;
}

export async function getReferenceSetSummary(db: Queryable, name: string): Promise<ReferenceSetSummary> {
  return summaryOf(db, await requireSetRow(db, name));
}

/** A set with every adapter's features. An incomplete set (its import was cancelled or killed) is
 *  refused unless asked for, so no analysis runs on half a reference. */
export async function loadReferenceSet(db: Queryable, name: string, opts: { allowIncomplete?: boolean } = {}): Promise<ReferenceSet> {
  const row = await requireSetRow(db, name);
  if (row.complete !== 1 && !opts.allowIncomplete) {
    throw new AuditError('NOT_FOUND',
      `reference set "${name}" is incomplete: its import was interrupted. Run the same \`lora-audit reference import … --name ${name}\` ` +
      'again to finish it (shards already imported are skipped).');
  }
  const summary = await summaryOf(db, row);
  const ids = summary.config.modules.map((m) => m.id);
  const rows = await db.all<{ id: number; name: string; label: number; source: string; features: Buffer }>(
    'SELECT id, name, label, source, features FROM reference_adapters WHERE set_id = ? ORDER BY id', [row.id]);
  // Sets imported before labels were checked may hold a 0: refused here, so no estimate is built on it.
  const unlabelled = rows.find((r) => !isTrainingSetSize(r.label));
  if (unlabelled) {
    throw new AuditError('BAD_SHARD',
      `reference set "${name}": adapter ${unlabelled.name} has label ${String(unlabelled.label)}, not a training-set size (a whole number ≥ 1); ` +
      'delete the set and import it again', unlabelled.source);
  }
  const adapters: ReferenceAdapter[] = rows.map((r) => ({
    id: r.id, name: r.name, label: r.label, source: r.source,
    features: unpackFeatures(r.features, ids, summary.config.rank),
  }));
  return { id: row.id, name: row.name, config: summary.config, provenance: summary.provenance, adapters };
}

export async function deleteReferenceSet(db: Database, name: string): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await requireSetRow(tx, name);
    // Children first: the foreign keys cascade only where PRAGMA foreign_keys is on for the connection.
    await tx.run('DELETE FROM reference_reliability WHERE set_id = ?', [row.id]);
    await tx.run('DELETE FROM reference_adapters WHERE set_id = ?', [row.id]);
    await tx.run('DELETE FROM reference_shards WHERE set_id = ?', [row.id]);
    await tx.run('DELETE FROM reference_sets WHERE id = ?', [row.id]);
  });
}
