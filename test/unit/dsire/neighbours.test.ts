// The WebAssembly nearest-neighbour kernels (native/neighbours.ts) must give the plain loops' answers
// bit for bit: the same distances, the same neighbours in the same order (ties to the earlier
// reference), the same references-per-size votes. The inputs are built to be awkward: few distinct
// values (so equal distances are common), names interleaved in the references, queries that are also
// references, odd vector lengths, NaN features.
import { describe, expect, it } from 'vitest';
import { blockDistances, search, type Task, type TaskOutput } from '../../../main/dsire/pairwise.ts';
import type { FeatureTable } from '../../../main/dsire/table.ts';
import { mulberry32, shuffled } from '../../../main/dsire/prng.ts';
import { accuracyOf, ACC_1, ACC_K3, CANDIDATES, DW_ACC_K3, lonoAccuracy, needsAccuracy, ruleOf, talliesFrom, TOP25_K3, TOP50_1, TOP50_K3 } from '../../../main/dsire/variants.ts';
import type { Variant } from '../../../main/dsire/types.ts';
import { neighbourKernel } from '../../../native/neighbours.ts';

/** The candidates whose vote needs no held-out accuracy (the others are tested below with it). */
const FIXED = CANDIDATES.filter((v) => !needsAccuracy(v));

function table(n: number, dims: number[], names: number, sizes: number, seed: number, levels = 4): FeatureTable {
  const kinds = ['sigmaA', 'sigmaB', 'sigmaDW'] as const;
  const next = mulberry32(seed);
  const blocks = dims.map((d) => Float64Array.from({ length: n * d }, () => Math.floor(next() * levels) / levels));
  const nameIndex = Int32Array.from({ length: n }, () => Math.floor(next() * names));
  const sizeIndex = Int32Array.from({ length: n }, () => Math.floor(next() * sizes));
  const sizeList = Array.from({ length: sizes }, (_, s) => s + 1);
  return {
    kind: 'spectra', n, moduleIds: dims.map((_, c) => `m${c}`), moduleOf: Int32Array.from(dims, (_, c) => c),
    kinds: dims.map((_, c) => kinds[c % 3]), dims: Int32Array.from(dims), blocks, min: 0, range: 1,
    sizes: sizeList, labels: Float64Array.from(sizeIndex, (s) => sizeList[s]), sizeIndex,
    names: Array.from({ length: names }, (_, p) => `name${p}`), nameIndex,
    adapterNames: Array.from(nameIndex, (p) => `name${p}`), sources: Array.from({ length: n }, () => 'test'),
  };
}

function same(a: TaskOutput[], b: TaskOutput[]): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, t) => {
    const y = b[t];
    expect(Boolean(x.nb)).toBe(Boolean(y.nb));
    if (x.nb && y.nb) {
      expect(Array.from(x.nb.idx)).toEqual(Array.from(y.nb.idx));
      // Object.is: NaN equals NaN, and every bit of every distance counts
      expect(Array.from(x.nb.dist).every((v, i) => Object.is(v, y.nb!.dist[i]))).toBe(true);
    }
    expect(Boolean(x.tallies)).toBe(Boolean(y.tallies));
    if (x.tallies && y.tallies) {
      expect(x.tallies.variants).toEqual(y.tallies.variants);
      expect(Array.from(x.tallies.votes)).toEqual(Array.from(y.tallies.votes));
      expect(Array.from(x.tallies.dist)).toEqual(Array.from(y.tallies.dist));
      expect(Array.from(x.hits!)).toEqual(Array.from(y.hits!));
    }
    expect(Boolean(x.prefix)).toBe(Boolean(y.prefix));
    if (x.prefix && y.prefix) {
      expect(Array.from(x.prefix.votes)).toEqual(Array.from(y.prefix.votes));
      expect(Array.from(x.prefix.dist).every((v, i) => Object.is(v, y.prefix!.dist[i]))).toBe(true);
    }
  });
}

describe('WebAssembly nearest-neighbour kernels', () => {
  it('are available on this runtime (Node 24 has WebAssembly SIMD)', () => {
    expect(neighbourKernel()).not.toBeNull();
  });

  it('compute the plain loop\'s distances bit for bit, for every vector length and row count', () => {
    for (const [n, d] of [[1, 1], [2, 1], [3, 5], [4, 2], [5, 32], [9, 7], [13, 33], [64, 16]]) {
      const next = mulberry32(n * 100 + d);
      const block = Float64Array.from({ length: n * d }, () => next() * 3 - 1);
      const plan = neighbourKernel()!.plan(n, d, 1, new Int32Array(n), 1, []);
      plan.distances(block, d);
      const expected = new Float64Array(n * n);
      blockDistances(block, n, d, expected);
      expect(Array.from(plan.matrix())).toEqual(Array.from(expected));
    }
  });

  it('find the same neighbours and votes as the plain loops: splits with prefixes, leave-one-name-out, k = 1…3', () => {
    for (const seed of [1, 2, 3]) {
      const t = table(47, [1, 3, 8, 32], 9, 4, seed);
      const next = mulberry32(seed + 10);
      const names = shuffled(Array.from({ length: 9 }, (_, p) => p), next);
      const rowsOf = (p: number) => Array.from({ length: t.n }, (_, i) => i).filter((i) => t.nameIndex[i] === p);
      const refNames = names.slice(0, 5);
      const refs = Int32Array.from(refNames.flatMap(rowsOf));
      const prefixEnds = Int32Array.from(refNames.map((_, p) => refNames.slice(0, p + 1).flatMap(rowsOf).length));
      const queries = Int32Array.from(names.slice(5).flatMap(rowsOf));
      const all = Int32Array.from({ length: t.n }, (_, i) => i); // names interleaved, as in table order
      const tasks: Task[] = [
        { queries, refs, excludeSameName: false, k: 3, prefixEnds },
        { queries, refs, excludeSameName: false, k: 3, prefixEnds, neighbours: false, tallies: FIXED },
        { queries, refs, excludeSameName: false, k: 1, prefixEnds, tallies: FIXED },
        { queries: refs, refs, excludeSameName: true, k: 3, tallies: FIXED },
        { queries: all, refs: all, excludeSameName: true, k: 2, tallies: FIXED },
        { queries: all, refs: all, excludeSameName: false, k: 3, tallies: FIXED }, // the query itself must be skipped
        { queries: all.slice(0, 5), refs: Int32Array.of(), excludeSameName: false, k: 3, tallies: FIXED },
      ];
      same(search(t, tasks), search(t, tasks, { plainLoops: true }));
    }
  });

  it('never take a NaN distance, as the plain loop never does', () => {
    const t = table(20, [4], 4, 3, 7);
    t.blocks[0][5] = Number.NaN;
    t.blocks[0][4 * 11 + 2] = -Number.NaN;
    const all = Int32Array.from({ length: t.n }, (_, i) => i);
    const tasks: Task[] = [{ queries: all, refs: all, excludeSameName: true, k: 3, tallies: FIXED }];
    const kernel = search(t, tasks);
    same(kernel, search(t, tasks, { plainLoops: true }));
    expect(Array.from(kernel[0].nb!.idx).filter((r) => r === 1 || r === 11)).toEqual([]);
  });
});

describe('tallies summed during the search', () => {
  it('equal the tallies counted from the neighbours afterwards, on the norms table too', async () => {
    const { buildTable } = await import('../../../main/dsire/table.ts');
    const { syntheticReference } = await import('./synthetic.ts');
    const { NORMS, talliesFrom } = await import('../../../main/dsire/variants.ts');
    const ref = syntheticReference({ names: 12, modules: 4, rank: 6, seed: 5 });
    for (const kind of ['spectra', 'norms'] as const) {
      const t = buildTable(ref, kind);
      const rows = Int32Array.from({ length: t.n }, (_, i) => i);
      const refs = rows.filter((i) => t.nameIndex[i] % 3 === 0);
      const queries = rows.filter((i) => t.nameIndex[i] % 3 !== 0);
      const k = kind === 'norms' ? 1 : 3;
      const variants = kind === 'norms' ? [NORMS] : FIXED;
      const [out] = search(t, [{ queries, refs, excludeSameName: false, k, tallies: variants }]);
      const expected = talliesFrom(variants, t, out.nb!, queries.length);
      expect(out.tallies!.variants).toBe(variants);
      expect(Array.from(out.tallies!.votes)).toEqual(Array.from(expected.votes));
      expect(Array.from(out.tallies!.dist)).toEqual(Array.from(expected.dist));
      const hits = Array.from({ length: t.blocks.length }, (_, c) => Array.from(queries).filter((q, i) => t.sizeIndex[out.nb!.idx[(i * t.blocks.length + c) * k]] === t.sizeIndex[q]).length);
      expect(Array.from(out.hits!)).toEqual(hits);
    }
  });

  // The kernel reads each variant as data (k, weighting, which classifiers vote): any list of
  // variants is tallied in the kernel, bit for bit as the plain loops count it, with no fallback.
  const unusual: Variant[] = [
    { name: 'all, 2-NN inverse-distance', features: 'all', k: 2, weighting: 'inverse-distance' },
    { name: 'σ(ΔW), 3-NN one vote each', features: 'sigmaDW', k: 3, weighting: 'none' },
    { name: 'all, 1-NN inverse-distance', features: 'all', k: 1, weighting: 'inverse-distance' },
    { name: 'all, 5-NN inverse-distance (clipped to the task\'s k)', features: 'all', k: 5, weighting: 'inverse-distance' },
  ];

  it('of any variants, in any order, match the plain loops bit for bit', () => {
    for (const seed of [4, 5]) {
      const t = table(41, [2, 5, 8, 3, 32, 7], 7, 5, seed);
      const rows = Int32Array.from({ length: t.n }, (_, i) => i);
      const refs = rows.filter((i) => t.nameIndex[i] < 4);
      const queries = rows.filter((i) => t.nameIndex[i] >= 4);
      for (const variants of [unusual, [...FIXED].reverse(), [...unusual, ...FIXED]]) {
        const tasks: Task[] = [
          { queries, refs, excludeSameName: false, k: 3, neighbours: false, tallies: variants },
          { queries: rows, refs: rows, excludeSameName: true, k: 2, tallies: variants },
          { queries, refs, excludeSameName: false, k: 1, neighbours: false, tallies: [] },
        ];
        same(search(t, tasks), search(t, tasks, { plainLoops: true }));
      }
    }
  });

  it('are summed by the kernel itself from the rules it is given', () => {
    const t = table(30, [4, 6, 9], 6, 4, 11);
    const rows = Int32Array.from({ length: t.n }, (_, i) => i);
    const variants = [...unusual, ...FIXED];
    const rules = variants.map((v) => ruleOf(v, t));
    const task = {
      queries: rows, queryNames: t.nameIndex, refs: rows, ends: Int32Array.of(t.n), groupNames: Int32Array.of(-1), groupPrefix: Int32Array.of(-1),
      prefixes: 0, excludeSameName: false, k: 3, neighbours: true, tallies: rules,
    };
    const plan = neighbourKernel()!.plan(t.n, 9, t.dims.length, t.sizeIndex, t.sizes.length, [task]);
    for (let c = 0; c < t.dims.length; c++) {
      plan.distances(t.blocks[c], t.dims[c]);
      plan.nearest(0, c);
    }
    const r = plan.result(0);
    const expected = talliesFrom(variants, t, { k: 3, classifiers: t.dims.length, idx: r.idx, dist: r.dist }, t.n);
    expect(r.tallyVotes.length).toBe(t.n * variants.length * t.sizes.length);
    expect(Array.from(r.tallyVotes)).toEqual(Array.from(expected.votes));
    expect(Array.from(r.tallyDist)).toEqual(Array.from(expected.dist));
    expect(r.tallyVotes.some((v) => v > 0 && v < 1)).toBe(true); // weighted votes were cast
  });

  it('refuse a rule without one finite weight ≥ 0 per classifier, or with a k no i32 holds', () => {
    const t = table(5, [2, 2], 2, 2, 1);
    const rows = Int32Array.from({ length: t.n }, (_, i) => i);
    const task = {
      queries: rows, queryNames: t.nameIndex, refs: rows, ends: Int32Array.of(t.n), groupNames: Int32Array.of(-1), groupPrefix: Int32Array.of(-1),
      prefixes: 0, excludeSameName: false, k: 1, neighbours: false, tallies: [{ k: 1, weighted: false, weights: new Float64Array(1) }],
    };
    expect(() => neighbourKernel()!.plan(t.n, 2, 2, t.sizeIndex, t.sizes.length, [task])).toThrow(/one finite weight ≥ 0 per classifier \(2\), got k = 1 and 1 weights/);
    for (const bad of [-1, Number.NaN, Infinity]) {
      const weights = Float64Array.of(1, bad);
      expect(() => neighbourKernel()!.plan(t.n, 2, 2, t.sizeIndex, t.sizes.length, [{ ...task, tallies: [{ k: 1, weighted: false, weights }] }])).toThrow(/one finite weight ≥ 0 per classifier/);
    }
    const tooMany = { ...task, tallies: [{ k: 2 ** 31, weighted: true, weights: new Float64Array(2) }] };
    expect(() => neighbourKernel()!.plan(t.n, 2, 2, t.sizeIndex, t.sizes.length, [tooMany])).toThrow(/a whole k ≥ 1 \(an i32\).*got k = 2147483648/);
  });
});

describe('classifiers weighted by their held-out accuracy (issue 18)', () => {
  const weightedVariants = [ACC_1, ACC_K3, DW_ACC_K3, TOP50_1, TOP50_K3, TOP25_K3];
  const split = (t: FeatureTable) => {
    const rows = Int32Array.from({ length: t.n }, (_, i) => i);
    return { refs: rows.filter((i) => t.nameIndex[i] < 4), queries: rows.filter((i) => t.nameIndex[i] >= 4) };
  };

  it('are tallied by the kernel bit for bit as the plain loops count them, weights given or taken from an earlier task', () => {
    for (const seed of [6, 7]) {
      const t = table(43, [2, 5, 8, 3, 32, 7], 7, 5, seed);
      const { refs, queries } = split(t);
      const next = mulberry32(seed);
      const given = Float64Array.from(t.dims, () => Math.floor(next() * 5) / 4); // ties and zeros
      const tasks: Task[] = [
        { queries: refs, refs, excludeSameName: true, k: 3, tallies: FIXED },
        { queries, refs, excludeSameName: false, k: 3, tallies: [ACC_1, ACC_K3, DW_ACC_K3, ...FIXED], accuracy: { fromTask: 0 } },
        { queries, refs, excludeSameName: false, k: 2, neighbours: false, tallies: [...weightedVariants, ...FIXED], accuracy: given },
        { queries: refs, refs, excludeSameName: true, k: 3, neighbours: false, tallies: weightedVariants, accuracy: given },
      ];
      const kernel = search(t, tasks);
      same(kernel, search(t, tasks, { plainLoops: true }));
      // the weights handed to the kernel classifier by classifier are task 0's held-out accuracy
      const expected = talliesFrom(tasks[1].tallies!, t, kernel[1].nb!, queries.length, accuracyOf(kernel[0].hits!, refs.length));
      expect(Array.from(kernel[1].tallies!.votes)).toEqual(Array.from(expected.votes));
      expect(kernel[1].tallies!.votes.some((v) => v > 0 && v !== Math.round(v))).toBe(true);
    }
  });

  it('weigh a query with accuracies from the reference names only: changing the query names\' adapters changes no weight', () => {
    const t = table(43, [2, 5, 8, 3, 32, 7], 7, 5, 8);
    const { refs, queries } = split(t);
    const tasks: Task[] = [
      { queries: refs, refs, excludeSameName: true, k: 3, tallies: FIXED },
      { queries, refs, excludeSameName: false, k: 3, tallies: [ACC_1, ACC_K3], accuracy: { fromTask: 0 } },
    ];
    const before = search(t, tasks);
    // the query names' adapters replaced by others (features and sizes): the reference names untouched
    const next = mulberry32(99);
    const moved: FeatureTable = { ...t, blocks: t.blocks.map((b, c) => b.map((x, j) => (t.nameIndex[Math.floor(j / t.dims[c])] >= 4 ? Math.floor(next() * 4) / 4 : x))),
      sizeIndex: t.sizeIndex.map((s, i) => (t.nameIndex[i] >= 4 ? (s + 1) % 5 : s)) };
    const after = search(moved, tasks);
    expect(Array.from(after[0].hits!)).toEqual(Array.from(before[0].hits!));
    const weights = accuracyOf(before[0].hits!, refs.length);
    const recount = talliesFrom([ACC_1, ACC_K3], moved, after[1].nb!, queries.length, weights);
    expect(Array.from(after[1].tallies!.votes)).toEqual(Array.from(recount.votes));
    // and the test can see a change: the reference names' adapters do move the weights
    const refMoved: FeatureTable = { ...t, sizeIndex: t.sizeIndex.map((s, i) => (t.nameIndex[i] === 0 ? (s + 1) % 5 : s)) };
    expect(Array.from(search(refMoved, tasks)[0].hits!)).not.toEqual(Array.from(before[0].hits!));
  });

  it('score the reference names themselves with the accuracy of the other names: a name\'s own hits never weigh its vote', () => {
    const t = table(43, [2, 5, 8, 3, 32, 7], 7, 5, 9);
    const { refs } = split(t);
    const [out] = search(t, [{ queries: refs, refs, excludeSameName: true, k: 3, tallies: FIXED }]);
    const nb = out.nb!;
    const C = t.dims.length;
    const of = lonoAccuracy(t, nb, refs);
    for (let q = 0; q < refs.length; q++) {
      const others = Array.from(refs.keys()).filter((i) => t.nameIndex[refs[i]] !== t.nameIndex[refs[q]]);
      const expected = Array.from({ length: C }, (_, c) => others.filter((i) => t.sizeIndex[nb.idx[(i * C + c) * 3]] === t.sizeIndex[refs[i]]).length / others.length);
      expect(Array.from(of(q))).toEqual(expected);
    }
    // changing the sizes the classifiers named for one name's own queries leaves that name's weights alone
    const p = t.nameIndex[refs[0]];
    const idx = nb.idx.slice();
    for (let q = 0; q < refs.length; q++) if (t.nameIndex[refs[q]] === p) for (let c = 0; c < C; c++) idx[(q * C + c) * 3] = refs[q];
    expect(Array.from(lonoAccuracy(t, { ...nb, idx }, refs)(0))).toEqual(Array.from(of(0)));
  });

  it('keep the most accurate fraction of the classifiers that take part, ties to the earlier one', () => {
    const t = table(10, [1, 1, 1, 1, 1, 1], 2, 2, 1);
    const acc = Float64Array.of(0.5, 0.9, 0.5, 0.1, 0.9, 0.7);
    expect(Array.from(ruleOf(TOP50_K3, t, acc).weights)).toEqual([0, 1, 0, 0, 1, 1]);
    expect(Array.from(ruleOf(TOP25_K3, t, acc).weights)).toEqual([0, 1, 0, 0, 1, 0]);
    expect(Array.from(ruleOf(ACC_K3, t, acc).weights)).toEqual(Array.from(acc));
    // σ(ΔW) only: classifiers 2 and 5 take part
    expect(Array.from(ruleOf(DW_ACC_K3, t, acc).weights)).toEqual([0, 0, 0.5, 0, 0, 0.7]);
    expect(() => ruleOf(ACC_K3, t)).toThrow(/needs each classifier's held-out accuracy/);
    // a rule that ranks the classifiers cannot be fed classifier by classifier
    const rows = Int32Array.from({ length: t.n }, (_, i) => i);
    expect(() => search(t, [{ queries: rows, refs: rows, excludeSameName: true, k: 1, tallies: [] }, { queries: rows, refs: rows, excludeSameName: false, k: 3, tallies: [TOP50_K3], accuracy: { fromTask: 0 } }]))
      .toThrow(/ranks the classifiers/);
  });
});
