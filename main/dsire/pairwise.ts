// Nearest-neighbour search for many queries against many reference subsets at once, all drawn from
// one table (evaluation splits, leave-one-name-out calibration). The work is organised per
// classifier: its n×n distance matrix is computed once (n²/2 distances of length r) and then every
// task of every split only compares numbers already computed. Recomputing distances per split, as a
// direct reading of the protocol would, took 7.3–9.3 s of CPU for the faithful splits alone against
// 1.8–2.0 s for evaluate with every ablation (test/bench/dsire.bench.ts, docs/BENCHMARKS.md, size recovery section).
import type { FeatureTable } from './table.ts';
import type { Neighbours } from './variants.ts';

export interface Task {
  queries: Int32Array;          // table rows classified
  refs: Int32Array;             // table rows they may be matched with, in order (ties: earlier wins)
  /** Leave-one-name-out: skip references with the query's own name (and always the query itself). */
  excludeSameName: boolean;
  k: number;
  /** References-per-size ablation: refs[0 .. prefixEnds[p]) are the adapters of the first p+1 names.
   *  For each prefix the faithful 1-NN votes over all classifiers are accumulated. */
  prefixEnds?: Int32Array;
}

export interface TaskOutput {
  nb: Neighbours;
  /** [prefix][query][size]: faithful votes and summed distances using only the first p+1 names, as a
   *  difference array over the prefix: the value for prefix p is the sum of entries 0..p. */
  prefix?: { votes: Float64Array; dist: Float64Array };
}

/** Squared distances between all rows of one classifier block (symmetric, diagonal 0). */
export function blockDistances(block: Float64Array, n: number, d: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const oi = i * d;
    out[i * n + i] = 0;
    for (let j = i + 1; j < n; j++) {
      const oj = j * d;
      let s0 = 0;
      let s1 = 0;
      let t = 0;
      for (; t + 1 < d; t += 2) {
        const a = block[oi + t] - block[oj + t];
        const b = block[oi + t + 1] - block[oj + t + 1];
        s0 += a * a;
        s1 += b * b;
      }
      if (t < d) { const a = block[oi + t] - block[oj + t]; s0 += a * a; }
      const s = s0 + s1;
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
}

/** One task's scan for one classifier: top-k references per query from the distance matrix. The
 *  references are the outer loop and the queries the inner one: D is symmetric, so reference r's
 *  distances to every query are one row of D read in order, and the per-query top-k lists sit in flat
 *  arrays (measured ~1.25× faster than a row per query). Equal distances keep the earlier reference.
 *  `tD`/`tR` are scratch of at least queries.length·k. */
export function scan(
  D: Float64Array, n: number, queries: Int32Array, refs: Int32Array, excludeSameName: boolean,
  name: Int32Array, k: number, c: number, C: number, idx: Int32Array, dist: Float64Array,
  tD: Float64Array, tR: Int32Array,
  prefixEnds: Int32Array | null, sizeOf: Int32Array, S: number, pVotes: Float64Array | null, pDist: Float64Array | null,
): void {
  const Q = queries.length;
  const R = refs.length;
  const P = prefixEnds === null ? 0 : prefixEnds.length;
  for (let t = 0; t < Q * k; t++) { tD[t] = Infinity; tR[t] = -1; }
  // The 1-NN over the first p+1 names changes only a few times as names are added, so each
  // neighbour's vote is written once for the run of prefixes it holds (a difference array over p,
  // summed by the caller) instead of once per prefix.
  const held = P > 0 ? new Int32Array(Q).fill(-1) : null;
  const heldD = P > 0 ? new Float64Array(Q) : null;
  const since = P > 0 ? new Int32Array(Q) : null;
  let start = 0;
  const groups = P > 0 && prefixEnds![P - 1] >= R ? P : P + 1;
  for (let g = 0; g < groups; g++) {
    const end = g < P ? prefixEnds![g] : R;
    for (let pos = start; pos < end; pos++) {
      const r = refs[pos];
      const row = r * n;
      const nr = name[r];
      for (let qn = 0; qn < Q; qn++) {
        const i = queries[qn];
        const d = D[row + i];
        const o = qn * k;
        if (d < tD[o + k - 1]) {
          if (r === i || (excludeSameName && name[i] === nr)) continue;
          let j = k - 1;
          while (j > 0 && d < tD[o + j - 1]) { tD[o + j] = tD[o + j - 1]; tR[o + j] = tR[o + j - 1]; j--; }
          tD[o + j] = d;
          tR[o + j] = r;
        }
      }
    }
    start = end;
    if (g < P) {
      for (let qn = 0; qn < Q; qn++) {
        const top = tR[qn * k];
        if (top === held![qn]) continue;
        const h = held![qn];
        if (h >= 0) {
          const s = sizeOf[h];
          const dd = Math.sqrt(heldD![qn]);
          const from = (since![qn] * Q + qn) * S + s;
          const to = (g * Q + qn) * S + s;
          pVotes![from] += 1;
          pDist![from] += dd;
          pVotes![to] -= 1;
          pDist![to] -= dd;
        }
        held![qn] = top;
        heldD![qn] = tD[qn * k];
        since![qn] = g;
      }
    }
  }
  for (let qn = 0; qn < Q; qn++) {
    if (held && held[qn] >= 0) {
      const o = (since![qn] * Q + qn) * S + sizeOf[held[qn]];
      pVotes![o] += 1;
      pDist![o] += Math.sqrt(heldD![qn]);
    }
    const o = (qn * C + c) * k;
    for (let j = 0; j < k; j++) {
      if (tR[qn * k + j] < 0) break;
      idx[o + j] = tR[qn * k + j];
      dist[o + j] = Math.sqrt(tD[qn * k + j]);
    }
  }
}

/** 1-NN for one-value classifiers (the Frobenius-norm ablation) by sorting the references once and
 *  binary-searching each query: O((R + Q) log R) instead of Q·R (measured ~0.6 s → ~0.2 s of CPU for a
 *  10-split evaluation). Same answer as the scan: nearest value, equal distances → earlier reference. */
export function scalarScan(block: Float64Array, queries: Int32Array, refs: Int32Array, c: number, C: number, idx: Int32Array, dist: Float64Array): void {
  const R = refs.length;
  if (R === 0) return;
  const order = Array.from({ length: R }, (_, p) => p).sort((a, b) => block[refs[a]] - block[refs[b]] || a - b);
  const vals = Float64Array.from(order, (p) => block[refs[p]]);
  // runStart[t]: first sorted index with the same value as t (the earliest reference among equals).
  const runStart = new Int32Array(R);
  for (let t = 1; t < R; t++) runStart[t] = vals[t] === vals[t - 1] ? runStart[t - 1] : t;
  for (let qn = 0; qn < queries.length; qn++) {
    const x = block[queries[qn]];
    let lo = 0;
    let hi = R;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (vals[mid] < x) lo = mid + 1; else hi = mid; }
    let bestP = -1;
    let bestD = Infinity;
    if (lo < R) { bestP = order[lo]; bestD = vals[lo] - x; }
    if (lo > 0) {
      const t = runStart[lo - 1];
      const d = x - vals[t];
      if (d < bestD || (d === bestD && order[t] < bestP)) { bestP = order[t]; bestD = d; }
    }
    idx[qn * C + c] = refs[bestP];
    dist[qn * C + c] = bestD;
  }
}

export function search(table: FeatureTable, tasks: Task[]): TaskOutput[] {
  const n = table.n;
  const C = table.blocks.length;
  const S = table.sizes.length;
  const outputs: TaskOutput[] = tasks.map((t) => {
    const k = Math.max(1, t.k);
    const size = t.queries.length * C * k;
    const out: TaskOutput = { nb: { k, classifiers: C, idx: new Int32Array(size).fill(-1), dist: new Float64Array(size).fill(Number.NaN) } };
    if (t.prefixEnds) {
      const len = t.prefixEnds.length * t.queries.length * S;
      out.prefix = { votes: new Float64Array(len), dist: new Float64Array(len) };
    }
    return out;
  });
  const D = new Float64Array(n * n);
  const most = Math.max(1, ...tasks.map((t) => t.queries.length * Math.max(1, t.k)));
  const topD = new Float64Array(most);
  const topR = new Int32Array(most);
  const scalar = tasks.map((t) => {
    if (t.k !== 1 || t.excludeSameName || t.prefixEnds || !table.dims.every((d) => d === 1)) return false;
    const inRefs = new Uint8Array(n);
    for (const r of t.refs) inRefs[r] = 1;
    return !t.queries.some((q) => inRefs[q] === 1);
  });
  const needMatrix = scalar.some((x) => !x);
  for (let c = 0; c < C; c++) {
    if (needMatrix) blockDistances(table.blocks[c], n, table.dims[c], D);
    for (let t = 0; t < tasks.length; t++) {
      const task = tasks[t];
      const { nb, prefix } = outputs[t];
      if (scalar[t]) { scalarScan(table.blocks[c], task.queries, task.refs, c, C, nb.idx, nb.dist); continue; }
      scan(D, n, task.queries, task.refs, task.excludeSameName, table.nameIndex, nb.k, c, C, nb.idx, nb.dist, topD, topR,
        task.prefixEnds ?? null, table.sizeIndex, S, prefix?.votes ?? null, prefix?.dist ?? null);
    }
  }
  return outputs;
}
