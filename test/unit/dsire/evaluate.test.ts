// The paper's protocol: reproducible for a seed, different for another, consistent with classifying
// each held-out adapter one by one, and with its ablations and refusals of impossible splits.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { evaluate } from '../../../main/dsire/evaluate.ts';
import { isAuditError } from '../../../main/errors.ts';
import type { EvaluationResult } from '../../../main/dsire/types.ts';
import { mulberry32 } from '../../../main/dsire/prng.ts';
import { ABLATIONS, ACC_1, ACC_K3, CANDIDATES, FAITHFUL, TOP50_K3 } from '../../../main/dsire/variants.ts';
import { queryOf, syntheticReference } from './synthetic.ts';

const ref = syntheticReference({ names: 30, modules: 6, rank: 8, noise: 0.2, nameNoise: 0.12, seed: 3 });
const opts = { splits: 4, trainNames: 8, seed: 42, mode: 'faithful' as const };
const strip = (r: EvaluationResult) => ({ ...r, elapsedMs: 0 });

describe('evaluate', () => {
  const first = evaluate(ref, opts);

  it('reports the protocol’s numbers with their spread', () => {
    expect(first.splits).toHaveLength(4);
    expect(first.sizes).toEqual([1, 2, 3, 4, 5, 6]);
    for (const s of first.splits) {
      expect(s.referenceNames).toHaveLength(8);
      expect(s.queries).toBe((30 - 8) * 6);
    }
    const accs = first.splits.map((s) => s.accuracy);
    const mean = accs.reduce((a, b) => a + b) / accs.length;
    expect(first.accuracy.mean).toBeCloseTo(mean, 12);
    expect(first.accuracy.std).toBeCloseTo(Math.sqrt(accs.reduce((a, b) => a + (b - mean) ** 2, 0) / accs.length), 12);
    expect(first.accuracy.mean).toBeGreaterThan(0.3);
    expect(first.accuracy.mean).toBeLessThan(1);
    expect(first.mae.mean).toBeGreaterThan(0);
    expect(first.mape.mean).toBeGreaterThan(0);
    const total = first.confusion.counts.flat().reduce((a, b) => a + b, 0);
    expect(total).toBe(4 * 22 * 6);
    const diagonal = first.confusion.counts.reduce((a, row, i) => a + row[i], 0);
    expect(diagonal / total).toBeCloseTo(first.accuracy.mean, 12);
    expect(first.perLayer).toHaveLength(3 * 6);
    expect(first.ablations.referencesPerSize).toHaveLength(8);
    // All 8 names per size is the faithful run itself.
    expect(first.ablations.referencesPerSize[7].accuracy).toEqual(first.accuracy);
    expect(first.ablations.variants[0].accuracy).toEqual(first.accuracy);
    expect(first.ablations.variants.map((v) => v.variant.features)).toEqual(['all', 'sigmaDW', 'norms', 'all', 'sigmaDW']);
    expect(first.comparison).toBeNull();
    expect(first.interval).toBeNull();
  });

  it('is reproducible for a seed and different for another seed', () => {
    expect(strip(evaluate(ref, opts))).toEqual(strip(first));
    const other = evaluate(ref, { ...opts, seed: 7 });
    expect(other.splits.map((s) => s.referenceNames)).not.toEqual(first.splits.map((s) => s.referenceNames));
    expect(other.splits.map((s) => s.accuracy)).not.toEqual(first.splits.map((s) => s.accuracy));
  });

  it('matches classifying every held-out adapter one by one against that split’s references', () => {
    const split = first.splits[1];
    const names = new Set(split.referenceNames);
    const sub = { ...ref, adapters: ref.adapters.filter((a) => names.has(a.name)) };
    const held = ref.adapters.filter((a) => !names.has(a.name));
    let hits = 0;
    let abs = 0;
    for (const q of held) {
      const r = analyze(queryOf(q, sub), sub, { mode: 'faithful' });
      if (r.estimate === q.label) hits++;
      abs += Math.abs(r.estimate! - q.label);
    }
    expect(split.accuracy).toBeCloseTo(hits / held.length, 12);
    expect(split.mae).toBeCloseTo(abs / held.length, 12);
  });

  it('gives the same report, to the last bit, with the WebAssembly kernels and with the plain loops', () => {
    for (const mode of ['faithful', 'best'] as const) {
      const kernel = strip(evaluate(ref, { ...opts, mode }));
      const plain = strip(evaluate(ref, { ...opts, mode, plainLoops: true }));
      expect(JSON.stringify(kernel)).toBe(JSON.stringify(plain));
    }
  });

  it('in best mode also measures the accuracy-weighted candidate, and any extra variants, on the same splits, kernel and plain loops alike', () => {
    const bestOpts = { ...opts, mode: 'best' as const };
    const plainBest = evaluate(ref, bestOpts);
    expect(plainBest.ablations.variants.map((v) => v.variant)).toEqual([...ABLATIONS]);
    const extra = evaluate(ref, { ...bestOpts, extraVariants: [TOP50_K3, ACC_1] });
    expect(extra.ablations.variants.map((v) => v.variant)).toEqual([...ABLATIONS, TOP50_K3, ACC_1]);
    // the same splits: every variant both runs measure scores the same
    expect(extra.ablations.variants.slice(0, ABLATIONS.length)).toEqual(plainBest.ablations.variants);
    expect(extra.ablations.variants[ABLATIONS.length].accuracy).not.toEqual(plainBest.ablations.variants[3].accuracy);
    const plain = evaluate(ref, { ...bestOpts, extraVariants: [TOP50_K3, ACC_1], plainLoops: true });
    expect(JSON.stringify(strip(plain))).toBe(JSON.stringify(strip(extra)));
    // faithful mode has no leave-one-name-out pass to weigh by: it leaves the weighted variants out
    expect(first.ablations.variants.some((v) => v.variant === ACC_K3)).toBe(false);
    expect(() => evaluate(ref, { ...opts, extraVariants: [ACC_1] })).toThrow(/measured in best mode/);
    // measured, not offered: best mode still chooses among CANDIDATES unless told otherwise
    expect(Object.keys(extra.comparison!.chosen).every((name) => CANDIDATES.some((v) => v.name === name))).toBe(true);
    expect(extra.splits.map((s) => s.mae)).toEqual(plainBest.splits.map((s) => s.mae));
    const offered = evaluate(ref, { ...bestOpts, candidates: [FAITHFUL, TOP50_K3] });
    expect(Object.keys(offered.comparison!.chosen).every((name) => name === FAITHFUL.name || name === TOP50_K3.name)).toBe(true);
    expect(offered.ablations.variants.map((v) => v.variant)).toEqual([...ABLATIONS, TOP50_K3]);
    expect(() => evaluate(ref, { ...bestOpts, candidates: [TOP50_K3] })).toThrow(/start with the paper's faithful variant/);
  });

  it('refuses splits that leave nothing to query', () => {
    for (const trainNames of [0, 30, 31]) {
      let caught: unknown;
      try { evaluate(ref, { ...opts, trainNames }); } catch (e) { caught = e; }
      expect(isAuditError(caught, 'BAD_REQUEST')).toBe(true);
      expect(String((caught as Error).message)).toMatch(/between 1 and 29/);
    }
  });
});

describe('one-value classifiers', () => {
  it('the sorted search names the same neighbour as the full scan, ties to the earlier reference', async () => {
    const { scalarScan, scan, blockDistances } = await import('../../../main/dsire/pairwise.ts');
    for (const seed of [3, 4, 5]) {
      const next = mulberry32(seed);
      const n = 60;
      // Few distinct values (and both zeros), so equal distances and equal values both occur.
      const block = Float64Array.from({ length: n }, () => (next() < 0.05 ? -0 : Math.round(next() * 12) / 4));
      const refs = Int32Array.from({ length: 25 }, (_, i) => (i * 7 + seed) % n);
      const inRefs = new Set(refs);
      const rest = Array.from({ length: n }, (_, i) => i).filter((i) => !inRefs.has(i));
      // once with every query distinct (one pass in value order), once with repeats (a search per query)
      for (const queries of [Int32Array.from(rest), Int32Array.from([...rest, ...rest.slice(0, 5)])]) {
        const a = { idx: new Int32Array(queries.length).fill(-1), dist: new Float64Array(queries.length) };
        scalarScan(block, queries, refs, 0, 1, a.idx, a.dist);
        const D = new Float64Array(n * n);
        blockDistances(block, n, 1, D);
        const res = { topD: new Float64Array(queries.length), topR: new Int32Array(queries.length), groupD: new Float64Array(queries.length), groupR: new Int32Array(queries.length) };
        scan(D, n, queries, refs, false, new Int32Array(n), 1, Int32Array.of(refs.length), res);
        expect(Array.from(a.idx)).toEqual(Array.from(res.topR));
        expect(Array.from(a.dist)).toEqual(Array.from(res.topD, Math.sqrt));
      }
    }
  });

  it('orders rows by value as a comparator sort does, equal values by row', async () => {
    const { valueOrder } = await import('../../../main/dsire/pairwise.ts');
    const next = mulberry32(9);
    for (let t = 0; t < 500; t++) {
      const block = Float64Array.from({ length: 1 + Math.floor(next() * 40) }, () => (next() < 0.1 ? (next() < 0.5 ? -0 : 0) : Math.round(next() * 8) / 4 - 1));
      const expected = Int32Array.from(block, (_, i) => i).sort((x, y) => block[x] - block[y] || x - y);
      expect(Array.from(valueOrder(block))).toEqual(Array.from(expected));
    }
  });
});
