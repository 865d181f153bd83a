// Naming the base model an adapter was trained from, by the hashes its metadata states: kohya-ss
// sd-scripts writes ss_new_sd_model_hash (SHA-256 of the whole checkpoint) and ss_sd_model_hash (the
// legacy A1111 hash, 8 hex digits). The shipped table (base-models.json beside this file, every entry
// with its source) can be extended by the examiner with base-models.json in the data folder; that
// file is validated whole and refused whole, never half used. A match says the trainer's checkpoint
// had these bytes; a stated hash is still the file's own claim.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditError, toApiError } from '../errors.ts';
import shipped from './base-models.json' with { type: 'json' };
import type { BaseModelHint } from './model.ts';
import { visible } from './disclosure.ts';
import { UNPRINTABLE } from '../common/text.ts';

export interface BaseModelEntry {
  name: string;
  /** The structural family the checkpoint belongs to, when known (checked against the adapter's shape). */
  architecture?: BaseModelHint;
  /** SHA-256 of the whole checkpoint file, lower-case hex. */
  sha256?: string;
  /** The legacy A1111 hash (8 hex digits), lower case. */
  legacyHash?: string;
  /** Where the hash comes from: a repository and path, a file's metadata. */
  source: string;
}

export interface BaseModelTable {
  entries: BaseModelEntry[];
  /** The examiner's own table when one was read (or refused). */
  userFile: string | null;
  /** Why the examiner's table was refused; the shipped table is used alone then. */
  problem: string | null;
}

/** What the evidence says about its base model: named from the table, or why not. */
export interface BaseModelIdentity {
  /** matched: a stated hash is in the table; unknown: hashes stated, none known; conflict: the stated
   *  hashes name different entries or contradict the one they match; none: no base-model hash stated. */
  status: 'matched' | 'unknown' | 'conflict' | 'none';
  name: string | null;
  matchedBy: ('sha256' | 'legacy')[];
  source: string | null;
  /** What the file states (untrusted): the hashes as normalised, the name it gives. */
  stated: { sha256: string | null; legacyHash: string | null; name: string | null };
  /** Whether the matched checkpoint's architecture is the one the adapter's layers fit (null: not known). */
  shapeAgrees: boolean | null;
  /** One sentence for the evidence card and the report. */
  summary: string;
}

/** The identity of a file that states nothing about its base model (or could not be read). */
export const NO_BASE_MODEL_IDENTITY: BaseModelIdentity = {
  status: 'none', name: null, matchedBy: [], source: null, stated: { sha256: null, legacyHash: null, name: null }, shapeAgrees: null,
  summary: 'no base model hash stated',
};

export const USER_TABLE_NAME = 'base-models.json';
const USER_TABLE_MAX_BYTES = 4 * 2 ** 20;
const MAX_ENTRIES = 10_000;
const ARCHITECTURES: readonly BaseModelHint[] = ['sd1', 'sd2', 'sdxl', 'sd3', 'flux', 'transformer', 'unknown'];
const ENTRY_KEYS = new Set(['name', 'architecture', 'sha256', 'legacyHash', 'source', 'note']);
const SHA256 = /^[0-9a-f]{64}$/;
const LEGACY = /^[0-9a-f]{8}$/;

/** A table as read from JSON → its entries, or BAD_CONFIG naming the first problem. */
export function parseBaseModelTable(value: unknown, file: string): BaseModelEntry[] {
  if (!isObject(value) || !Array.isArray(value.entries)) throw new AuditError('BAD_CONFIG', 'a base-model table is a JSON object with an "entries" list', file);
  if (value.entries.length > MAX_ENTRIES) throw new AuditError('BAD_CONFIG', `the base-model table lists ${value.entries.length} entries, more than the ${MAX_ENTRIES} allowed`, file);
  const bySha = new Map<string, string>();
  const byLegacy = new Map<string, string>();
  return value.entries.map((raw, i) => {
    const at = `entry ${i + 1}`;
    if (!isObject(raw)) throw new AuditError('BAD_CONFIG', `${at} of the base-model table is not an object`, file);
    const unknown = Object.keys(raw).find((k) => !ENTRY_KEYS.has(k));
    if (unknown !== undefined) throw new AuditError('BAD_CONFIG', `${at} of the base-model table has an unknown field ${JSON.stringify(unknown.slice(0, 40))} (allowed: ${[...ENTRY_KEYS].join(', ')})`, file);
    const name = text(raw.name, 200, `${at}: "name"`, file);
    const source = text(raw.source, 1000, `${at} (${name}): "source"`, file);
    const entry: BaseModelEntry = { name, source };
    if (raw.architecture !== undefined) {
      if (!ARCHITECTURES.includes(raw.architecture as BaseModelHint)) throw new AuditError('BAD_CONFIG', `${at} (${name}): "architecture" is one of ${ARCHITECTURES.join(', ')}`, file);
      entry.architecture = raw.architecture as BaseModelHint;
    }
    if (raw.sha256 !== undefined) entry.sha256 = hex(raw.sha256, SHA256, `${at} (${name}): "sha256" is 64 hex digits`, file);
    if (raw.legacyHash !== undefined) entry.legacyHash = hex(raw.legacyHash, LEGACY, `${at} (${name}): "legacyHash" is 8 hex digits`, file);
    if (!entry.sha256 && !entry.legacyHash) throw new AuditError('BAD_CONFIG', `${at} (${name}) names no hash: give "sha256" or "legacyHash"`, file);
    // One hash, two names would make a match say nothing.
    for (const [key, seen] of [[entry.sha256, bySha], [entry.legacyHash, byLegacy]] as const) {
      if (!key) continue;
      const other = seen.get(key);
      if (other !== undefined && other !== name) throw new AuditError('BAD_CONFIG', `${at} (${name}) has the same hash ${key} as "${other}"`, file);
      seen.set(key, name);
    }
    return entry;
  });
}

/** The shipped table (validated like any other, so a bad edit to it fails the tests). */
export function shippedBaseModels(): BaseModelEntry[] {
  return parseBaseModelTable(shipped, 'main/intake/base-models.json');
}

let userFolder: string | null = null;

/** Hosts name their data folder once; every inspection then reads <folder>/base-models.json. */
export function useBaseModelFolder(folder: string | null): void {
  userFolder = folder;
}

/** The shipped table plus the examiner's, read afresh (it may have been edited since the last file).
 *  A missing file is no problem; a bad one is refused whole and said so. */
export async function loadBaseModelTable(folder: string | null = userFolder): Promise<BaseModelTable> {
  const entries = shippedBaseModels();
  if (folder === null) return { entries, userFile: null, problem: null };
  const file = join(folder, USER_TABLE_NAME);
  try {
    const st = await stat(file).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
    if (!st) return { entries, userFile: null, problem: null };
    if (!st.isFile()) throw new AuditError('BAD_CONFIG', 'is not a file', file);
    if (st.size > USER_TABLE_MAX_BYTES) throw new AuditError('BAD_CONFIG', `is ${st.size} bytes, more than the ${USER_TABLE_MAX_BYTES}-byte limit for a base-model table`, file);
    let value: unknown;
    try {
      value = JSON.parse(await readFile(file, 'utf8'));
    } catch (e) {
      throw new AuditError('BAD_CONFIG', `is not valid JSON (${(e as Error).message})`, file);
    }
    const own = parseBaseModelTable(value, file);
    // The examiner's entries may not rename a shipped hash: that would turn a sourced name into another.
    const all = parseBaseModelTable({ entries: [...entries, ...own] }, file);
    return { entries: all, userFile: file, problem: null };
  } catch (e) {
    return { entries, userFile: file, problem: toApiError(e).message };
  }
}

/** The file's stated base-model hashes (and name) against the table. */
export function identifyBaseModel(
  stated: { sha256?: string | undefined; legacyHash?: string | undefined; name?: string | undefined },
  table: BaseModelEntry[],
  structural: BaseModelHint | null,
): BaseModelIdentity {
  const sha256 = normalise(stated.sha256, SHA256);
  const legacyHash = normalise(stated.legacyHash, LEGACY);
  const name = stated.name?.trim() ? stated.name.trim() : null;
  const said = { sha256, legacyHash, name };
  const none = (status: 'none' | 'unknown', summary: string): BaseModelIdentity => ({ status, name: null, matchedBy: [], source: null, stated: said, shapeAgrees: null, summary });
  if (!sha256 && !legacyHash) {
    const unreadable = [stated.sha256, stated.legacyHash].some((v) => v !== undefined && v.trim() !== '' && v.trim() !== 'None');
    return none('none', unreadable ? 'base model hash not in a known form (neither a SHA-256 nor an 8-digit legacy hash)'
      : name ? 'no base model hash stated; the file names the base model only' : 'no base model hash stated');
  }
  const bySha = sha256 ? table.find((e) => e.sha256 === sha256) : undefined;
  const byLegacy = legacyHash ? table.find((e) => e.legacyHash === legacyHash) : undefined;
  if (!bySha && !byLegacy) return none('unknown', 'unknown hash: the base model\'s hash is in no table entry');
  const entry = (bySha ?? byLegacy)!;
  const matchedBy: BaseModelIdentity['matchedBy'] = [...(bySha ? ['sha256' as const] : []), ...(byLegacy ? ['legacy' as const] : [])];
  // Both hashes stated: they must name one checkpoint, and neither may contradict the matched entry.
  const contradiction = (bySha && byLegacy && bySha !== byLegacy) ? `SHA-256 names "${bySha.name}", the legacy hash "${byLegacy.name}"`
    : (sha256 && entry.sha256 && entry.sha256 !== sha256) ? `the legacy hash matches "${entry.name}" but the SHA-256 does not`
    : (legacyHash && entry.legacyHash && entry.legacyHash !== legacyHash) ? `the SHA-256 matches "${entry.name}" but the legacy hash does not`
    : null;
  if (contradiction) {
    return { status: 'conflict', name: entry.name, matchedBy, source: entry.source, stated: said, shapeAgrees: null, summary: `base model hashes disagree: ${contradiction}` };
  }
  const shapeAgrees = entry.architecture && structural && structural !== 'unknown' ? entry.architecture === structural : null;
  const shape = shapeAgrees === false ? `; but the adapter's layers fit ${structural}, not ${entry.architecture}` : '';
  return { status: 'matched', name: entry.name, matchedBy, source: entry.source, stated: said, shapeAgrees,
    summary: `base model: ${entry.name} (hash matches: ${matchedBy.map((m) => (m === 'sha256' ? 'SHA-256' : 'legacy hash')).join(' and ')})${shape}` };
}

/** A stored identity (a case database row, an imported archive: hostile) → checked, text escaped and
 *  capped again; anything of the wrong type falls back to "none". */
export function readBaseModelIdentity(v: unknown): BaseModelIdentity {
  if (!isObject(v) || !['matched', 'unknown', 'conflict', 'none'].includes(v.status as string)) return NO_BASE_MODEL_IDENTITY;
  const str = (x: unknown, max: number) => (typeof x === 'string' ? visible(x, max).text : null);
  const stated = isObject(v.stated) ? v.stated : {};
  return {
    status: v.status as BaseModelIdentity['status'],
    name: str(v.name, 200),
    matchedBy: Array.isArray(v.matchedBy) ? [...new Set(v.matchedBy.filter((m): m is 'sha256' | 'legacy' => m === 'sha256' || m === 'legacy'))] : [],
    source: str(v.source, 1000),
    stated: { sha256: str(stated.sha256, 64), legacyHash: str(stated.legacyHash, 8), name: str(stated.name, 200) },
    shapeAgrees: typeof v.shapeAgrees === 'boolean' ? v.shapeAgrees : null,
    summary: str(v.summary, 2000) ?? NO_BASE_MODEL_IDENTITY.summary,
  };
}

function normalise(v: string | undefined, form: RegExp): string | null {
  const s = v?.trim().toLowerCase();
  return s && form.test(s) ? s : null;
}

function text(v: unknown, max: number, what: string, file: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new AuditError('BAD_CONFIG', `${what} is a non-empty string`, file);
  if (v.length > max) throw new AuditError('BAD_CONFIG', `${what} is longer than ${max} characters`, file);
  if (UNPRINTABLE.test(v)) throw new AuditError('BAD_CONFIG', `${what} holds control or direction-changing characters`, file);
  return v.trim();
}

function hex(v: unknown, form: RegExp, what: string, file: string): string {
  const s = typeof v === 'string' ? v.trim().toLowerCase() : '';
  if (!form.test(s)) throw new AuditError('BAD_CONFIG', what, file);
  return s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
