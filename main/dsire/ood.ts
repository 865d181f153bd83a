// Is the query like anything in the reference set? Each classifier's nearest-neighbour distance for
// the query is compared with how far reference adapters lie from one another: for classifier c, the
// 95th percentile of the references' own leave-one-name-out nearest distances. The score is the
// median over classifiers of the ratio; a reference adapter itself scores below 1 on most
// classifiers by construction, so a median above 2 means the query is farther from every reference
// than nearly any reference is from the rest.
import { FEATURE_LABEL } from './finite.ts';
import { median, percentile } from './stats.ts';
import type { FeatureTable } from './table.ts';
import type { Neighbours } from './variants.ts';
import type { AnalysisResult, FeatureKind } from './types.ts';

export const OOD_THRESHOLD = 2;

/** Per classifier: the 95th percentile of the reference adapters' leave-one-name-out 1-NN distances. */
export function referenceSpread(lono: Neighbours, n: number): Float64Array {
  const C = lono.classifiers;
  const out = new Float64Array(C);
  const col = new Float64Array(n);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < n; i++) col[i] = lono.dist[(i * C + c) * lono.k];
    out[c] = percentile(col, 95);
  }
  return out;
}

export function outOfDistribution(table: FeatureTable, spread: Float64Array, query: Neighbours): NonNullable<AnalysisResult['outOfDistribution']> {
  const ratios: number[] = [];
  const byKind: Record<FeatureKind, number[]> = { sigmaA: [], sigmaB: [], sigmaDW: [] };
  for (let c = 0; c < query.classifiers; c++) {
    // A classifier on which the references do not spread at all (e.g. a factor left at zero in every
    // one) has no scale to judge a distance by. A NaN distance is kept: it makes the score NaN rather
    // than being left out of the median.
    if (!(spread[c] > 0)) continue;
    const r = query.dist[c * query.k] / spread[c];
    ratios.push(r);
    byKind[table.kinds[c]].push(r);
  }
  // The median drops NaN (stats.percentile), so a score is only taken over ratios that are all numbers.
  const score = ratios.length > 0 && ratios.every(Number.isFinite) ? median(ratios) : Number.NaN;
  // Written so that NaN fails the test: a score that is not a number is flagged, never "within".
  const flagged = !(score <= OOD_THRESHOLD);
  const fmt = (x: number) => `${x < 10 ? x.toFixed(1) : x.toFixed(0)}×`;
  if (!Number.isFinite(score)) {
    const why = ratios.length === 0
      ? 'on every classifier the reference adapters lie at distance 0 from their nearest neighbour of another name, so there is no spread to compare the adapter\'s distance with'
      : 'the adapter\'s nearest-neighbour distances are not all finite numbers';
    return { flagged, score, threshold: OOD_THRESHOLD, explanation: `The distribution check could not be made: ${why}. The estimate below is not supported by it.` };
  }
  let explanation = `The adapter's median nearest-neighbour distance is ${fmt(score)} the reference set's own 95th percentile`
    + ` (flagged above ${fmt(OOD_THRESHOLD)}).`;
  if (flagged) {
    explanation += ' It is farther from every reference adapter than nearly any reference is from the others: it was probably not trained with this set\'s recipe, base model or tool, and the estimate below is not trustworthy.';
  }
  const kinds = (Object.keys(byKind) as FeatureKind[]).filter((k) => table.kind === 'spectra' && byKind[k].length > 0);
  const medians = kinds.map((k) => ({ k, m: median(byKind[k]) }));
  const far = medians.filter((x) => !(x.m <= OOD_THRESHOLD));
  const near = medians.filter((x) => x.m <= OOD_THRESHOLD);
  if (far.length > 0 && near.length > 0) {
    explanation += ` By feature: ${medians.map((x) => `${FEATURE_LABEL[x.k]} ${fmt(x.m)}`).join(', ')}.`;
    if (near.length === 1 && near[0].k === 'sigmaDW') {
      explanation += ' σ(ΔW) looks like the references while σ(A) and σ(B) do not: consistent with A and B rescaled against each other (B·G, G⁻¹·A), which leaves the update unchanged, or a tool that initialises A differently.';
    }
  }
  return { flagged, score, threshold: OOD_THRESHOLD, explanation };
}
