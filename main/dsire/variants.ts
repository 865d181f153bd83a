// How per-classifier neighbours become one estimate. The paper's rule is one vote per classifier for
// its single nearest reference, majority wins; the other variants are measured against it (evaluate)
// and used by `best` mode only when they measure better on the reference set itself.
import type { FeatureTable } from './table.ts';
import type { TallyRule } from '../../native/neighbours.ts';
import type { Variant } from './types.ts';

export const FAITHFUL: Variant = { name: 'σ(A)+σ(B)+σ(ΔW), 1-NN (paper)', features: 'all', k: 1, weighting: 'none' };
export const DW_ONLY: Variant = { name: 'σ(ΔW) only, 1-NN', features: 'sigmaDW', k: 1, weighting: 'none' };
export const ALL_K3: Variant = { name: 'σ(A)+σ(B)+σ(ΔW), 3-NN inverse-distance', features: 'all', k: 3, weighting: 'inverse-distance' };
export const DW_K3: Variant = { name: 'σ(ΔW) only, 3-NN inverse-distance', features: 'sigmaDW', k: 3, weighting: 'inverse-distance' };
export const NORMS: Variant = { name: 'Frobenius norms only, 1-NN', features: 'norms', k: 1, weighting: 'none' };

/** What best mode chooses among (faithful first: it wins every tie). */
export const CANDIDATES: Variant[] = [FAITHFUL, DW_ONLY, ALL_K3, DW_K3];
/** What evaluate reports side by side. */
export const ABLATIONS: Variant[] = [FAITHFUL, DW_ONLY, NORMS, ALL_K3, DW_K3];
export const MAX_K = 3;

/** Neighbours of one or more queries: for query q, classifier c, rank j < k the reference row and
 *  the (normalised) L2 distance; -1 where fewer than j+1 references were eligible. */
export interface Neighbours {
  k: number;
  classifiers: number;
  idx: Int32Array;
  dist: Float64Array;
}

/** Per query, the votes and summed neighbour distances per size of each of `variants`, at
 *  [(q·variants.length + v)·sizes + s]: everything evaluation and calibration read from neighbours. */
export interface Tallies { variants: Variant[]; sizes: number; votes: Float64Array; dist: Float64Array }

/** Does classifier c take part in this variant? (norms variants run on a norms table, all classifiers.) */
function uses(variant: Variant, table: FeatureTable, c: number): boolean {
  return variant.features !== 'sigmaDW' || table.kinds[c] === 'sigmaDW';
}

/** A variant as the vote reads it, on this table: the one description both the loops below and the
 *  WebAssembly kernel (native/neighbours.ts) count from. */
export function ruleOf(variant: Variant, table: FeatureTable): TallyRule {
  return {
    k: variant.k,
    weighted: variant.weighting === 'inverse-distance',
    voters: Uint8Array.from(table.kinds, (_, c) => (uses(variant, table, c) ? 1 : 0)),
  };
}

/** Adds one classifier's vote for one query to votes / dist[at + size]: its neighbours are rows
 *  idx[o … o+k) (−1 from the first missing one) at distances dist[o …]. With k' = min(rule k, k):
 *  one vote per neighbour when k' = 1 or unweighted (only k' = 1 is used unweighted), otherwise
 *  inverse-distance weights normalised so every classifier still casts one vote in total. The
 *  kernel adds in this order too (per query, classifier after classifier, rank after rank), which
 *  is what keeps the two bit-identical. */
export function addVote(rule: TallyRule, k: number, sizeIndex: Int32Array, idx: Int32Array, nbDist: Float64Array, o: number,
  votes: Float64Array, dist: Float64Array, at: number): void {
  const kr = Math.min(rule.k, k);
  if (kr === 1 || !rule.weighted) {
    for (let j = 0; j < kr; j++) {
      const r = idx[o + j];
      if (r < 0) break;
      const s = at + sizeIndex[r];
      votes[s] += 1;
      dist[s] += nbDist[o + j];
    }
    return;
  }
  let total = 0;
  for (let j = 0; j < kr && idx[o + j] >= 0; j++) total += 1 / (nbDist[o + j] + 1e-12);
  for (let j = 0; j < kr; j++) {
    const r = idx[o + j];
    if (r < 0) break;
    const s = at + sizeIndex[r];
    votes[s] += 1 / (nbDist[o + j] + 1e-12) / total;
    dist[s] += nbDist[o + j];
  }
}

/** Query q's tally under one rule, added to votes / dist[at …]. */
function tallyInto(rule: TallyRule, table: FeatureTable, nb: Neighbours, q: number, votes: Float64Array, dist: Float64Array, at: number): void {
  const base = q * nb.classifiers * nb.k;
  for (let c = 0; c < nb.classifiers; c++) {
    if (rule.voters[c]) addVote(rule, nb.k, table.sizeIndex, nb.idx, nb.dist, base + c * nb.k, votes, dist, at);
  }
}

export function talliesFrom(variants: Variant[], table: FeatureTable, nb: Neighbours, queries: number): Tallies {
  const S = table.sizes.length;
  const V = variants.length;
  const rules = variants.map((v) => ruleOf(v, table));
  const votes = new Float64Array(queries * V * S);
  const dist = new Float64Array(queries * V * S);
  for (let q = 0; q < queries; q++) rules.forEach((rule, v) => tallyInto(rule, table, nb, q, votes, dist, (q * V + v) * S));
  return { variants, sizes: S, votes, dist };
}

/** Query q's tally for one variant (views into `t`). */
export function tallyOf(t: Tallies, variant: Variant, q: number): { votes: Float64Array; dist: Float64Array } {
  const v = t.variants.indexOf(variant);
  if (v < 0) throw new Error(`no tally was kept for the variant "${variant.name}"`);
  const o = (q * t.variants.length + v) * t.sizes;
  return { votes: t.votes.subarray(o, o + t.sizes), dist: t.dist.subarray(o, o + t.sizes) };
}

/** Votes and summed neighbour distances per reference size for query q. */
export function tally(variant: Variant, table: FeatureTable, nb: Neighbours, q: number): { votes: Float64Array; dist: Float64Array } {
  const S = table.sizes.length;
  const votes = new Float64Array(S);
  const dist = new Float64Array(S);
  tallyInto(ruleOf(variant, table), table, nb, q, votes, dist, 0);
  return { votes, dist };
}

/** The winning size index. Tie-break (documented in the report's method section): most votes; among
 *  tied sizes the smallest summed distance of the neighbours that voted for them; then the smaller
 *  size. (The official code takes whichever tied size comes first in column order.) */
export function decide(votes: ArrayLike<number>, dist: ArrayLike<number>): number {
  let best = -1;
  for (let s = 0; s < votes.length; s++) {
    if (votes[s] <= 0) continue;
    if (best < 0 || votes[s] > votes[best] || (votes[s] === votes[best] && dist[s] < dist[best])) best = s;
  }
  return best < 0 ? 0 : best;
}

/** Vote-weighted mean of log size: the centre the conformal interval is built around. */
export function logCentre(votes: ArrayLike<number>, sizes: number[]): number {
  let w = 0;
  let m = 0;
  for (let s = 0; s < votes.length; s++) { w += votes[s]; m += votes[s] * Math.log(sizes[s]); }
  return w > 0 ? m / w : Math.log(sizes[0]);
}
