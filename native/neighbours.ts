// The WebAssembly kernels of the nearest-neighbour search of size recovery (main/dsire/pairwise.ts),
// written in native/wasm/neighbours.wat and committed built (neighbours.wasm), and the memory plan
// they run in:
//
// distances  all squared L2 distances between the n rows of one classifier's block, bit-identical
//            to blockDistances() in pairwise.ts;
// nearest    for each query, its k ≤ 3 nearest references (equal distances: the earlier reference),
//            the 1-NN votes of the references-per-size ablation, and the vote tallies of the rules
//            the caller describes (TallyRule: a vote rule as data; the DSiRe variants they come from
//            live in main/dsire/variants.ts, this layer knows none of them).
//
// All are checked against the plain loops in test/unit/dsire/neighbours.test.ts; the speed-up is
// measured by test/bench/dsire.bench.ts.
import { loadKernel, type WasmMemory, type WasmModule } from './wasm/load.ts';

/** How a tally counts one classifier's neighbours for a query: how many vote, with what weights,
 *  and how much each classifier's votes count. */
export interface TallyRule {
  /** Neighbours per classifier that vote, ≥ 1 (the task's k where that is smaller). */
  k: number;
  /** Inverse-distance weights normalised to one vote per classifier; otherwise one vote per neighbour. */
  weighted: boolean;
  /** Per classifier: what its votes are multiplied by, finite and ≥ 0; 0 where it does not vote (its
   *  distances are then not summed either). The paper's rule: 1 for every classifier. */
  weights: Float64Array;
}

/** One search task's arrays, as the kernel reads them. */
export interface KernelTask {
  queries: Int32Array;
  queryNames: Int32Array;
  refs: Int32Array;
  /** Group ends into refs, ascending, the last one refs.length; every group's references share a name. */
  ends: Int32Array;
  groupNames: Int32Array;
  /** Per group: the prefix (references-per-size ablation) that ends with it, or −1. */
  groupPrefix: Int32Array;
  prefixes: number;
  excludeSameName: boolean;
  /** Neighbours kept per query and classifier, 1…3. */
  k: number;
  /** Keep every classifier's neighbours (idx, dist)? */
  neighbours: boolean;
  /** The tallies to sum, one per rule, and with them the per-classifier hits; null: neither. */
  tallies: TallyRule[] | null;
}

export interface KernelResult {
  /** [(query·classifiers + c)·k + j]: row and distance (not squared) of the j-th nearest reference
   *  (empty unless the task asked for neighbours). */
  idx: Int32Array;
  dist: Float64Array;
  /** [(query·rules + rule)·sizes + size]: votes and summed distances of each rule's tally, and per
   *  classifier the number of queries whose nearest reference has their size (empty without tallies). */
  tallyVotes: Float64Array;
  tallyDist: Float64Array;
  hits: Float64Array;
  /** [(query·prefixes + prefix)·sizes + size]: 1-NN votes and summed distances as a difference array
   *  over the prefix (empty when the task has no prefixes). */
  votes: Float64Array;
  voteDist: Float64Array;
}

export interface NeighbourPlan {
  /** Squared distances between all rows of `block` (n × d), for the following nearest() calls. */
  distances(block: Float64Array, d: number): void;
  /** The last distances as an n×n view into kernel memory, valid until the next distances() call. */
  matrix(): Float64Array;
  /** Adds classifier c's neighbours of every query of task t, from the last distances. */
  nearest(t: number, c: number): void;
  /** Rule v of task t's per-classifier weights, as a view into kernel memory: a weight written here
   *  before nearest(t, c) is the one classifier c votes with (weights that depend on another task's
   *  hits, known only once that task has seen classifier c). */
  weights(t: number, v: number): Float64Array;
  /** Task t's accumulated results: views into the plan's own memory (see plan()). */
  result(t: number): KernelResult;
}

export interface NeighbourKernel {
  /** Lays out memory for n rows of at most maxDim values, `classifiers` classifiers, labels with
   *  `sizes` distinct sizes (sizeOf: per row) and these tasks. */
  plan(n: number, maxDim: number, classifiers: number, sizeOf: Int32Array, sizes: number, tasks: KernelTask[]): NeighbourPlan;
}

/** The nearest kernel's task record: one i32 per field at byte 4·index (the table at `nearest` in
 *  neighbours.wat; test/unit/dsire/wasm-build.test.ts checks every load there against this list). */
export const TASK_FIELDS = [
  'dist', 'n', 'queries', 'queryNames', 'q', 'refs', 'ends', 'groupNames', 'groupPrefix', 'groups',
  'excludeSameName', 'sizeOf', 'sizes', 'prefixes', 'votes', 'voteDist', 'classifiers', 'k',
  'keepNeighbours', 'idx', 'nbDist', 'tally', 'rules', 'ruleTable', 'tallyVotes', 'tallyDist', 'hits',
] as const;
/** A tally rule's record, likewise. */
export const RULE_FIELDS = ['k', 'weighted', 'weights'] as const;
type TaskRecord = Record<(typeof TASK_FIELDS)[number], number>;

const PAGE = 65536;
/** The kernels index memory with signed 32-bit offsets; beyond this the plain loops run instead. */
const MAX_KERNEL_BYTES = 1 << 30;

let module: WasmModule | null | undefined;

/** The kernels, or null where this runtime has no WebAssembly SIMD. */
export function neighbourKernel(): NeighbourKernel | null {
  if (module === undefined) module = loadKernel(new URL('./wasm/neighbours.wasm', import.meta.url));
  return module ? { plan: (...args) => plan(module!.instantiate(), ...args) } : null;
}

/** Each plan runs in its own instance, so its memory holds exactly this search and the results can
 *  be handed out as views instead of copies: fresh memory costs a page fault per 4 kB on first
 *  touch, which made copying the ~40 MB of a 10-split evaluation's neighbours cost as much as
 *  finding them. The memory is freed with the last view. */
function plan(exports: Record<string, unknown>, n: number, maxDim: number, C: number, sizeOf: Int32Array, S: number, tasks: KernelTask[]): NeighbourPlan {
  const memory = exports.mem as WasmMemory;
  const distances = exports.distances as (block: number, n: number, d: number, out: number) => void;
  const nearest = exports.nearest as (task: number, c: number) => void;
  let top = 0;
  const take = (bytes: number) => { const at = top; top += Math.ceil(bytes / 16) * 16; return at; };
  const blockAt = take(n * maxDim * 8 + 16); // + the 8 bytes distances() may read past the last row
  const distAt = take(n * n * 8);
  const sizeOfAt = take(n * 4);
  const staged = tasks.map((t) => {
    const Q = t.queries.length;
    const G = t.ends.length;
    const rules = t.tallies ?? [];
    const V = rules.length;
    if (t.k < 1 || t.k > 3) throw new RangeError(`nearest-neighbour kernel: k = ${t.k}, it keeps 1 to 3`);
    for (const rule of rules) {
      if (!(Number.isInteger(rule.k) && rule.k >= 1 && rule.k <= 0x7fffffff) || rule.weights.length !== C || !rule.weights.every((w) => w >= 0 && w < Infinity)) {
        throw new Error(`nearest-neighbour kernel: a tally rule needs a whole k ≥ 1 (an i32) and one finite weight ≥ 0 per classifier (${C}), got k = ${rule.k} and ${rule.weights.length} weights`);
      }
    }
    const record: TaskRecord = {
      dist: distAt, n, queries: take(Q * 4), queryNames: take(Q * 4), q: Q, refs: take(t.refs.length * 4),
      ends: take(G * 4), groupNames: take(G * 4), groupPrefix: take(G * 4), groups: G,
      excludeSameName: t.excludeSameName ? 1 : 0, sizeOf: sizeOfAt, sizes: S,
      prefixes: t.prefixes, votes: take(t.prefixes * Q * S * 8), voteDist: take(t.prefixes * Q * S * 8),
      classifiers: C, k: t.k,
      keepNeighbours: t.neighbours ? 1 : 0, idx: take(t.neighbours ? Q * C * t.k * 4 : 0), nbDist: take(t.neighbours ? Q * C * t.k * 8 : 0),
      tally: t.tallies ? 1 : 0, rules: V, ruleTable: take(V * RULE_FIELDS.length * 4),
      tallyVotes: take(Q * V * S * 8), tallyDist: take(Q * V * S * 8), hits: take(t.tallies ? C * 8 : 0),
    };
    return { record, rules, weights: rules.map(() => take(C * 8)), at: take(TASK_FIELDS.length * 4) };
  });
  if (top > MAX_KERNEL_BYTES) throw new RangeError(`nearest-neighbour kernel: ${top} bytes needed, more than ${MAX_KERNEL_BYTES}`);
  if (memory.buffer.byteLength < top) memory.grow(Math.ceil((top - memory.buffer.byteLength) / PAGE));
  // views only after the one grow, which detaches the previous buffer
  const i32 = (at: number, len: number) => new Int32Array(memory.buffer, at, len);
  const f64 = (at: number, len: number) => new Float64Array(memory.buffer, at, len);
  i32(sizeOfAt, n).set(sizeOf.subarray(0, n));
  tasks.forEach((t, index) => {
    const { record: r, rules, weights, at } = staged[index];
    i32(r.queries, t.queries.length).set(t.queries);
    i32(r.queryNames, t.queries.length).set(t.queryNames);
    i32(r.refs, t.refs.length).set(t.refs);
    i32(r.ends, t.ends.length).set(t.ends);
    i32(r.groupNames, t.ends.length).set(t.groupNames);
    i32(r.groupPrefix, t.ends.length).set(t.groupPrefix);
    rules.forEach((rule, v) => {
      f64(weights[v], C).set(rule.weights);
      i32(r.ruleTable + v * RULE_FIELDS.length * 4, RULE_FIELDS.length).set([rule.k, rule.weighted ? 1 : 0, weights[v]]);
    });
    i32(at, TASK_FIELDS.length).set(TASK_FIELDS.map((f) => r[f]));
  });
  return {
    distances(block, d) {
      if (d > maxDim || block.length < n * d) throw new RangeError(`nearest-neighbour kernel: block of ${block.length} values for ${n} rows of ${d} (planned ${maxDim})`);
      f64(blockAt, n * d).set(block.subarray(0, n * d));
      distances(blockAt, n, d, distAt);
    },
    matrix() {
      return f64(distAt, n * n);
    },
    nearest(t, c) {
      nearest(staged[t].at, c);
    },
    weights(t, v) {
      return f64(staged[t].weights[v], C);
    },
    result(t) {
      const r = staged[t].record;
      const len = r.keepNeighbours ? r.q * C * r.k : 0;
      const votes = r.prefixes * r.q * S;
      const tallies = r.q * r.rules * S;
      return {
        idx: i32(r.idx, len), dist: f64(r.nbDist, len), votes: f64(r.votes, votes), voteDist: f64(r.voteDist, votes),
        tallyVotes: f64(r.tallyVotes, tallies), tallyDist: f64(r.tallyDist, tallies), hits: f64(r.hits, r.tally ? C : 0),
      };
    },
  };
}
