// Nearest-neighbour search for many queries against many reference subsets at once, all drawn from
// one table (evaluation splits, leave-one-name-out calibration). The work is organised per
// classifier: its n×n distance matrix is computed once (n²/2 distances of length r) and then every
// task of every split only compares numbers already computed; recomputing distances per split, as a
// direct reading of the protocol would, was 3–5× slower (test/bench/dsire.bench.ts). Where the
// runtime has WebAssembly SIMD the distances, the scan and the vote tallies run in
// native/neighbours.ts (each variant handed over as data: ruleOf in variants.ts); the plain loops
// below are the fallback and the reference the kernels are tested against, bit for bit (figures:
// docs/BENCHMARKS.md, size recovery).
import type { FeatureTable } from './table.ts';
import { neighbourKernel, type NeighbourKernel, type NeighbourPlan, type TallyRule } from '../../native/neighbours.ts';
import { accuracyOf, addVote, classifierWeight, needsAccuracy, ruleOf, talliesFrom, weightPerClassifier, type Neighbours, type Tallies } from './variants.ts';
import type { Variant } from './types.ts';

export interface Task {
  queries: Int32Array;          // table rows classified
  refs: Int32Array;             // table rows they may be matched with, in order (ties: earlier wins)
  /** Leave-one-name-out: skip references with the query's own name (and always the query itself). */
  excludeSameName: boolean;
  k: number;
  /** References-per-size ablation: refs[0 .. prefixEnds[p]) are the adapters of the first p+1 names.
   *  For each prefix the faithful 1-NN votes over all classifiers are accumulated. */
  prefixEnds?: Int32Array;
  /** Keep every classifier's neighbours (default true). Evaluation needs only the tallies, and at
   *  k = 3 the neighbours of a 10-split evaluation are ~30 MB that would be written once and read once. */
  neighbours?: boolean;
  /** Tally the votes of these variants per query, and count the per-classifier hits. */
  tallies?: Variant[];
  /** The classifiers' held-out accuracy on the reference names, for the variants in `tallies` that
   *  need it (needsAccuracy): given, or `fromTask`, an earlier task of this search (a leave-one-name-out
   *  task over the reference names, with tallies) whose hits per query it is (accuracyOf). Handed to
   *  the kernel classifier by classifier, right after that task has seen the classifier, so the
   *  variants must weigh each classifier by its own accuracy alone (weightPerClassifier). */
  accuracy?: Float64Array | { fromTask: number };
}

export interface TaskOutput {
  nb?: Neighbours;
  /** [query][prefix][size]: faithful votes and summed distances using only the first p+1 names, as a
   *  difference array over the prefix: the value for prefix p is the sum of entries 0..p. */
  prefix?: { votes: Float64Array; dist: Float64Array };
  tallies?: Tallies;
  /** Per classifier: how many queries have a nearest reference of their own size. */
  hits?: Float64Array;
}

/** What the search loops produce before the task's outputs are chosen from it. */
interface Raw { nb: Neighbours; prefix?: { votes: Float64Array; dist: Float64Array } }

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

/** What one task's scan of one classifier yields (the shape of the WebAssembly kernel's output). */
export interface ScanResult {
  /** [query·k + j]: squared distance and row of the j-th nearest reference (+∞ and −1 where none). */
  topD: Float64Array;
  topR: Int32Array;
  /** [query·groups + g]: squared distance and row of the nearest reference among groups 0…g. */
  groupD: Float64Array;
  groupR: Int32Array;
}

/** The plain-JavaScript scan, for runtimes without WebAssembly SIMD and as the reference the kernel
 *  (native/neighbours.ts) is tested against: the k nearest references of each query from the
 *  distance matrix, equal distances keeping the earlier reference, and the nearest at each group
 *  end. The references are the outer loop and the queries the inner one: D is symmetric, so
 *  reference r's distances to every query are one row of D read in order (measured ~1.25× faster
 *  than a row per query). `out` arrays are at least queries.length·k and queries.length·ends.length. */
export function scan(
  D: Float64Array, n: number, queries: Int32Array, refs: Int32Array, excludeSameName: boolean,
  name: Int32Array, k: number, ends: Int32Array, out: ScanResult,
): void {
  const Q = queries.length;
  const G = ends.length;
  const { topD: tD, topR: tR, groupD, groupR } = out;
  for (let t = 0; t < Q * k; t++) { tD[t] = Infinity; tR[t] = -1; }
  let start = 0;
  for (let g = 0; g < G; g++) {
    const end = ends[g];
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
    for (let qn = 0; qn < Q; qn++) { groupD[qn * G + g] = tD[qn * k]; groupR[qn * G + g] = tR[qn * k]; }
  }
}

/** Copies a scan's top k into the neighbour arrays of classifier c (distances, not squares). */
function collect(res: ScanResult, Q: number, k: number, c: number, C: number, idx: Int32Array, dist: Float64Array): void {
  for (let qn = 0; qn < Q; qn++) {
    const o = (qn * C + c) * k;
    for (let j = 0; j < k; j++) {
      const r = res.topR[qn * k + j];
      if (r < 0) break;
      idx[o + j] = r;
      dist[o + j] = Math.sqrt(res.topD[qn * k + j]);
    }
  }
}

/** The references-per-size ablation's faithful votes from the nearest reference at each prefix end
 *  (group prefixGroup[p]). The 1-NN over the first p+1 names changes only a few times as names are
 *  added, so each neighbour's vote is written once for the run of prefixes it holds (a difference
 *  array over p, summed by the caller) instead of once per prefix. */
function prefixVotes(res: ScanResult, Q: number, G: number, prefixGroup: Int32Array, sizeOf: Int32Array, S: number, pVotes: Float64Array, pDist: Float64Array): void {
  const P = prefixGroup.length;
  const { groupR, groupD } = res;
  for (let qn = 0; qn < Q; qn++) {
    let held = -1;
    let heldD = 0;
    let since = 0;
    for (let p = 0; p <= P; p++) {
      const g = p < P ? prefixGroup[p] : -1;
      const top = p === P ? -2 : g < 0 ? -1 : groupR[qn * G + g]; // an empty prefix has no neighbour
      if (top === held) continue;
      if (held >= 0) {
        const s = sizeOf[held];
        const dd = Math.sqrt(heldD);
        const from = (qn * P + since) * S + s;
        pVotes[from] += 1;
        pDist[from] += dd;
        if (p < P) {
          const to = (qn * P + p) * S + s;
          pVotes[to] -= 1;
          pDist[to] -= dd;
        }
      }
      if (p < P) { held = top; heldD = g < 0 ? 0 : groupD[qn * G + g]; since = p; }
    }
  }
}

/** Rows of a one-value block in ascending value order, equal values by row, NaN last (scalarScan's
 *  input). The values are sorted by the engine's comparator-free numeric sort and each row placed by
 *  a binary search for its value: measured ~1.7× faster than sorting the rows with a comparator. */
export function valueOrder(block: Float64Array): Int32Array {
  const n = block.length;
  const sorted = Float64Array.from(block).sort();
  let finite = n; // NaN sorts last
  while (finite > 0 && Number.isNaN(sorted[finite - 1])) finite--;
  const order = new Int32Array(n);
  const taken = new Int32Array(n); // rows already placed at each run of equal values
  let nan = finite;
  for (let i = 0; i < n; i++) {
    const x = block[i];
    if (Number.isNaN(x)) { order[nan++] = i; continue; }
    let lo = 0;
    let hi = finite;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < x) lo = mid + 1; else hi = mid; }
    order[lo + taken[lo]++] = i;
  }
  return order;
}

/** posOf[row]: the row's first position in refs, or −1 (rows 0 … n−1). */
function positions(refs: Int32Array, n: number): Int32Array {
  const posOf = new Int32Array(n).fill(-1);
  for (let p = 0; p < refs.length; p++) if (posOf[refs[p]] < 0) posOf[refs[p]] = p;
  return posOf;
}

export interface ScalarScratch { vals: Float64Array; pos: Int32Array; runMin: Int32Array }

function scalarScratch(R: number): ScalarScratch {
  return { vals: new Float64Array(R), pos: new Int32Array(R), runMin: new Int32Array(R) };
}

/** qnOf[row]: the row's index in queries, or −1; null when a row is queried twice (then scalarScan
 *  searches each query on its own). */
function queryIndex(queries: Int32Array, n: number): Int32Array | null {
  const qnOf = new Int32Array(n).fill(-1);
  for (let qn = 0; qn < queries.length; qn++) {
    if (qnOf[queries[qn]] >= 0) return null;
    qnOf[queries[qn]] = qn;
  }
  return qnOf;
}

/** 1-NN for one-value classifiers (the Frobenius-norm ablation): the references in value order,
 *  taken from the block's one sort (`order`, from valueOrder, shared by every task), then the queries
 *  in the same order with one pointer moving forward through the references: O(n) per task instead
 *  of Q·R (a sorted search measured ~0.6 s → ~0.2 s of CPU for a 10-split evaluation). Same answer
 *  as the scan: nearest value, equal distances → earlier reference. */
export function scalarScan(block: Float64Array, queries: Int32Array, refs: Int32Array, c: number, C: number, idx: Int32Array, dist: Float64Array,
  order: Int32Array = valueOrder(block), posOf: Int32Array = positions(refs, block.length), scratch: ScalarScratch = scalarScratch(refs.length),
  qnOf: Int32Array | null = queryIndex(queries, block.length)): void {
  const R = refs.length;
  if (R === 0) {
    for (let qn = 0; qn < queries.length; qn++) { idx[qn * C + c] = -1; dist[qn * C + c] = Number.NaN; }
    return;
  }
  const { vals, pos, runMin } = scratch;
  let m = 0;
  for (let t = 0; t < order.length; t++) {
    const p = posOf[order[t]];
    if (p >= 0) { vals[m] = block[order[t]]; pos[m] = p; m++; }
  }
  // runMin[t]: the earliest reference among those with the same value as t.
  for (let t = 0, start = 0; t <= m; t++) {
    if (t === m || (t > start && vals[t] !== vals[start])) {
      let best = pos[start];
      for (let u = start + 1; u < t; u++) if (pos[u] < best) best = pos[u];
      for (let u = start; u < t; u++) runMin[u] = best;
      start = t;
    }
  }
  /** Query qn with value x, whose first reference with a value ≥ x is at lo (m if none). */
  const settle = (qn: number, x: number, lo: number) => {
    let bestP = -1;
    let bestD = Infinity;
    if (lo < m) { bestP = runMin[lo]; bestD = vals[lo] - x; }
    if (lo > 0) {
      const d = x - vals[lo - 1];
      const p = runMin[lo - 1];
      if (d < bestD || (d === bestD && p < bestP)) { bestP = p; bestD = d; }
    }
    idx[qn * C + c] = refs[bestP];
    dist[qn * C + c] = bestD;
  };
  if (qnOf) {
    let lo = 0;
    for (let t = 0; t < order.length; t++) {
      const qn = qnOf[order[t]];
      if (qn < 0) continue;
      const x = block[order[t]];
      if (Number.isNaN(x)) { settle(qn, x, 0); continue; } // as the binary search below lands
      while (lo < m && vals[lo] < x) lo++;
      settle(qn, x, lo);
    }
    return;
  }
  for (let qn = 0; qn < queries.length; qn++) {
    const x = block[queries[qn]];
    let lo = 0;
    let hi = m;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (vals[mid] < x) lo = mid + 1; else hi = mid; }
    settle(qn, x, lo);
  }
}

interface Prepared {
  task: Task;
  k: number;
  /** Group ends into refs: wherever the name changes or a prefix ends, and refs.length. */
  ends: Int32Array;
  groupNames: Int32Array;
  /** prefixGroup[p]: the group that ends at prefixEnds[p]. */
  prefixGroup: Int32Array;
  /** One-value features, queries apart from the references, k = 1: scalarScan answers it, with
   *  the references' positions by row. */
  scalar: boolean;
  posOf: Int32Array | null;
  qnOf: Int32Array | null;
}

function prepare(table: FeatureTable, t: Task): Prepared {
  const k = Math.max(1, t.k);
  const pe = t.prefixEnds ?? new Int32Array(0);
  const R = t.refs.length;
  const cuts = new Set<number>();
  for (const x of pe) cuts.add(Math.min(Math.max(x, 0), R));
  for (let pos = 1; pos < R; pos++) if (table.nameIndex[t.refs[pos]] !== table.nameIndex[t.refs[pos - 1]]) cuts.add(pos);
  cuts.add(R);
  // an empty prefix (ending at 0) is an empty group; otherwise groups start at 0 and end where cut
  const ends = Int32Array.from([...cuts].filter((x) => x > 0 || pe.includes(0)).sort((a, b) => a - b));
  const groupNames = Int32Array.from(ends, (e) => (e > 0 ? table.nameIndex[t.refs[e - 1]] : -1));
  const prefixGroup = Int32Array.from(pe, (x) => ends.indexOf(Math.min(Math.max(x, 0), R)));
  let scalar = false;
  if (t.k === 1 && !t.excludeSameName && !t.prefixEnds && table.dims.every((d) => d === 1)) {
    const inRefs = new Uint8Array(table.n);
    for (const r of t.refs) inRefs[r] = 1;
    scalar = !t.queries.some((q) => inRefs[q] === 1);
  }
  return { task: t, k, ends, groupNames, prefixGroup, scalar, posOf: scalar ? positions(t.refs, table.n) : null, qnOf: scalar ? queryIndex(t.queries, table.n) : null };
}

function emptyOutput(table: FeatureTable, p: Prepared): Raw {
  const C = table.dims.length;
  const size = p.task.queries.length * C * p.k;
  const out: Raw = { nb: { k: p.k, classifiers: C, idx: new Int32Array(size).fill(-1), dist: new Float64Array(size).fill(Number.NaN) } };
  if (p.task.prefixEnds) {
    const len = p.task.prefixEnds.length * p.task.queries.length * table.sizes.length;
    out.prefix = { votes: new Float64Array(len), dist: new Float64Array(len) };
  }
  return out;
}

/** Nearest neighbours for every task, every classifier. Runs the WebAssembly kernels where the
 *  runtime has them (native/neighbours.ts: the same answers, bit for bit; see docs/BENCHMARKS.md for
 *  the speed-up) and the plain loops above otherwise, or when `plainLoops` asks for them. */
export function search(table: FeatureTable, tasks: Task[], opts: { plainLoops?: boolean } = {}): TaskOutput[] {
  tasks.forEach((t, i) => {
    const from = t.accuracy && 'fromTask' in t.accuracy ? t.accuracy.fromTask : null;
    if (from === null) return;
    if (!(Number.isInteger(from) && from >= 0 && from < i && tasks[from].tallies && tasks[from].excludeSameName)) {
      throw new Error(`search task ${i}: accuracy must come from an earlier leave-one-name-out task with tallies, not task ${from}`);
    }
    const inline = (t.tallies ?? []).filter(needsAccuracy).find((v) => !weightPerClassifier(v));
    if (inline) throw new Error(`search task ${i}: the variant "${inline.name}" ranks the classifiers, so it needs its accuracy given, not taken from task ${from}`);
  });
  const prepared = tasks.map((t) => prepare(table, t));
  const matrixTasks = prepared.filter((p) => !p.scalar);
  // The kernel keeps at most 3 neighbours and one prefix per group (distinct prefix ends).
  const fits = matrixTasks.every((p) => p.k <= 3 && new Set(p.prefixGroup).size === p.prefixGroup.length);
  const kernel = matrixTasks.length > 0 && !opts.plainLoops && fits ? neighbourKernel() : null;
  const outputs = kernel ? searchKernel(table, prepared, kernel) : null;
  return outputs ?? searchPlain(table, prepared);
}

function hitsFrom(table: FeatureTable, nb: Neighbours, queries: Int32Array): Float64Array {
  const C = nb.classifiers;
  const hits = new Float64Array(C);
  for (let q = 0; q < queries.length; q++) {
    const truth = table.sizeIndex[queries[q]];
    for (let c = 0; c < C; c++) {
      const r = nb.idx[(q * C + c) * nb.k];
      if (r >= 0 && table.sizeIndex[r] === truth) hits[c]++;
    }
  }
  return hits;
}

/** The task's outputs from what the loops found: tallies counted from the neighbours if asked for and
 *  not already there, neighbours dropped if not asked for. */
function finish(table: FeatureTable, p: Prepared, raw: Raw | null, counted: Omit<Counted, 'rules'> | null | undefined, done: TaskOutput[], tasks: Task[]): TaskOutput {
  const out: TaskOutput = {};
  if (raw && p.task.neighbours !== false) out.nb = raw.nb;
  if (raw?.prefix) out.prefix = raw.prefix;
  if (p.task.tallies) {
    out.tallies = counted?.tallies ?? talliesFrom(p.task.tallies, table, raw!.nb, p.task.queries.length, accuracyFor(p.task, done, tasks));
    out.hits = counted?.hits ?? hitsFrom(table, raw!.nb, p.task.queries);
  }
  return out;
}

/** A task's accuracy vector, once the task it comes from is done. */
function accuracyFor(task: Task, done: TaskOutput[], tasks: Task[]): Float64Array | undefined {
  if (!task.accuracy) return undefined;
  if (task.accuracy instanceof Float64Array) return task.accuracy;
  const from = task.accuracy.fromTask;
  return accuracyOf(done[from].hits!, tasks[from].queries.length);
}

/** Runs finish() over every task in order (a task's accuracy may come from an earlier one's hits). */
function finishAll(prepared: Prepared[], one: (p: Prepared, t: number, done: TaskOutput[]) => TaskOutput): TaskOutput[] {
  const done: TaskOutput[] = [];
  prepared.forEach((p, t) => done.push(one(p, t, done)));
  return done;
}

function searchKernel(table: FeatureTable, prepared: Prepared[], kernel: NeighbourKernel): TaskOutput[] | null {
  const n = table.n;
  const C = table.dims.length;
  const S = table.sizes.length;
  const matrixTasks = prepared.filter((p) => !p.scalar);
  const kernelTasks = matrixTasks.map((p) => ({
    queries: p.task.queries,
    queryNames: Int32Array.from(p.task.queries, (q) => table.nameIndex[q]),
    refs: p.task.refs,
    ends: p.ends,
    groupNames: p.groupNames,
    groupPrefix: Int32Array.from(p.ends, (_, g) => p.prefixGroup.indexOf(g)),
    prefixes: p.prefixGroup.length,
    excludeSameName: p.task.excludeSameName,
    k: p.k,
    neighbours: p.task.neighbours !== false,
    // accuracy from another task: zero weights here, each classifier's written just before it is seen
    tallies: p.task.tallies ? p.task.tallies.map((v) => ruleOf(v, table, p.task.accuracy instanceof Float64Array ? p.task.accuracy : needsAccuracy(v) ? new Float64Array(C) : undefined)) : null,
  }));
  // per matrix task: [rule index, variant] of the rules whose weights come from another task's hits,
  // and that task's index among the matrix tasks and query count
  const matrixIndex = new Map(matrixTasks.map((p, m) => [p, m]));
  const fed = matrixTasks.map((p) => {
    const a = p.task.accuracy;
    if (!a || a instanceof Float64Array) return null;
    const from = prepared[a.fromTask];
    if (from.scalar) throw new Error('search: accuracy from a one-value task');
    const rules = (p.task.tallies ?? []).map((v, i) => [i, v] as const).filter(([, v]) => needsAccuracy(v));
    return { rules, from: matrixIndex.get(from)!, queries: from.task.queries.length };
  });
  let plan: NeighbourPlan;
  try {
    plan = kernel.plan(n, Math.max(...table.dims), C, table.sizeIndex, S, kernelTasks);
  } catch (e) {
    if (e instanceof RangeError) return null; // more than the kernel's memory can hold: the plain loops run
    throw e;
  }
  const scalarOut = prepared.map((p) => (p.scalar && p.task.neighbours !== false ? emptyOutput(table, p) : null));
  const feeds = fed.map((f, m) => (f ? { ...f, hits: plan.result(f.from).hits, weights: f.rules.map(([i]) => plan.weights(m, i)) } : null));
  for (let c = 0; c < C; c++) {
    plan.distances(table.blocks[c], table.dims[c]);
    for (let m = 0; m < matrixTasks.length; m++) {
      const f = feeds[m];
      if (f) {
        // task f.from has seen classifier c (it comes earlier), so its hits for c are final
        const acc = f.queries > 0 ? f.hits[c] / f.queries : 0;
        f.rules.forEach(([, v], j) => { f.weights[j][c] = classifierWeight(v, table, c, acc); });
      }
      plan.nearest(m, c);
    }
  }
  const scalarCounted = scalarTasks(table, prepared, scalarOut);
  let m = 0;
  const tasks = prepared.map((p) => p.task);
  return finishAll(prepared, (p, t, done) => {
    if (p.scalar) return finish(table, p, scalarOut[t], scalarCounted[t], done, tasks);
    const r = plan.result(m++);
    const raw: Raw = { nb: { k: p.k, classifiers: C, idx: r.idx, dist: r.dist } };
    if (p.task.prefixEnds) raw.prefix = { votes: r.votes, dist: r.voteDist };
    const counted = p.task.tallies ? { tallies: { variants: p.task.tallies, sizes: S, votes: r.tallyVotes, dist: r.tallyDist }, hits: r.hits } : undefined;
    return finish(table, p, raw, counted, done, tasks);
  });
}

/** The one-value tasks, classifier by classifier: neighbours into `raws` where given, and where the
 *  task asks for tallies, each classifier's one neighbour voted straight into them (addVote, as
 *  talliesFrom would from the kept neighbours) with the hits counted alongside. */
function scalarTasks(table: FeatureTable, prepared: Prepared[], raws: (Raw | null)[]): (Counted | null)[] {
  const C = table.dims.length;
  const S = table.sizes.length;
  const counted = prepared.map((p) => (p.scalar && p.task.tallies ? countedFor(table, p.task.tallies, p.task.queries.length, p.task.accuracy) : null));
  const most = Math.max(0, ...prepared.map((p) => (p.scalar ? p.task.refs.length : 0)));
  if (!prepared.some((p) => p.scalar)) return counted;
  const scratch = scalarScratch(most);
  const one = { idx: new Int32Array(Math.max(0, ...prepared.map((p) => p.task.queries.length))), dist: new Float64Array(Math.max(0, ...prepared.map((p) => p.task.queries.length))) };
  for (let c = 0; c < C; c++) {
    const order = valueOrder(table.blocks[c]);
    prepared.forEach((p, t) => {
      if (!p.scalar) return;
      const Q = p.task.queries.length;
      scalarScan(table.blocks[c], p.task.queries, p.task.refs, 0, 1, one.idx, one.dist, order, p.posOf!, scratch, p.qnOf);
      const raw = raws[t];
      if (raw) for (let q = 0; q < Q; q++) { raw.nb.idx[q * C + c] = one.idx[q]; raw.nb.dist[q * C + c] = one.dist[q]; }
      const k = counted[t];
      if (!k) return;
      const V = k.rules.length;
      for (let v = 0; v < V; v++) {
        const rule = k.rules[v];
        const w = rule.weights[c];
        if (w === 0) continue;
        for (let q = 0; q < Q; q++) addVote(rule, w, 1, table.sizeIndex, one.idx, one.dist, q, k.tallies.votes, k.tallies.dist, (q * V + v) * S);
      }
      for (let q = 0; q < Q; q++) {
        const r = one.idx[q];
        if (r >= 0 && table.sizeIndex[r] === table.sizeIndex[p.task.queries[q]]) k.hits[c]++;
      }
    });
  }
  return counted;
}

interface Counted { tallies: Tallies; hits: Float64Array; rules: TallyRule[] }

function countedFor(table: FeatureTable, variants: Variant[], Q: number, accuracy: Task['accuracy']): Counted {
  const S = table.sizes.length;
  const len = Q * variants.length * S;
  if (accuracy && !(accuracy instanceof Float64Array)) throw new Error('search: accuracy from another task for a one-value task');
  return { tallies: { variants, sizes: S, votes: new Float64Array(len), dist: new Float64Array(len) }, hits: new Float64Array(table.dims.length), rules: variants.map((v) => ruleOf(v, table, accuracy)) };
}

function searchPlain(table: FeatureTable, prepared: Prepared[]): TaskOutput[] {
  const n = table.n;
  const C = table.dims.length;
  const S = table.sizes.length;
  const outputs = prepared.map((p) => (!p.scalar || p.task.neighbours !== false ? emptyOutput(table, p) : null));
  const matrixTasks = prepared.filter((p) => !p.scalar);
  const D = matrixTasks.length > 0 ? new Float64Array(n * n) : null;
  const most = (f: (p: Prepared) => number) => Math.max(1, ...matrixTasks.map(f));
  const scratch: ScanResult = {
    topD: new Float64Array(most((p) => p.task.queries.length * p.k)),
    topR: new Int32Array(most((p) => p.task.queries.length * p.k)),
    groupD: new Float64Array(most((p) => p.task.queries.length * p.ends.length)),
    groupR: new Int32Array(most((p) => p.task.queries.length * p.ends.length)),
  };
  const scalarCounted = scalarTasks(table, prepared, outputs.map((o, t) => (prepared[t].scalar ? o : null)));
  for (let c = 0; c < C; c++) {
    if (D) blockDistances(table.blocks[c], n, table.dims[c], D);
    prepared.forEach((p, t) => {
      if (p.scalar) return;
      const { task, k } = p;
      const { nb, prefix } = outputs[t]!;
      scan(D!, n, task.queries, task.refs, task.excludeSameName, table.nameIndex, k, p.ends, scratch);
      collect(scratch, task.queries.length, k, c, C, nb.idx, nb.dist);
      if (prefix) prefixVotes(scratch, task.queries.length, p.ends.length, p.prefixGroup, table.sizeIndex, S, prefix.votes, prefix.dist);
    });
  }
  const tasks = prepared.map((p) => p.task);
  return finishAll(prepared, (p, t, done) => finish(table, p, outputs[t], scalarCounted[t], done, tasks));
}
