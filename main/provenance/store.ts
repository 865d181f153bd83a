// The provenance index's rows: writing fingerprints (with their module-index and adapter-index
// entries), removing them, and reading them back. Everything read back is checked (fingerprint.ts
// unpackFingerprint, readSetConfig here): the database may have been edited by hand.
import type { Queryable } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { unpackFeatures } from '../reference/features-blob.ts';
import type { ModuleFeatures } from '../../native/types.ts';
import {
  checkModule, FINGERPRINT_FORMAT, MAX_MAGNITUDE, MAX_MODULES, MAX_RANK, packFingerprint, UNIT_ROUNDOFF,
  type Fingerprint, type ModuleFingerprint,
} from './fingerprint.ts';
import { adapterKeys, indexedPositions, layoutKey, shapeBox } from './keys.ts';

/** A module's position in its fingerprint is kept in the low 16 bits of its module-index rowid. */
export const POSITIONS = 65536;
/** SQLite's bound on parameters per statement is 32,766; stay well under it. */
const MAX_PARAMS = 9000;

export interface Describe { family: string; dtypes: string[] }

export interface NewFingerprint {
  source: 'evidence' | 'reference';
  evidenceId?: string;
  referenceAdapterId?: number;
  setId?: number;
  sha256: string | null;
  describe: Describe;
  /** null: the file could not be fingerprinted (`reason` says why); identical-file still applies. */
  fp: Fingerprint | null;
  reason?: string;
  /** The σ path's relative error (keys.ts FLOOR_*). */
  floor: number;
}

/** Inserts fingerprints with their index entries; returns their ids. Call inside a transaction. */
export async function insertFingerprints(tx: Queryable, rows: NewFingerprint[]): Promise<number[]> {
  if (rows.length === 0) return [];
  const top = await tx.get<{ m: number }>('SELECT COALESCE(MAX(id), 0) AS m FROM provenance_fingerprints');
  let next = (top?.m ?? 0) + 1;
  const layouts = new Map<string, number>();
  const fingerprintRows: unknown[][] = [];
  const moduleRows: number[][] = [];
  const adapterRows: number[][] = [];
  const ids: number[] = [];
  const at = new Date().toISOString();
  for (const r of rows) {
    const id = next++;
    ids.push(id);
    let layoutId: number | null = null;
    const indexRows: number[] = [];
    if (r.fp) {
      const names = r.fp.modules.map((m) => m.id);
      const key = layoutKey(names);
      layoutId = layouts.get(key) ?? await layoutIdOf(tx, names, true);
      layouts.set(key, layoutId!);
      const positions = indexedPositions(r.fp, r.floor);
      const dictionary = await moduleIds(tx, positions.map((p) => names[p]), true);
      for (const p of positions) {
        const box = shapeBox({ m: r.fp.modules[p], floor: r.floor });
        const moduleId = dictionary.get(names[p])!;
        const rowid = id * POSITIONS + p;
        indexRows.push(rowid);
        moduleRows.push([rowid, moduleId, moduleId, box.lo[0], box.hi[0], box.lo[1], box.hi[1], box.lo[2], box.hi[2], box.lo[3], box.hi[3]]);
      }
      const k = adapterKeys(r.fp);
      if (k.norm > 0) {
        const c = (v: number) => Math.max(-1e30, Math.min(1e30, v));
        adapterRows.push([id, layoutId!, layoutId!, c(k.norm), c(k.norm), ...k.projections.flatMap((p) => [c(p), c(p)])]);
      }
    }
    fingerprintRows.push([id, r.source, r.evidenceId ?? null, r.referenceAdapterId ?? null, r.setId ?? null, r.sha256,
      r.fp ? 'indexed' : 'unreadable', r.reason ?? '', layoutId, JSON.stringify(r.describe),
      r.fp && r.source === 'evidence' ? packFingerprint(r.fp) : null, JSON.stringify(indexRows), FINGERPRINT_FORMAT, at]);
  }
  await insertMany(tx, `INSERT INTO provenance_fingerprints (id, source, evidence_id, reference_adapter_id, set_id, sha256, status,
    reason, layout_id, describe, data, index_rows, format, indexed_at) VALUES`, fingerprintRows);
  await insertMany(tx, 'INSERT INTO provenance_module_index VALUES', moduleRows);
  await insertMany(tx, 'INSERT INTO provenance_adapter_index VALUES', adapterRows);
  return ids;
}

async function insertMany(tx: Queryable, head: string, rows: unknown[][]): Promise<void> {
  if (rows.length === 0) return;
  const per = Math.max(1, Math.floor(MAX_PARAMS / rows[0].length));
  const one = `(${rows[0].map(() => '?').join(', ')})`;
  for (let i = 0; i < rows.length; i += per) {
    const chunk = rows.slice(i, i + per);
    await tx.run(`${head} ${chunk.map(() => one).join(', ')}`, chunk.flat() as never);
  }
}

/** Removes fingerprints and their index entries. Call inside a transaction. */
export async function deleteFingerprints(tx: Queryable, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const marks = chunk.map(() => '?').join(', ');
    const rows = await tx.all<{ id: number; index_rows: string }>(`SELECT id, index_rows FROM provenance_fingerprints WHERE id IN (${marks})`, chunk);
    // only rowids that belong to the fingerprint: an edited index_rows cannot reach another's entries
    const entries = rows.flatMap((r) => numbersIn(r.index_rows).filter((x) => Math.floor(x / POSITIONS) === r.id));
    for (let j = 0; j < entries.length; j += 900) {
      const part = entries.slice(j, j + 900);
      await tx.run(`DELETE FROM provenance_module_index WHERE id IN (${part.map(() => '?').join(', ')})`, part);
    }
    await tx.run(`DELETE FROM provenance_adapter_index WHERE id IN (${marks})`, chunk);
    await tx.run(`DELETE FROM provenance_fingerprints WHERE id IN (${marks})`, chunk);
  }
}

function numbersIn(text: string): number[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is number => Number.isSafeInteger(x) && x >= 0).slice(0, MAX_MODULES) : [];
  } catch {
    return [];
  }
}

/** Module names → dictionary ids; with `create`, names not yet known are added. */
export async function moduleIds(q: Queryable, names: string[], create: boolean): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const unique = [...new Set(names)];
  for (let i = 0; i < unique.length; i += 500) {
    const chunk = unique.slice(i, i + 500);
    const marks = chunk.map(() => '(?)').join(', ');
    if (create) await q.run(`INSERT OR IGNORE INTO provenance_modules (name) VALUES ${marks}`, chunk);
    for (const r of await q.all<{ id: number; name: string }>(`SELECT id, name FROM provenance_modules WHERE name IN (${chunk.map(() => '?').join(', ')})`, chunk)) {
      out.set(r.name, r.id);
    }
  }
  return out;
}

/** The id of a module list (created with `create`), or null when no stored fingerprint has it. */
export async function layoutIdOf(q: Queryable, names: string[], create: boolean): Promise<number | null> {
  const key = layoutKey(names);
  if (create) await q.run('INSERT OR IGNORE INTO provenance_layouts (key, modules) VALUES (?, ?)', [key, JSON.stringify(names)]);
  const row = await q.get<{ id: number }>('SELECT id FROM provenance_layouts WHERE key = ?', [key]);
  return row?.id ?? null;
}

/** A layout's module ids, checked: a list of distinct strings of bounded length, sorted. */
export async function readLayout(q: Queryable, id: number): Promise<string[]> {
  const row = await q.get<{ key: string; modules: string }>('SELECT key, modules FROM provenance_layouts WHERE id = ?', [id]);
  if (!row) throw new AuditError('DB_ERROR', `the provenance index names layout ${id}, which is not stored`);
  let v: unknown;
  try { v = JSON.parse(row.modules); } catch { v = null; }
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_MODULES || !v.every((x) => typeof x === 'string' && x.length <= 1000) || new Set(v).size !== v.length) {
    throw new AuditError('DB_ERROR', `stored layout ${id} is not a list of at most ${MAX_MODULES} module ids`);
  }
  const names = v as string[];
  if (layoutKey(names) !== row.key) throw new AuditError('DB_ERROR', `stored layout ${id} no longer has the hash it was stored under`);
  return names;
}

export function readDescribe(text: string): Describe {
  let v: unknown;
  try { v = JSON.parse(text); } catch { v = null; }
  const o = v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
  return {
    family: typeof o.family === 'string' ? o.family.slice(0, 100) : 'unknown',
    dtypes: Array.isArray(o.dtypes) ? o.dtypes.filter((d): d is string => typeof d === 'string').slice(0, 16).map((d) => d.slice(0, 16)) : [],
  };
}

// ---- reference adapters: their σ(ΔW) stay in reference_adapters.features; read through the set's config.

export interface SetConfig { moduleIds: string[]; rank: number; scale: number; family: string }

/** What a reference set's config row must hold for its features to be read. */
export function readSetConfig(configText: string, setName: string): SetConfig {
  let v: unknown;
  try { v = JSON.parse(configText); } catch { v = null; }
  const c = v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
  const modules = Array.isArray(c.modules) ? c.modules : [];
  const ids = modules.map((m) => (m !== null && typeof m === 'object' ? (m as Record<string, unknown>).id : undefined));
  if (ids.length === 0 || ids.length > MAX_MODULES || !ids.every((id): id is string => typeof id === 'string' && id.length <= 1000) || new Set(ids).size !== ids.length) {
    throw new AuditError('DB_ERROR', `reference set "${setName}": its stored configuration does not list 1–${MAX_MODULES} distinct module ids`);
  }
  const rank = c.rank;
  if (typeof rank !== 'number' || !Number.isInteger(rank) || rank < 1 || rank > MAX_RANK) {
    throw new AuditError('DB_ERROR', `reference set "${setName}": its stored rank ${String(rank)} is not a whole number in 1–${MAX_RANK}`);
  }
  const scale = c.scale;
  if (typeof scale !== 'number' || !Number.isFinite(scale) || Math.abs(scale) > MAX_MAGNITUDE) {
    throw new AuditError('DB_ERROR', `reference set "${setName}": its stored scale ${String(scale)} is not a finite number`);
  }
  return { moduleIds: ids, rank, scale, family: typeof c.family === 'string' ? c.family : 'unknown' };
}

/** A reference adapter's fingerprint from its stored features: σ(ΔW) only (no factors, so no sketch);
 *  its factors are taken as float32, the precision LoRA-WiSE and our importers store. */
export function referenceFingerprint(features: ModuleFeatures[], scale: number): Fingerprint {
  const modules: ModuleFingerprint[] = features.map((f) => ({
    id: f.id, rank: f.sigmaDW.length, sigma: f.sigmaDW, roundoff: UNIT_ROUNDOFF.F32,
    factorNorm: Math.abs(scale) * f.normA * f.normB, sketch: null,
  }));
  for (const m of modules) {
    const bad = checkModule(m);
    if (bad) throw new AuditError('DB_ERROR', `stored features of module ${m.id}: ${bad}`);
  }
  return { modules: [...modules].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)) };
}

/** unpackFeatures + referenceFingerprint, with the set's config. */
export function readReferenceFingerprint(blob: unknown, config: SetConfig): Fingerprint {
  if (!(blob instanceof Uint8Array)) throw new AuditError('DB_ERROR', 'stored features are not a BLOB');
  return referenceFingerprint(unpackFeatures(blob, config.moduleIds, config.rank), config.scale);
}
