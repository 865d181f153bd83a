// The paper-faithful classifier against a brute-force re-implementation written here with plain loops
// over the ModuleFeatures objects (no shared code), and the documented tie-break.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { NO_INTERVAL } from '../../../main/dsire/conformal.ts';
import type { ReferenceSet } from '../../../main/reference/types.ts';
import type { ModuleFeatures } from '../../../native/types.ts';
import { features, holdOut, queryOf, syntheticReference } from './synthetic.ts';

interface Brute { estimate: number; votes: Map<number, number>; perModule: { id: string; feature: string; predicted: number; distance: number; neighbour: string }[]; nearest: { name: string; size: number; distance: number }[] }

function bruteForce(ref: ReferenceSet, query: ModuleFeatures[]): Brute {
  const kinds = ['sigmaA', 'sigmaB', 'sigmaDW'] as const;
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of ref.adapters) for (const f of a.features) for (const k of kinds) for (const x of f[k]) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  const norm = (x: number) => (x - lo) / (hi - lo);
  const votes = new Map<number, number>();
  const sums = new Map<number, number>();
  const perModule: Brute['perModule'] = [];
  const total = ref.adapters.map(() => 0);
  for (const m of ref.config.modules) {
    const qf = query.find((f) => f.id === m.id)!;
    for (const k of kinds) {
      let best = -1;
      let bestD = Infinity;
      ref.adapters.forEach((a, i) => {
        const rf = a.features.find((f) => f.id === m.id)!;
        let s = 0;
        for (let j = 0; j < qf[k].length; j++) s += (norm(qf[k][j]) - norm(rf[k][j])) ** 2;
        total[i] += s;
        if (Math.sqrt(s) < bestD) { bestD = Math.sqrt(s); best = i; }
      });
      const label = ref.adapters[best].label;
      votes.set(label, (votes.get(label) ?? 0) + 1);
      sums.set(label, (sums.get(label) ?? 0) + bestD);
      perModule.push({ id: m.id, feature: k, predicted: label, distance: bestD, neighbour: ref.adapters[best].name });
    }
  }
  const sizes = [...votes.keys()].sort((a, b) => a - b);
  let estimate = sizes[0];
  for (const s of sizes) {
    const better = votes.get(s)! > votes.get(estimate)! || (votes.get(s) === votes.get(estimate) && sums.get(s)! < sums.get(estimate)!);
    if (better) estimate = s;
  }
  const nearest = ref.adapters.map((a, i) => ({ name: a.name, size: a.label, distance: Math.sqrt(total[i]) }))
    .sort((x, y) => x.distance - y.distance).slice(0, 5);
  return { estimate, votes, perModule, nearest };
}

describe('faithful classifier', () => {
  const full = syntheticReference({ names: 24, modules: 6, rank: 8, noise: 0.2, nameNoise: 0.12, seed: 7 });
  const { ref, queries } = holdOut(full, 4);

  it('equals a brute-force re-implementation on every held-out adapter', () => {
    let differentFromTruth = 0;
    for (const q of queries) {
      const result = analyze(queryOf(q, ref), ref, { mode: 'faithful' });
      const brute = bruteForce(ref, q.features);
      expect(result.applicable).toBe(true);
      expect(result.estimate).toBe(brute.estimate);
      for (const v of result.votes) expect(v.count).toBe(brute.votes.get(v.size) ?? 0);
      expect(result.votes.map((v) => v.size)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(result.perModule.length).toBe(brute.perModule.length);
      result.perModule.forEach((p, i) => {
        expect(p.id).toBe(brute.perModule[i].id);
        expect(p.feature).toBe(brute.perModule[i].feature);
        expect(p.predicted).toBe(brute.perModule[i].predicted);
        expect(p.neighbour).toBe(brute.perModule[i].neighbour);
        expect(p.distance).toBeCloseTo(brute.perModule[i].distance, 12);
      });
      expect(result.nearest.map((n) => [n.name, n.size])).toEqual(brute.nearest.map((n) => [n.name, n.size]));
      result.nearest.forEach((n, i) => expect(n.distance).toBeCloseTo(brute.nearest[i].distance, 12));
      if (result.estimate !== q.label) differentFromTruth++;
    }
    // The noise makes some of them wrong: the comparison is not only over easy cases.
    expect(differentFromTruth).toBeGreaterThan(0);
    expect(differentFromTruth).toBeLessThan(queries.length);
  });

  it('faithful mode gives no interval or regression, and says which rule decided', () => {
    const result = analyze(queryOf(queries[0], ref), ref, { mode: 'faithful' });
    expect(result.interval).toEqual({ reason: NO_INTERVAL.faithful });
    expect(result.regression).toBeNull();
    expect(result.method.name).toBe('DSiRe');
    expect(String(result.method.parameters.tieBreak)).toMatch(/summed distance/);
  });

  it('breaks a tied vote by the smallest summed distance, then the smaller size', () => {
    // Two modules → 6 classifiers. References: size 1 and size 2, each its own name. The query sits
    // on size 1 for module m0 (3 votes) and on size 2 for module m1 (3 votes), nearer to size 2.
    const v = (x: number) => Float64Array.from([x, x / 2]);
    const mk = (id: string, x: number) => features(id, v(x), v(x), v(x));
    const ids = ['m0', 'm1'];
    const refSet: ReferenceSet = {
      id: 1, name: 'tie', provenance: { source: 'generator', importerVersion: 't', createdAt: '', shards: [] },
      config: { rank: 2, family: 'diffusers-lora', method: 'lora', scaleRule: 'one', scale: 1, baseModel: 'sd1', modules: ids.map((id) => ({ id, inFeatures: 4, outFeatures: 4 })), sizes: [1, 2], names: ['a', 'b'] },
      adapters: [
        { id: 1, name: 'a', label: 1, source: 'a', features: [mk('m0', 10), mk('m1', 10)] },
        { id: 2, name: 'b', label: 2, source: 'b', features: [mk('m0', 0), mk('m1', 0)] },
      ],
    };
    const near2 = analyze(queryOf({ id: 9, name: 'q', label: 0, source: 'q', features: [mk('m0', 9), mk('m1', 0.5)] }, refSet), refSet, { mode: 'faithful' });
    expect(near2.votes).toEqual([{ size: 1, count: 3 }, { size: 2, count: 3 }]);
    expect(near2.estimate).toBe(2);
    const near1 = analyze(queryOf({ id: 9, name: 'q', label: 0, source: 'q', features: [mk('m0', 9.5), mk('m1', 1)] }, refSet), refSet, { mode: 'faithful' });
    expect(near1.estimate).toBe(1);
    const exact = analyze(queryOf({ id: 9, name: 'q', label: 0, source: 'q', features: [mk('m0', 9), mk('m1', 1)] }, refSet), refSet, { mode: 'faithful' });
    expect(exact.estimate).toBe(1);
  });
});

describe('per-layer normalisation', () => {
  it('cannot change any vote: each classifier sees one layer, so scaling it only scales its distances', () => {
    const full = syntheticReference({ names: 16, modules: 4, rank: 6, noise: 0.2, nameNoise: 0.12, seed: 5 });
    const { ref, queries } = holdOut(full, 2);
    // Min–max per classifier = one affine map per (module, feature): emulate it with very different
    // factors per module and feature, applied to references and queries alike.
    const factor = (id: string, k: number) => 10 ** ((id.length + 3 * k) % 5 - 2);
    const scale = (fs: ModuleFeatures[]) => fs.map((f) => features(f.id, f.sigmaA.map((x) => x * factor(f.id, 0) + 1), f.sigmaB.map((x) => x * factor(f.id, 1)), f.sigmaDW.map((x) => x * factor(f.id, 2) - 0.5)));
    const scaled = { ...ref, adapters: ref.adapters.map((a) => ({ ...a, features: scale(a.features) })) };
    for (const q of queries) {
      const plain = analyze(queryOf(q, ref), ref, { mode: 'faithful' });
      const per = analyze(queryOf({ ...q, features: scale(q.features) }, scaled), scaled, { mode: 'faithful' });
      expect(per.votes).toEqual(plain.votes);
      expect(per.perModule.map((p) => p.neighbour)).toEqual(plain.perModule.map((p) => p.neighbour));
    }
  });
});

describe('spectra recorded with the result', () => {
  it('gives the chart the query’s σ₁(ΔW) per module next to each reference size’s mean', () => {
    const full = syntheticReference({ names: 8, modules: 6 });
    const { ref, queries } = holdOut(full, 1);
    const q = queries[0];
    const result = analyze(queryOf(q, ref), ref, { mode: 'faithful' });
    const spectra = result.spectra!;
    expect(spectra.statistic).toBe('σ₁(ΔW)');
    expect(spectra.modules).toEqual(ref.config.modules.map((m) => m.id));
    expect(spectra.query).toEqual(q.features.map((f) => f.sigmaDW[0]));
    expect(spectra.bySize.map((s) => s.size)).toEqual(ref.config.sizes);
    const size = ref.config.sizes[0];
    const members = ref.adapters.filter((a) => a.label === size);
    const mean0 = members.reduce((s, a) => s + a.features[0].sigmaDW[0], 0) / members.length;
    expect(spectra.bySize[0].mean[0]).toBeCloseTo(mean0, 12);
  });
});
