// WebAssembly kernels for the nearest-neighbour search of size recovery (main/dsire/pairwise.ts),
// which otherwise spends its time in two plain-JavaScript loops:
//
// distances  all squared L2 distances between the n rows of one classifier's block. Four row pairs
//            are summed side by side, so four independent f64x2 chains keep the adder busy where the
//            plain loop waits on one. Each pair is still summed exactly as that loop sums it (even
//            coordinates in lane 0, odd ones in lane 1, an odd last coordinate added to lane 0, then
//            lane 0 + lane 1), so the distances are bit-identical to blockDistances().
// nearest    for each query, its k ≤ 3 nearest references (equal distances: the earlier reference),
//            the 1-NN votes of the references-per-size ablation, and, in place of the neighbours
//            when the caller needs only those, the vote tallies of the four candidate variants
//            (see nearestFunction).
//
// All are checked against the plain loops in test/unit/dsire/neighbours.test.ts; the speed-up is
// measured by test/bench/dsire.bench.ts.
import { assemble, compile, F64, forLoop, I32, I64, op, V128, type WasmFunction, type WasmMemory, type WasmModule } from './wasm/assemble.ts';

const { get, set, tee } = op;
const addr = (base: number, index: number, shift: number) => [...get(base), ...get(index), ...op.i32(shift), ...op.i32Shl, ...op.i32Add];

// distances(block, n, d, out): block = n rows of d float64 at byte offset `block`, followed by at
// least 8 readable bytes; out = n×n float64 at byte offset `out`.
function distancesFunction(): WasmFunction {
  const [BLOCK, N, D, OUT] = [0, 1, 2, 3];
  const [I, J, T, ROW_BYTES, EVEN_BYTES, ODD, PI, O_ROW, PJ0, PJ1, PJ2, PJ3] = [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const [X, V, A0, A1, A2, A3] = [16, 17, 18, 19, 20, 21];
  const [TMP, SUM] = [22, 23];
  const PJ = [PJ0, PJ1, PJ2, PJ3];
  const ACC = [A0, A1, A2, A3];

  /** Row i against rows j … j+lanes−1: sums, then stores each distance at [i][j+k] and [j+k][i]. */
  const pairs = (lanes: number) => [
    ...get(BLOCK), ...get(J), ...get(ROW_BYTES), ...op.i32Mul, ...op.i32Add, ...set(PJ0),
    ...PJ.slice(1, lanes).flatMap((p, k) => [...get(PJ[k]), ...get(ROW_BYTES), ...op.i32Add, ...set(p)]),
    ...ACC.slice(0, lanes).flatMap((a) => [...op.f64(0), ...op.f64x2Splat, ...set(a)]),
    ...forLoop(T, op.i32(0), get(EVEN_BYTES), 16, [
      ...get(PI), ...get(T), ...op.i32Add, ...op.v128Load(), ...set(X),
      ...ACC.slice(0, lanes).flatMap((a, k) => [
        ...get(X), ...get(PJ[k]), ...get(T), ...op.i32Add, ...op.v128Load(), ...op.f64x2Sub, ...tee(V),
        ...get(V), ...op.f64x2Mul, ...get(a), ...op.f64x2Add, ...set(a),
      ]),
    ]),
    ...ACC.slice(0, lanes).flatMap((a, k) => [
      // lane 0 + (odd d ? the last coordinate's square : +0, exact since lane 0 ≥ +0) + lane 1
      ...get(a), ...op.f64x2ExtractLane(0),
      ...get(PI), ...get(EVEN_BYTES), ...op.i32Add, ...op.f64Load(),
      ...get(PJ[k]), ...get(EVEN_BYTES), ...op.i32Add, ...op.f64Load(), ...op.f64Sub, ...tee(TMP), ...get(TMP), ...op.f64Mul,
      ...op.f64(0), ...get(ODD), ...op.select,
      ...op.f64Add, ...get(a), ...op.f64x2ExtractLane(1), ...op.f64Add, ...set(SUM),
      ...get(O_ROW), ...get(J), ...op.i32(k), ...op.i32Add, ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...get(SUM), ...op.f64Store(),
      ...get(OUT), ...get(J), ...op.i32(k), ...op.i32Add, ...get(N), ...op.i32Mul, ...get(I), ...op.i32Add, ...op.i32(3), ...op.i32Shl, ...op.i32Add,
      ...get(SUM), ...op.f64Store(),
    ]),
  ];

  const body = [
    ...get(D), ...op.i32(3), ...op.i32Shl, ...set(ROW_BYTES),
    ...get(D), ...op.i32(-2), ...op.i32And, ...op.i32(3), ...op.i32Shl, ...set(EVEN_BYTES),
    ...get(D), ...op.i32(1), ...op.i32And, ...set(ODD),
    ...forLoop(I, op.i32(0), get(N), 1, [
      ...get(BLOCK), ...get(I), ...get(ROW_BYTES), ...op.i32Mul, ...op.i32Add, ...set(PI),
      ...get(OUT), ...get(I), ...get(N), ...op.i32Mul, ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...set(O_ROW),
      ...addr(O_ROW, I, 3), ...op.f64(0), ...op.f64Store(),
      // j from i + 1: four at a time while j + 4 ≤ n, then one at a time
      ...get(I), ...op.i32(1), ...op.i32Add, ...set(J),
      ...op.block, ...op.loop,
      ...get(J), ...op.i32(4), ...op.i32Add, ...get(N), ...op.i32GtS, ...op.brIf(1),
      ...pairs(4),
      ...get(J), ...op.i32(4), ...op.i32Add, ...set(J), ...op.br(0),
      ...op.end, ...op.end,
      ...forLoop(J, get(J), get(N), 1, pairs(1)),
    ]),
  ];
  return { name: 'distances', params: [I32, I32, I32, I32], locals: [...Array(12).fill(I32), ...Array(6).fill(V128), F64, F64], body };
}

// nearest(dist, n, queries, queryNames, q, refs, ends, groupNames, groupPrefix, groups, excludeSameName,
//         sizeOf, sizes, votes, voteDist, c, classifiers, k, idx, nbDist)
// For each query row i (int32 at `queries`, its name index at `queryNames`), over the references
// (int32 rows at `refs`, in order, in groups ending at the int32 `ends`, each group of one name given
// at `groupNames`): the k ≤ 3 nearest go to idx / nbDist[(q·classifiers + c)·k + j] as row and
// distance (−1 and NaN where fewer references were eligible). At the end of group g with
// groupPrefix[g] = p ≥ 0, the nearest so far is prefix p's 1-NN vote; votes / voteDist[(query·prefixes + p)·
// sizes + size] collect those votes as a difference array over p (see prefixVotes in
// main/dsire/pairwise.ts, which this follows step for step).
// The query itself is never its own neighbour, nor, when excludeSameName is 1, any reference with
// its name: both can only sit in groups of the query's name, so only those groups pay for the check.
function nearestFunction(): WasmFunction {
  const [DIST, N, QUERIES, QUERY_NAMES, Q, REFS, ENDS, GROUP_NAMES, GROUP_PREFIX, GROUPS, EXCL] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [SIZE_OF, S, VOTES, VOTE_DIST, CLS, CLASSIFIERS, K, IDX, NB_DIST] = [11, 12, 13, 14, 15, 16, 17, 18, 19];
  const [NB, TALLY, TALLY_VOTES, TALLY_DIST, SUBSET, HITS, PREFIXES] = [20, 21, 22, 23, 24, 25, 26];
  const PARAMS = 27;
  const [QN, I, NAME, ROW, G, END, POS, R, R0, R1, R2, C0, C1, AT, HELD, SINCE, P, J, S0, S1, S2, V1, V2] = Array.from({ length: 23 }, (_, i) => PARAMS + i);
  const [DD, D0, D1, D2] = Array.from({ length: 4 }, (_, i) => PARAMS + 23 + i);
  const [HELD_D, ROOT, DIST0, DIST1, DIST2, W0, W1, W2, TOTAL] = Array.from({ length: 9 }, (_, i) => PARAMS + 27 + i);
  const pick = (target: number, ifTrue: number[], ifFalse: number[], cond: number) => [...ifTrue, ...ifFalse, ...get(cond), ...op.select, ...set(target)];

  // Distances are compared as the unsigned int64 of their bits. For doubles ≥ +0 and +∞ that order
  // is the numeric one, and every NaN (either sign) sorts after +∞, so it is never taken, as in the
  // plain loop; distances are sums of squares, so −0 never occurs. Integer selects compile to
  // conditional moves. The outer test is a branch: only about one reference in seven gets past it,
  // and inside it the ranks are set without further branches (measured 2.8 ns per reference against
  // 4.1 ns all branch-free and 8 ns for the plain loop).
  const INF = [...op.f64(Infinity), ...op.i64ReinterpretF64];
  const insert = (checked: boolean) => [
    ...addr(REFS, POS, 2), ...op.i32Load(), ...set(R),
    ...(checked ? INF : []),
    ...get(ROW), ...get(R), ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...op.i64Load(),
    ...(checked ? [...get(R), ...get(I), ...op.i32Eq, ...op.select] : []),
    ...tee(DD), ...get(D2), ...op.i64LtU, ...op.if,
    ...get(DD), ...get(D0), ...op.i64LtU, ...set(C0),
    ...get(DD), ...get(D1), ...op.i64LtU, ...set(C1),
    // strict comparisons: an equal distance never displaces the earlier reference
    ...pick(D2, get(D1), get(DD), C1),
    ...pick(R2, get(R1), get(R), C1),
    ...pick(D1, get(D0), [...get(DD), ...get(D1), ...get(C1), ...op.select], C0),
    ...pick(R1, get(R0), [...get(R), ...get(R1), ...get(C1), ...op.select], C0),
    ...pick(D0, get(DD), get(D0), C0),
    ...pick(R0, get(R), get(R0), C0),
    ...op.end,
  ];

  /** votes[(query·prefixes + p)·sizes + sizeOf[held]] += sign, voteDist[…] += sign·√heldD */
  const vote = (prefix: number[], sign: number) => [
    ...get(QN), ...get(PREFIXES), ...op.i32Mul, ...prefix, ...op.i32Add, ...get(S), ...op.i32Mul,
    ...addr(SIZE_OF, HELD, 2), ...op.i32Load(), ...op.i32Add, ...op.i32(3), ...op.i32Shl, ...set(AT),
    ...get(VOTES), ...get(AT), ...op.i32Add,
    ...get(VOTES), ...get(AT), ...op.i32Add, ...op.f64Load(), ...op.f64(sign), ...op.f64Add, ...op.f64Store(),
    ...get(VOTE_DIST), ...get(AT), ...op.i32Add,
    ...get(VOTE_DIST), ...get(AT), ...op.i32Add, ...op.f64Load(), ...get(ROOT), ...(sign > 0 ? op.f64Add : op.f64Sub), ...op.f64Store(),
  ];

  const groupEnd = [
    // a prefix ends here and its nearest reference differs from the one held since prefix SINCE
    ...addr(GROUP_PREFIX, G, 2), ...op.i32Load(), ...tee(P), ...op.i32(0), ...op.i32GeS,
    ...get(R0), ...get(HELD), ...op.i32Ne, ...op.i32And, ...op.if,
    ...get(HELD), ...op.i32(0), ...op.i32GeS, ...op.if,
    ...get(HELD_D), ...op.f64Sqrt, ...set(ROOT),
    ...vote(get(SINCE), 1), ...vote(get(P), -1),
    ...op.end,
    ...get(R0), ...set(HELD), ...get(D0), ...op.f64ReinterpretI64, ...set(HELD_D), ...get(P), ...set(SINCE),
    ...op.end,
  ];

  // The votes of the four tallies a query gets from classifier c, in the order of CANDIDATES in
  // main/dsire/variants.ts: 0 the nearest reference's vote, 1 the same if c is in the subset (σ(ΔW)),
  // 2 the k nearest with inverse-distance weights normalised to one vote, 3 the same if in the subset.
  // Each adds to tallyVotes / tallyDist[((query·4 + slot)·sizes + size)], summing exactly as tally()
  // there does: per query, classifier after classifier.
  const add = (array: number, slot: number, size: number, value: number[]) => [
    ...get(array), ...get(QN), ...op.i32(4), ...op.i32Mul, ...op.i32(slot), ...op.i32Add, ...get(S), ...op.i32Mul, ...get(size), ...op.i32Add,
    ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...set(AT),
    ...get(AT), ...get(AT), ...op.f64Load(), ...value, ...op.f64Add, ...op.f64Store(),
  ];
  const rank = (r: number, d: number, size: number, dist: number, w: number) => [
    ...addr(SIZE_OF, r, 2), ...op.i32Load(), ...set(size),
    ...get(d), ...op.f64ReinterpretI64, ...op.f64Sqrt, ...set(dist),
    ...op.f64(1), ...get(dist), ...op.f64(1e-12), ...op.f64Add, ...op.f64Div, ...set(w),
  ];
  const weighted = (slot: number) => [
    ...add(TALLY_VOTES, slot, S0, [...get(W0), ...get(TOTAL), ...op.f64Div]), ...add(TALLY_DIST, slot, S0, get(DIST0)),
    ...get(V1), ...op.if, ...add(TALLY_VOTES, slot, S1, [...get(W1), ...get(TOTAL), ...op.f64Div]), ...add(TALLY_DIST, slot, S1, get(DIST1)), ...op.end,
    ...get(V2), ...op.if, ...add(TALLY_VOTES, slot, S2, [...get(W2), ...get(TOTAL), ...op.f64Div]), ...add(TALLY_DIST, slot, S2, get(DIST2)), ...op.end,
  ];
  const tallies = [
    ...get(R0), ...op.i32(0), ...op.i32GeS, ...op.if,
    ...get(K), ...op.i32(1), ...op.i32GtS, ...get(R1), ...op.i32(0), ...op.i32GeS, ...op.i32And, ...set(V1),
    ...get(K), ...op.i32(2), ...op.i32GtS, ...get(R2), ...op.i32(0), ...op.i32GeS, ...op.i32And, ...set(V2),
    ...rank(R0, D0, S0, DIST0, W0), ...get(W0), ...set(TOTAL),
    ...get(V1), ...op.if, ...rank(R1, D1, S1, DIST1, W1), ...get(TOTAL), ...get(W1), ...op.f64Add, ...set(TOTAL), ...op.end,
    ...get(V2), ...op.if, ...rank(R2, D2, S2, DIST2, W2), ...get(TOTAL), ...get(W2), ...op.f64Add, ...set(TOTAL), ...op.end,
    ...add(TALLY_VOTES, 0, S0, op.f64(1)), ...add(TALLY_DIST, 0, S0, get(DIST0)),
    ...weighted(2),
    ...get(SUBSET), ...op.if,
    ...add(TALLY_VOTES, 1, S0, op.f64(1)), ...add(TALLY_DIST, 1, S0, get(DIST0)),
    ...weighted(3),
    ...op.end,
    // per-classifier accuracy: the nearest reference has the query's size
    ...get(S0), ...addr(SIZE_OF, I, 2), ...op.i32Load(), ...op.i32Eq, ...op.if,
    ...addr(HITS, CLS, 3), ...addr(HITS, CLS, 3), ...op.f64Load(), ...op.f64(1), ...op.f64Add, ...op.f64Store(),
    ...op.end,
    ...op.end,
  ];

  const body = forLoop(QN, op.i32(0), get(Q), 1, [
    ...addr(QUERIES, QN, 2), ...op.i32Load(), ...set(I),
    ...addr(QUERY_NAMES, QN, 2), ...op.i32Load(), ...set(NAME),
    ...get(DIST), ...get(I), ...get(N), ...op.i32Mul, ...op.i32(3), ...op.i32Shl, ...op.i32Add, ...set(ROW),
    ...INF, ...tee(D0), ...tee(D1), ...set(D2),
    ...op.i32(-1), ...tee(R0), ...tee(R1), ...tee(R2), ...set(HELD),
    ...op.i32(0), ...tee(POS), ...set(SINCE),
    ...forLoop(G, op.i32(0), get(GROUPS), 1, [
      ...addr(ENDS, G, 2), ...op.i32Load(), ...set(END),
      ...addr(GROUP_NAMES, G, 2), ...op.i32Load(), ...get(NAME), ...op.i32Eq, ...op.if,
      ...get(EXCL), ...op.if, ...get(END), ...set(POS),
      ...op.else, ...forLoop(POS, get(POS), get(END), 1, insert(true)), ...op.end,
      ...op.else, ...forLoop(POS, get(POS), get(END), 1, insert(false)), ...op.end,
      ...groupEnd,
    ]),
    // the last held neighbour votes from SINCE to the last prefix
    ...get(HELD), ...op.i32(0), ...op.i32GeS, ...op.if,
    ...get(HELD_D), ...op.f64Sqrt, ...set(ROOT), ...vote(get(SINCE), 1),
    ...op.end,
    ...get(TALLY), ...op.if, ...tallies, ...op.end,
    // the k nearest: rows and distances, −1 and NaN where missing
    ...get(NB), ...op.if,
    ...forLoop(J, op.i32(0), get(K), 1, [
      ...get(QN), ...get(CLASSIFIERS), ...op.i32Mul, ...get(CLS), ...op.i32Add, ...get(K), ...op.i32Mul, ...get(J), ...op.i32Add, ...set(AT),
      // rank j's row and squared distance: R0/D0, R1/D1 or R2/D2
      ...get(R0), ...get(R2), ...get(R1), ...get(J), ...op.i32(1), ...op.i32GtS, ...op.select, ...get(J), ...op.i32Eqz, ...op.select, ...set(R),
      ...get(D0), ...get(D2), ...get(D1), ...get(J), ...op.i32(1), ...op.i32GtS, ...op.select, ...get(J), ...op.i32Eqz, ...op.select, ...set(DD),
      ...addr(IDX, AT, 2), ...get(R), ...op.i32Store(),
      ...addr(NB_DIST, AT, 3),
      ...op.f64(NaN), ...get(DD), ...op.f64ReinterpretI64, ...op.f64Sqrt, ...get(R), ...op.i32(0), ...op.i32LtS, ...op.select,
      ...op.f64Store(),
    ]),
    ...op.end,
  ]);
  return {
    name: 'nearest',
    params: Array(PARAMS).fill(I32),
    locals: [...Array(23).fill(I32), ...Array(4).fill(I64), ...Array(9).fill(F64)],
    body,
  };
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
  /** Sum the four tallies of CANDIDATES and the per-classifier hits? */
  tallies: boolean;
}

export interface KernelResult {
  /** [(query·classifiers + c)·k + j]: row and distance (not squared) of the j-th nearest reference
   *  (empty unless the task asked for neighbours). */
  idx: Int32Array;
  dist: Float64Array;
  /** [(query·4 + slot)·sizes + size]: votes and summed distances of the four tallies, and per
   *  classifier the number of queries whose nearest reference has their size (empty unless asked). */
  tallyVotes: Float64Array;
  tallyDist: Float64Array;
  hits: Float64Array;
  /** [(query·prefixes + prefix)·sizes + size]: faithful votes and summed distances as a difference
   *  array over the prefix (empty when the task has no prefixes). */
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
  /** Task t's accumulated results: views into the plan's own memory (see plan()). */
  result(t: number): KernelResult;
}

export interface NeighbourKernel {
  /** Lays out memory for n rows of at most maxDim values, `classifiers` classifiers (subset[c] = 1
   *  for those in the tallies' subset), labels with `sizes` distinct sizes (sizeOf: per row) and
   *  these tasks. */
  plan(n: number, maxDim: number, classifiers: number, subset: Uint8Array, sizeOf: Int32Array, sizes: number, tasks: KernelTask[]): NeighbourPlan;
}

const PAGE = 65536;
/** The kernels index memory with signed 32-bit offsets; beyond this the plain loops run instead. */
const MAX_KERNEL_BYTES = 1 << 30;

let module: WasmModule | null | undefined;

/** The kernels, or null where this runtime has no WebAssembly SIMD. */
export function neighbourKernel(): NeighbourKernel | null {
  if (module === undefined) module = compile(assemble([distancesFunction(), nearestFunction()]));
  return module ? { plan: (...args) => plan(module!.instantiate(), ...args) } : null;
}

/** Each plan runs in its own instance, so its memory holds exactly this search and the results can
 *  be handed out as views instead of copies: fresh memory costs a page fault per 4 kB on first
 *  touch, which made copying the ~40 MB of a 10-split evaluation's neighbours cost as much as
 *  finding them. The memory is freed with the last view. */
function plan(exports: Record<string, unknown>, n: number, maxDim: number, C: number, subset: Uint8Array, sizeOf: Int32Array, S: number, tasks: KernelTask[]): NeighbourPlan {
  const memory = exports.mem as WasmMemory;
  const distances = exports.distances as (block: number, n: number, d: number, out: number) => void;
  const nearest = exports.nearest as (...args: number[]) => void;
  let top = 0;
  const take = (bytes: number) => { const at = top; top += Math.ceil(bytes / 16) * 16; return at; };
  const blockAt = take(n * maxDim * 8 + 16);
  const distAt = take(n * n * 8);
  const sizeOfAt = take(n * 4);
  const staged = tasks.map((t) => {
    const Q = t.queries.length;
    const G = t.ends.length;
    if (t.k < 1 || t.k > 3) throw new RangeError(`nearest-neighbour kernel: k = ${t.k}, it keeps 1 to 3`);
    return {
      queries: take(Q * 4), queryNames: take(Q * 4), refs: take(t.refs.length * 4),
      ends: take(G * 4), groupNames: take(G * 4), groupPrefix: take(G * 4),
      idx: take(t.neighbours ? Q * C * t.k * 4 : 0), dist: take(t.neighbours ? Q * C * t.k * 8 : 0),
      votes: take(t.prefixes * Q * S * 8), voteDist: take(t.prefixes * Q * S * 8),
      tallyVotes: take(t.tallies ? Q * 4 * S * 8 : 0), tallyDist: take(t.tallies ? Q * 4 * S * 8 : 0), hits: take(t.tallies ? C * 8 : 0),
    };
  });
  if (top > MAX_KERNEL_BYTES) throw new RangeError(`nearest-neighbour kernel: ${top} bytes needed, more than ${MAX_KERNEL_BYTES}`);
  if (memory.buffer.byteLength < top) memory.grow(Math.ceil((top - memory.buffer.byteLength) / PAGE));
  // views only after the one grow, which detaches the previous buffer
  const i32 = (at: number, len: number) => new Int32Array(memory.buffer, at, len);
  const f64 = (at: number, len: number) => new Float64Array(memory.buffer, at, len);
  i32(sizeOfAt, n).set(sizeOf.subarray(0, n));
  tasks.forEach((t, k) => {
    const s = staged[k];
    i32(s.queries, t.queries.length).set(t.queries);
    i32(s.queryNames, t.queries.length).set(t.queryNames);
    i32(s.refs, t.refs.length).set(t.refs);
    i32(s.ends, t.ends.length).set(t.ends);
    i32(s.groupNames, t.ends.length).set(t.groupNames);
    i32(s.groupPrefix, t.ends.length).set(t.groupPrefix);
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
    nearest(k, c) {
      const t = tasks[k];
      const s = staged[k];
      nearest(distAt, n, s.queries, s.queryNames, t.queries.length, s.refs, s.ends, s.groupNames, s.groupPrefix, t.ends.length,
        t.excludeSameName ? 1 : 0, sizeOfAt, S, s.votes, s.voteDist, c, C, t.k, s.idx, s.dist,
        t.neighbours ? 1 : 0, t.tallies ? 1 : 0, s.tallyVotes, s.tallyDist, subset[c], s.hits, t.prefixes);
    },
    result(k) {
      const t = tasks[k];
      const s = staged[k];
      const len = t.neighbours ? t.queries.length * C * t.k : 0;
      const votes = t.prefixes * t.queries.length * S;
      const tallies = t.tallies ? t.queries.length * 4 * S : 0;
      return {
        idx: i32(s.idx, len), dist: f64(s.dist, len), votes: f64(s.votes, votes), voteDist: f64(s.voteDist, votes),
        tallyVotes: f64(s.tallyVotes, tallies), tallyDist: f64(s.tallyDist, tallies), hits: f64(s.hits, t.tallies ? C : 0),
      };
    },
  };
}
