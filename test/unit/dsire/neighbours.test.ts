// The WebAssembly nearest-neighbour kernels (native/neighbours.ts) must give the plain loops' answers
// bit for bit: the same distances, the same neighbours in the same order (ties to the earlier
// reference), the same references-per-size votes. The inputs are built to be awkward: few distinct
// values (so equal distances are common), names interleaved in the references, queries that are also
// references, odd vector lengths, NaN features.
import { describe, expect, it } from 'vitest';
import { blockDistances, search, type Task, type TaskOutput } from '../../../main/dsire/pairwise.ts';
import type { FeatureTable } from '../../../main/dsire/table.ts';
import { mulberry32, shuffled } from '../../../main/dsire/prng.ts';
import { CANDIDATES, ruleOf, talliesFrom } from '../../../main/dsire/variants.ts';
import type { Variant } from '../../../main/dsire/types.ts';
import { neighbourKernel } from '../../../native/neighbours.ts';

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
        { queries, refs, excludeSameName: false, k: 3, prefixEnds, neighbours: false, tallies: CANDIDATES },
        { queries, refs, excludeSameName: false, k: 1, prefixEnds, tallies: CANDIDATES },
        { queries: refs, refs, excludeSameName: true, k: 3, tallies: CANDIDATES },
        { queries: all, refs: all, excludeSameName: true, k: 2, tallies: CANDIDATES },
        { queries: all, refs: all, excludeSameName: false, k: 3, tallies: CANDIDATES }, // the query itself must be skipped
        { queries: all.slice(0, 5), refs: Int32Array.of(), excludeSameName: false, k: 3, tallies: CANDIDATES },
      ];
      same(search(t, tasks), search(t, tasks, { plainLoops: true }));
    }
  });

  it('never take a NaN distance, as the plain loop never does', () => {
    const t = table(20, [4], 4, 3, 7);
    t.blocks[0][5] = Number.NaN;
    t.blocks[0][4 * 11 + 2] = -Number.NaN;
    const all = Int32Array.from({ length: t.n }, (_, i) => i);
    const tasks: Task[] = [{ queries: all, refs: all, excludeSameName: true, k: 3, tallies: CANDIDATES }];
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
      const variants = kind === 'norms' ? [NORMS] : CANDIDATES;
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
      for (const variants of [unusual, [...CANDIDATES].reverse(), [...unusual, ...CANDIDATES]]) {
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
    const variants = [...unusual, ...CANDIDATES];
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

  it('refuse a rule without one voter flag per classifier, or with a k no i32 holds', () => {
    const t = table(5, [2, 2], 2, 2, 1);
    const rows = Int32Array.from({ length: t.n }, (_, i) => i);
    const task = {
      queries: rows, queryNames: t.nameIndex, refs: rows, ends: Int32Array.of(t.n), groupNames: Int32Array.of(-1), groupPrefix: Int32Array.of(-1),
      prefixes: 0, excludeSameName: false, k: 1, neighbours: false, tallies: [{ k: 1, weighted: false, voters: new Uint8Array(1) }],
    };
    expect(() => neighbourKernel()!.plan(t.n, 2, 2, t.sizeIndex, t.sizes.length, [task])).toThrow(/one voter flag per classifier \(2\), got k = 1 and 1/);
    const tooMany = { ...task, tallies: [{ k: 2 ** 31, weighted: true, voters: new Uint8Array(2) }] };
    expect(() => neighbourKernel()!.plan(t.n, 2, 2, t.sizeIndex, t.sizes.length, [tooMany])).toThrow(/a whole k ≥ 1 \(an i32\).*got k = 2147483648/);
  });
});
