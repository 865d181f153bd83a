// One query against the index: identical files by SHA-256; candidates for same-update / rescaled /
// subset from the module R-tree (scale-free σ(ΔW) shapes), candidates for near from the adapter R-tree;
// then each candidate's stored fingerprint is read back (checked) and compared exactly (match.ts).
// Every list is bounded; what a bound cut is said in `notes`, never silently dropped.
import type { Queryable } from '../db/database.ts';
import { toApiError } from '../errors.ts';
import { readNearCalibration, type NearCalibration } from './calibration.ts';
import { FINGERPRINT_FORMAT, unpackFingerprint, type Fingerprint } from './fingerprint.ts';
import { adapterKeys, FLOOR_COMPUTED, FLOOR_REFERENCE, informative, shapeBox, sigmaDistance, tolerance } from './keys.ts';
import { compareFingerprints, type Comparison } from './match.ts';
import { describeMatch, type MatchKind, type ProvenanceMatch, type Where } from './describe.ts';
import { layoutIdOf, moduleIds, POSITIONS, readDescribe, readLayout, readReferenceFingerprint, readSetConfig, type Describe, type SetConfig } from './store.ts';

export interface SearchLimits {
  /** Module-index hits read per query; beyond it the pre-filter says it was saturated. */
  hits: number;
  /** Stored fingerprints compared in full per query (identical files, then the same-update box, then most module hits). */
  candidates: number;
  /** Stored adapters checked for `near` per query. */
  near: number;
  /** Matches reported per query (strongest kinds first); the rest are counted. */
  matches: number;
}

export const SEARCH_LIMITS: SearchLimits = { hits: 50_000, candidates: 1_000, near: 500, matches: 100 };
/** Half-width of the adapter-key box that looks for the same update directly (beyond the query's own
 *  tolerance), relative to ‖σ(ΔW)‖: a bfloat16 re-save moves it by well under 1 %. It keeps a same-update
 *  candidate first in line when the module shapes are not distinctive enough to rank candidates. */
const SAME_UPDATE_BOX = 0.02;

export interface Query {
  sha256: string;
  fp: Fingerprint | null;
  describe: Describe;
}

export interface SearchResult {
  matches: ProvenanceMatch[];
  /** Matches beyond the limit, not listed. */
  truncated: number;
  /** What was searched. */
  searched: { evidence: number; referenceAdapters: number; unreadable: number };
  /** Stored fingerprints that were candidates but do not read back: never matched, named here. */
  skipped: { where: Where | null; reason: string }[];
  near: NearCalibration;
  notes: string[];
}

interface Candidate {
  id: number;
  identical: boolean;
  /** Inside the same-update box of the adapter keys. */
  exact: boolean;
  hits: number;
}

interface StoredRow {
  id: number; source: string; evidence_id: string | null; reference_adapter_id: number | null; set_id: number | null;
  sha256: string | null; status: string; reason: string; layout_id: number | null; describe: string; data: unknown; format: number;
  /** A reference adapter's stored features and set, read with the row (one query for all candidates). */
  features: unknown; adapter_set_id: number | null;
}

export async function searchIndex(q: Queryable, query: Query, limits: SearchLimits = SEARCH_LIMITS): Promise<SearchResult> {
  const notes: string[] = [];
  const near = await readNearCalibration(q);
  const candidates = new Map<number, Candidate>();
  const candidate = (id: number) => {
    let c = candidates.get(id);
    if (!c) candidates.set(id, (c = { id, identical: false, exact: false, hits: 0 }));
    return c;
  };
  for (const r of await q.all<{ id: number }>(`SELECT id FROM provenance_fingerprints WHERE sha256 = ? LIMIT ${limits.candidates}`, [query.sha256])) {
    candidate(r.id).identical = true;
  }
  if (query.fp) {
    const layout = await layoutIdOf(q, query.fp.modules.map((m) => m.id), false);
    if (layout !== null) {
      const k = adapterKeys(query.fp);
      const exactBox = 2 * query.fp.modules.reduce((s, m) => s + tolerance({ m, floor: FLOOR_COMPUTED }), 0) + SAME_UPDATE_BOX * k.norm;
      for (const id of await adapterHits(q, layout, query.fp, exactBox, limits.candidates, notes, 'same-update')) candidate(id).exact = true;
      if (near.threshold !== null) {
        const d = near.threshold * k.norm / (1 - near.threshold);
        for (const id of await adapterHits(q, layout, query.fp, d, limits.near, notes, 'near')) candidate(id);
      }
    }
    for (const [id, hits] of await moduleHits(q, query.fp, limits.hits, notes)) candidate(id).hits = hits;
  }
  const ranked = [...candidates.values()].sort((a, b) => Number(b.identical) - Number(a.identical) || Number(b.exact) - Number(a.exact)
    || b.hits - a.hits || a.id - b.id);
  if (ranked.length > limits.candidates) notes.push(`${ranked.length} stored fingerprints were candidates; the first ${limits.candidates} were compared (identical files, then those inside the same-update box, then those with the most agreeing modules)`);
  const chosen = ranked.slice(0, limits.candidates);

  const rows = await storedRows(q, chosen.map((c) => c.id));
  const wheres = await resolveWheres(q, rows);
  const reader = new StoredReader(q);
  const matches: ProvenanceMatch[] = [];
  const skipped: SearchResult['skipped'] = [];
  for (const c of chosen) {
    const row = rows.get(c.id);
    const where = row ? wheres.get(row.id) : undefined;
    if (!row || !where) continue; // gone since the search began, or its evidence/adapter row is: the next sync drops it
    if (c.identical) {
      matches.push(describeMatch({ kind: 'identical-file', where, query, stored: readDescribe(row.describe), sha256: query.sha256 }));
      continue;
    }
    if (!query.fp || row.status !== 'indexed') continue;
    let stored: { fp: Fingerprint; floor: number };
    try {
      stored = await reader.read(row);
    } catch (e) {
      skipped.push({ where, reason: toApiError(e).message });
      continue;
    }
    const querySide = { fp: query.fp, floor: FLOOR_COMPUTED };
    const comparison: Comparison | null = compareFingerprints(querySide, stored);
    if (comparison) {
      matches.push(describeMatch({ kind: comparison.kind, where, query, stored: readDescribe(row.describe), comparison }));
      continue;
    }
    if (near.threshold !== null) {
      // every adapter within the threshold is in the near box; one found otherwise is measured all the same
      const d = sigmaDistance(query.fp, stored.fp);
      if (d !== null && d < near.threshold) matches.push(describeMatch({ kind: 'near', where, query, stored: readDescribe(row.describe), distance: d, near }));
    }
  }
  matches.sort(byStrength);
  return {
    matches: matches.slice(0, limits.matches), truncated: Math.max(0, matches.length - limits.matches),
    searched: await searched(q), skipped, near, notes,
  };
}

const ORDER: MatchKind[] = ['identical-file', 'same-update', 'rescaled', 'subset', 'near'];

function byStrength(a: ProvenanceMatch, b: ProvenanceMatch): number {
  return ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind) || (a.distance ?? 0) - (b.distance ?? 0) || b.modules.matched - a.modules.matched;
}

/** Stored fingerprints whose indexed modules' shape boxes overlap the query's: id → modules that overlap. */
async function moduleHits(q: Queryable, fp: Fingerprint, limit: number, notes: string[]): Promise<Map<number, number>> {
  const modules = fp.modules.filter((m) => informative({ m, floor: FLOOR_COMPUTED }));
  const dictionary = await moduleIds(q, modules.map((m) => m.id), false);
  const boxes = modules.filter((m) => dictionary.has(m.id)).map((m) => ({ module: dictionary.get(m.id)!, box: shapeBox({ m, floor: FLOOR_COMPUTED }) }));
  const hits = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < boxes.length && total <= limit; i += 100) {
    const chunk = boxes.slice(i, i + 100);
    const values = chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ');
    const params = chunk.flatMap(({ module, box }) => [module, box.lo[0], box.hi[0], box.lo[1], box.hi[1], box.lo[2], box.hi[2], box.lo[3], box.hi[3]]);
    const rows = await q.all<{ id: number }>(`WITH b(m, l1, h1, l2, h2, l3, h3, l4, h4) AS (VALUES ${values})
      SELECT r.id FROM b JOIN provenance_module_index r ON r.module_lo <= b.m AND r.module_hi >= b.m
        AND r.s1_lo <= b.h1 AND r.s1_hi >= b.l1 AND r.s2_lo <= b.h2 AND r.s2_hi >= b.l2
        AND r.s3_lo <= b.h3 AND r.s3_hi >= b.l3 AND r.s4_lo <= b.h4 AND r.s4_hi >= b.l4
      LIMIT ${limit - total + 1}`, params);
    total += rows.length;
    for (const r of rows) {
      const id = Math.floor(r.id / POSITIONS);
      hits.set(id, (hits.get(id) ?? 0) + 1);
    }
  }
  if (total > limit) notes.push(`the module pre-filter matched more than ${limit} stored modules (their σ(ΔW) shapes are not distinctive); candidates may be missing`);
  return hits;
}

/** Stored adapters of the query's layout within `d` of the query on every adapter key (keys.ts): all
 *  those whose concatenated σ(ΔW) lies within distance d of the query's. */
async function adapterHits(q: Queryable, layout: number, fp: Fingerprint, d: number, limit: number, notes: string[], what: string): Promise<number[]> {
  const k = adapterKeys(fp);
  if (!(k.norm > 0) || !Number.isFinite(d)) return [];
  const params = [layout, layout, k.norm + d, k.norm - d, ...k.projections.flatMap((p) => [p + d, p - d])];
  const rows = await q.all<{ id: number }>(`SELECT id FROM provenance_adapter_index WHERE layout_lo <= ? AND layout_hi >= ?
    AND norm_lo <= ? AND norm_hi >= ? AND p1_lo <= ? AND p1_hi >= ? AND p2_lo <= ? AND p2_hi >= ? AND p3_lo <= ? AND p3_hi >= ?
    LIMIT ${limit + 1}`, params);
  if (rows.length > limit) notes.push(`more than ${limit} stored adapters fall inside the ${what} pre-filter; ${limit} were checked`);
  return rows.slice(0, limit).map((r) => r.id);
}

async function storedRows(q: Queryable, ids: number[]): Promise<Map<number, StoredRow>> {
  const out = new Map<number, StoredRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    for (const r of await q.all<StoredRow>(`SELECT f.id, f.source, f.evidence_id, f.reference_adapter_id, f.set_id, f.sha256, f.status,
      f.reason, f.layout_id, f.describe, f.data, f.format, a.features, a.set_id AS adapter_set_id FROM provenance_fingerprints f
      LEFT JOIN reference_adapters a ON f.source = 'reference' AND a.id = f.reference_adapter_id
      WHERE f.id IN (${chunk.map(() => '?').join(', ')})`, chunk)) out.set(r.id, r);
  }
  return out;
}

/** Reads stored fingerprints back, caching layouts and set configs for the query. */
class StoredReader {
  private readonly layouts = new Map<number, Promise<string[]>>();
  private readonly configs = new Map<number, Promise<SetConfig>>();
  private readonly q: Queryable;
  constructor(q: Queryable) {
    this.q = q;
  }

  async read(row: StoredRow): Promise<{ fp: Fingerprint; floor: number }> {
    if (row.format !== FINGERPRINT_FORMAT) throw new Error(`stored in fingerprint format ${row.format}, not ${FINGERPRINT_FORMAT}`);
    if (row.source === 'evidence') {
      if (row.layout_id === null) throw new Error('the stored fingerprint names no module layout');
      const names = await this.layout(row.layout_id);
      return { fp: unpackFingerprint(row.data, names), floor: FLOOR_COMPUTED };
    }
    if (row.adapter_set_id === null) throw new Error('the reference adapter is no longer stored');
    return { fp: readReferenceFingerprint(row.features, await this.config(row.adapter_set_id)), floor: FLOOR_REFERENCE };
  }

  private layout(id: number): Promise<string[]> {
    let p = this.layouts.get(id);
    if (!p) this.layouts.set(id, (p = readLayout(this.q, id)));
    return p;
  }

  private config(setId: number): Promise<SetConfig> {
    let p = this.configs.get(setId);
    if (!p) {
      p = this.q.get<{ name: string; config: string }>('SELECT name, config FROM reference_sets WHERE id = ?', [setId])
        .then((r) => {
          if (!r) throw new Error('the reference set is no longer stored');
          return readSetConfig(r.config, r.name);
        });
      this.configs.set(setId, p);
    }
    return p;
  }
}

/** Where each stored fingerprint comes from, in the words of its case or reference set. */
async function resolveWheres(q: Queryable, rows: Map<number, StoredRow>): Promise<Map<number, Where>> {
  const out = new Map<number, Where>();
  const evidence = [...rows.values()].filter((r) => r.source === 'evidence' && typeof r.evidence_id === 'string');
  for (let i = 0; i < evidence.length; i += 500) {
    const chunk = evidence.slice(i, i + 500);
    const found = new Map((await q.all<{ id: string; case_id: string; file_name: string; title: string }>(
      `SELECT e.id, e.case_id, e.file_name, c.title FROM evidence e JOIN cases c ON c.id = e.case_id WHERE e.id IN (${chunk.map(() => '?').join(', ')})`,
      chunk.map((r) => r.evidence_id!))).map((e) => [e.id, e]));
    for (const r of chunk) {
      const e = found.get(r.evidence_id!);
      if (e) out.set(r.id, { source: 'evidence', caseId: e.case_id, caseTitle: String(e.title), evidenceId: e.id, fileName: String(e.file_name) });
    }
  }
  const refs = [...rows.values()].filter((r) => r.source === 'reference' && Number.isSafeInteger(r.reference_adapter_id));
  for (let i = 0; i < refs.length; i += 500) {
    const chunk = refs.slice(i, i + 500);
    const found = new Map((await q.all<{ id: number; name: string; label: number; source: string; set_name: string }>(
      `SELECT a.id, a.name, a.label, a.source, s.name AS set_name FROM reference_adapters a JOIN reference_sets s ON s.id = a.set_id
       WHERE a.id IN (${chunk.map(() => '?').join(', ')})`, chunk.map((r) => r.reference_adapter_id!))).map((a) => [a.id, a]));
    for (const r of chunk) {
      const a = found.get(r.reference_adapter_id!);
      if (a) out.set(r.id, { source: 'reference', set: String(a.set_name), adapterId: a.id, name: String(a.name), label: Number(a.label), file: String(a.source) });
    }
  }
  return out;
}

async function searched(q: Queryable): Promise<SearchResult['searched']> {
  const out = { evidence: 0, referenceAdapters: 0, unreadable: 0 };
  for (const r of await q.all<{ source: string; status: string; n: number }>(
    'SELECT source, status, COUNT(*) AS n FROM provenance_fingerprints GROUP BY source, status')) {
    if (r.status !== 'indexed') out.unreadable += r.n;
    else if (r.source === 'evidence') out.evidence += r.n;
    else out.referenceAdapters += r.n;
  }
  return out;
}
