// What the reference set says about itself, computed once per set and mode and reused for every query
// (a CLI run or the app analysing many adapters against one set): the table, every reference's
// leave-one-name-out neighbours (for the out-of-distribution spread, best mode's variant choice and
// the conformal scores), and the regression fit.
import { conformalQuantile, NOMINAL, score } from './conformal.ts';
import { referenceSpread } from './ood.ts';
import { search } from './pairwise.ts';
import { fitRidge, tableRow, type RidgeModel } from './regression.ts';
import { buildTable, type FeatureTable } from './table.ts';
import { accuracyOf, CANDIDATES, decide, FAITHFUL, logCentre, lonoAccuracy, MAX_K, mergeTallies, needsAccuracy, talliesFrom, tallyOf, type Neighbours, type Tallies } from './variants.ts';
import type { ReferenceSet } from '../reference/types.ts';
import type { DsireMode, Variant } from './types.ts';
import { FNV1A_OFFSET, fnv1a } from '../common/hashing.ts';

export interface CandidateScore { variant: Variant; accuracy: number; mae: number }

export interface ReferenceModel {
  table: FeatureTable;
  lono: Neighbours;
  lonoTallies: Tallies;
  /** Each classifier's leave-one-name-out accuracy on the whole set: the weights of accuracy-weighted
   *  variants for a query (which is never one of the set's names). */
  accuracy: Float64Array;
  spread: Float64Array;
  variant: Variant;
  candidates: CandidateScore[];
  conformal: { q: number; coverage: number; n: number } | null;
  regression: RidgeModel | null;
}

/** Leave-one-name-out predictions of one variant for queries 0..Q−1 of the tallies (query q is table
 *  row rows[q]). */
export function lonoScores(table: FeatureTable, tallies: Tallies, rows: ArrayLike<number>, variant: Variant): { pred: Float64Array; centre: Float64Array; accuracy: number; mae: number } {
  const Q = rows.length;
  const pred = new Float64Array(Q);
  const centre = new Float64Array(Q);
  let hits = 0;
  let abs = 0;
  for (let q = 0; q < Q; q++) {
    const { votes, dist } = tallyOf(tallies, variant, q);
    pred[q] = table.sizes[decide(votes, dist)];
    centre[q] = logCentre(votes, table.sizes);
    const truth = table.labels[rows[q]];
    if (pred[q] === truth) hits++;
    abs += Math.abs(pred[q] - truth);
  }
  return { pred, centre, accuracy: hits / Q, mae: abs / Q };
}

/** Best mode's choice: the candidate with the lowest leave-one-name-out MAE; ties keep the earlier
 *  candidate, so the paper's rule stays unless another one measures strictly better on this set. */
export function chooseVariant(table: FeatureTable, tallies: Tallies, rows: ArrayLike<number>, among: Variant[] = CANDIDATES): { variant: Variant; candidates: CandidateScore[]; centre: Float64Array; pred: Float64Array } {
  let chosen = -1;
  let centre: Float64Array = new Float64Array(0);
  let pred: Float64Array = new Float64Array(0);
  const candidates: CandidateScore[] = [];
  among.forEach((variant, i) => {
    const s = lonoScores(table, tallies, rows, variant);
    candidates.push({ variant, accuracy: s.accuracy, mae: s.mae });
    if (chosen < 0 || s.mae < candidates[chosen].mae) { chosen = i; centre = s.centre; pred = s.pred; }
  });
  return { variant: among[chosen], candidates, centre, pred };
}

/** The leave-one-name-out search over `rows` for best mode's choice: the candidates whose vote is
 *  fixed are tallied during the search; those weighted by held-out accuracy afterwards, from the kept
 *  neighbours, each query with the accuracy of the other names (lonoAccuracy). Also returns every
 *  classifier's held-out accuracy over all of `rows`: the weights a query from outside them gets. */
export function lonoSearch(table: FeatureTable, rows: Int32Array, among: Variant[] = CANDIDATES, plainLoops = false): { nb: Neighbours; tallies: Tallies; accuracy: Float64Array } {
  const fixed = among.filter((v) => !needsAccuracy(v));
  const later = among.filter(needsAccuracy);
  const [found] = search(table, [{ queries: rows, refs: rows, excludeSameName: true, k: MAX_K, tallies: fixed }], { plainLoops });
  return { nb: found.nb!, ...lonoFinish(table, rows, fixed, later, found.nb!, found.tallies!, found.hits!) };
}

/** The accuracy-weighted candidates' tallies (`later`) after a leave-one-name-out search over `rows`
 *  (`nb`, its tallies of `fixed` and its hits), merged into one tally in candidate order. */
export function lonoFinish(table: FeatureTable, rows: ArrayLike<number>, fixed: Variant[], later: Variant[], nb: Neighbours, tallies: Tallies, hits: Float64Array): { tallies: Tallies; accuracy: Float64Array } {
  const accuracy = accuracyOf(hits, rows.length);
  if (later.length === 0) return { tallies, accuracy };
  return { tallies: mergeTallies(tallies, talliesFrom(later, table, nb, rows.length, lonoAccuracy(table, nb, rows)), rows.length), accuracy };
}

export function conformalFrom(table: FeatureTable, rows: ArrayLike<number>, centre: Float64Array, pred: Float64Array): { q: number; coverage: number; n: number } {
  const scores = Float64Array.from({ length: rows.length }, (_, i) => score(table.labels[rows[i]], centre[i], pred[i], table.sizes));
  return { q: conformalQuantile(scores, NOMINAL), coverage: NOMINAL, n: rows.length };
}

/** Hosts load a set afresh for every analysis (the case service does), so the cache is keyed by the
 *  set's content, not the object: its name, and a hash over every adapter's id, label, name and
 *  per-module ‖ΔW‖ (O(n·M), microseconds next to the leave-one-name-out pass it saves, ~1 s for a
 *  300-adapter rank-32 set). The two most recent sets are kept. */
const cache = new Map<string, Map<DsireMode, ReferenceModel>>();
const CACHE_SETS = 2;

function fingerprint(ref: ReferenceSet): string {
  let h = FNV1A_OFFSET;
  const mix = (x: number) => {
    const v = new Float64Array([x]);
    const u = new Uint32Array(v.buffer);
    h = fnv1a(fnv1a(h, u[0]), u[1]);
  };
  for (const a of ref.adapters) {
    mix(a.id);
    mix(a.label);
    for (let i = 0; i < a.name.length; i++) mix(a.name.charCodeAt(i));
    for (const f of a.features) { mix(f.normDW); mix(f.normA); }
  }
  return `${ref.name}\u0000${ref.adapters.length}\u0000${h.toString(16)}`;
}

export function prepareReference(ref: ReferenceSet, mode: DsireMode): ReferenceModel {
  const key = fingerprint(ref);
  let byMode = cache.get(key);
  if (byMode) {
    cache.delete(key);
    cache.set(key, byMode);
  } else {
    byMode = new Map();
    cache.set(key, byMode);
    while (cache.size > CACHE_SETS) cache.delete(cache.keys().next().value!);
  }
  const hit = byMode.get(mode);
  if (hit) return hit;
  const other = byMode.get(mode === 'best' ? 'faithful' : 'best');
  const table = other?.table ?? buildTable(ref);
  const rows = Int32Array.from({ length: table.n }, (_, i) => i);
  const found = other ?? lonoSearch(table, rows);
  const lono = 'lono' in found ? found.lono : found.nb;
  const lonoTallies = 'lono' in found ? found.lonoTallies : found.tallies;
  const accuracy = found.accuracy;
  const spread = other?.spread ?? referenceSpread(lono, table.n);
  let model: ReferenceModel;
  if (mode === 'faithful' || table.names.length < 2) {
    const s = lonoScores(table, lonoTallies, rows, FAITHFUL);
    model = { table, lono, lonoTallies, accuracy, spread, variant: FAITHFUL, candidates: [{ variant: FAITHFUL, accuracy: s.accuracy, mae: s.mae }], conformal: null, regression: null };
  } else {
    const choice = chooseVariant(table, lonoTallies, rows);
    const regression = table.n >= 3 ? fitRidge(Array.from(rows, (i) => tableRow(table, i)), Array.from(table.labels)) : null;
    model = { table, lono, lonoTallies, accuracy, spread, variant: choice.variant, candidates: choice.candidates, conformal: conformalFrom(table, rows, choice.centre, choice.pred), regression };
  }
  byMode.set(mode, model);
  return model;
}
