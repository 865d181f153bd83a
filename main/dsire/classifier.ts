// The paper's classifier for one query: one exact nearest-neighbour search (L2, normalised units)
// per feature vector — σ(A_l), σ(B_l), σ(ΔW_l) for every module l, 3·M classifiers — then a vote.
import { squaredDistance, type FeatureTable } from './table.ts';
import { decide, tally, type Neighbours } from './variants.ts';
import type { ModulePrediction, Neighbour, Variant } from './types.ts';

export interface QuerySearch {
  nb: Neighbours;
  /** Squared distance to each reference over the concatenated normalised vector (all classifiers). */
  overall: Float64Array;
}

/** Exact k nearest references per classifier for one query (already in the table's layout). Equal
 *  distances keep the reference listed first in the set. */
export function searchQuery(table: FeatureTable, query: Float64Array[], k: number): QuerySearch {
  const C = table.blocks.length;
  const n = table.n;
  const idx = new Int32Array(C * k).fill(-1);
  const dist = new Float64Array(C * k).fill(Number.NaN);
  const overall = new Float64Array(n);
  const topD = new Float64Array(k);
  const topR = new Int32Array(k);
  for (let c = 0; c < C; c++) {
    const block = table.blocks[c];
    const d = table.dims[c];
    const q = query[c];
    topD.fill(Infinity);
    topR.fill(-1);
    for (let i = 0; i < n; i++) {
      const s = squaredDistance(block, i * d, q);
      overall[i] += s;
      if (s < topD[k - 1]) {
        let j = k - 1;
        while (j > 0 && s < topD[j - 1]) { topD[j] = topD[j - 1]; topR[j] = topR[j - 1]; j--; }
        topD[j] = s;
        topR[j] = i;
      }
    }
    for (let j = 0; j < k && topR[j] >= 0; j++) { idx[c * k + j] = topR[j]; dist[c * k + j] = Math.sqrt(topD[j]); }
  }
  return { nb: { k, classifiers: C, idx, dist }, overall };
}

export interface Classification {
  estimate: number;
  votes: { size: number; count: number }[];
  /** Raw per-size arrays in table.sizes order (for the interval and cross-checks). */
  voteArray: Float64Array;
  distArray: Float64Array;
}

/** `accuracy`: the classifiers' held-out accuracy on the reference set (ReferenceModel.accuracy), for
 *  variants weighted by it. */
export function classify(table: FeatureTable, search: QuerySearch, variant: Variant, accuracy?: ArrayLike<number>): Classification {
  const { votes, dist } = tally(variant, table, search.nb, 0, accuracy);
  const s = decide(votes, dist);
  return {
    estimate: table.sizes[s],
    votes: table.sizes.map((size, i) => ({ size, count: votes[i] })),
    voteArray: votes,
    distArray: dist,
  };
}

/** Every classifier's own 1-NN answer: what an auditor reads to see where the evidence comes from. */
export function perModule(table: FeatureTable, search: QuerySearch): ModulePrediction[] {
  const { nb } = search;
  const out: ModulePrediction[] = [];
  for (let c = 0; c < nb.classifiers; c++) {
    const r = nb.idx[c * nb.k];
    if (r < 0) continue;
    out.push({
      id: table.moduleIds[table.moduleOf[c]],
      feature: table.kinds[c],
      predicted: table.labels[r],
      distance: nb.dist[c * nb.k],
      neighbour: table.adapterNames[r],
    });
  }
  return out;
}

/** The reference adapters nearest over the whole concatenated normalised feature vector. */
export function nearestAdapters(table: FeatureTable, search: QuerySearch, count = 5): Neighbour[] {
  const order = Array.from({ length: table.n }, (_, i) => i).sort((a, b) => search.overall[a] - search.overall[b] || a - b);
  return order.slice(0, count).map((i) => ({
    name: table.adapterNames[i],
    size: table.labels[i],
    distance: Math.sqrt(search.overall[i]),
    source: table.sources[i],
  }));
}
