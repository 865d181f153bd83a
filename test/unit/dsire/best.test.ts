// Beyond the paper: the interval's coverage on held-out names, the rescaling evasion, the
// out-of-distribution flag, the metadata cross-check and the between-sizes regression.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { evaluate } from '../../../main/dsire/evaluate.ts';
import { CANDIDATES } from '../../../main/dsire/variants.ts';
import type { ReferenceAdapter } from '../../../main/reference/types.ts';
import type { IntervalBounds } from '../../../main/dsire/types.ts';
import { features, holdOut, queryOf, syntheticReference } from './synthetic.ts';

const full = syntheticReference({ names: 40, modules: 6, rank: 8, noise: 0.2, nameNoise: 0.12, seed: 11 });
const { ref, queries } = holdOut(full, 5);

/** A and B rescaled against each other by G = g·I: B·G, G⁻¹·A leave ΔW unchanged. */
function rescaled(a: ReferenceAdapter, g: number): ReferenceAdapter {
  return {
    ...a,
    features: a.features.map((f) => features(f.id, f.sigmaA.map((x) => x / g), f.sigmaB.map((x) => x * g), f.sigmaDW.slice())),
  };
}

describe('best mode', () => {
  it('covers the true size of held-out names at close to the nominal 90 %', () => {
    const result = evaluate(full, { splits: 12, trainNames: 15, seed: 42, mode: 'best' });
    expect(result.interval!.nominal).toBe(0.9);
    expect(Math.abs(result.interval!.coverage.mean - 0.9)).toBeLessThan(0.04);
    // Informative, not the whole grid.
    expect(result.interval!.meanWidth.mean).toBeLessThan(4);
    // The comparison is on the same splits, and best never measures worse than faithful here by much.
    expect(result.comparison!.faithful.accuracy).toEqual(result.ablations.variants[0].accuracy);
    expect(Object.values(result.comparison!.chosen).reduce((a, b) => a + b)).toBe(12);
    for (const s of result.splits) expect(s.coverage).toBeGreaterThan(0.7);
  });

  it('gives an interval holding the estimate, a regression next to it, and the leave-one-name-out scores', () => {
    for (const q of queries.slice(0, 12)) {
      const r = analyze(queryOf(q, ref), ref, { mode: 'best' });
      const iv = r.interval as IntervalBounds;
      expect(iv.nominal).toBe(0.9);
      expect(iv.low).toBeLessThanOrEqual(r.estimate!);
      expect(iv.high).toBeGreaterThanOrEqual(r.estimate!);
      expect(ref.config.sizes).toContain(iv.low);
      expect(ref.config.sizes).toContain(iv.high);
      expect(r.regression!.estimate).toBeGreaterThan(0.5);
      expect(r.regression!.estimate).toBeLessThan(12);
      expect(r.outOfDistribution!.flagged).toBe(false);
    }
    const params = analyze(queryOf(queries[0], ref), ref, { mode: 'best' }).method.parameters;
    expect((params.leaveOneNameOut as unknown[]).length).toBe(CANDIDATES.length);
  });

  it('σ(ΔW)-only ignores A/B rescaling; the faithful vote is pulled away and the adapter is flagged', () => {
    const faithfulBefore = queries.map((q) => analyze(queryOf(q, ref), ref, { mode: 'faithful' }));
    let faithfulChanged = 0;
    for (const [i, q] of queries.entries()) {
      const moved = rescaled(q, 8);
      const after = analyze(queryOf(moved, ref), ref, { mode: 'faithful' });
      const dwBefore = faithfulBefore[i].perModule.filter((p) => p.feature === 'sigmaDW');
      const dwAfter = after.perModule.filter((p) => p.feature === 'sigmaDW');
      // σ(ΔW) classifiers give exactly the same answers: the σ(ΔW)-only variant cannot move.
      expect(dwAfter).toEqual(dwBefore);
      // σ(A) shrank 8× → the σ(A) classifiers name the references with the smallest σ(A): large sizes.
      const aVotes = after.perModule.filter((p) => p.feature === 'sigmaA').map((p) => p.predicted);
      expect(Math.min(...aVotes)).toBeGreaterThanOrEqual(4);
      if (after.estimate !== faithfulBefore[i].estimate) faithfulChanged++;
      expect(after.outOfDistribution!.flagged).toBe(true);
      expect(after.outOfDistribution!.explanation).toMatch(/rescaled against each other/);
      expect(after.warnings.join(' ')).toMatch(/Out of distribution/);
    }
    // Recorded behaviour: the faithful estimate moves for most rescaled adapters.
    expect(faithfulChanged).toBeGreaterThan(queries.length / 2);
  });

  it('flags a query far from every reference and says how far', () => {
    const far = { ...queries[0], features: queries[0].features.map((f) => features(f.id, f.sigmaA.map((x) => x * 30), f.sigmaB.map((x) => x * 30), f.sigmaDW.map((x) => x * 30))) };
    const r = analyze(queryOf(far, ref), ref, { mode: 'best' });
    expect(r.applicable).toBe(true);
    expect(r.outOfDistribution!.flagged).toBe(true);
    expect(r.outOfDistribution!.score).toBeGreaterThan(r.outOfDistribution!.threshold);
    expect(r.outOfDistribution!.explanation).toMatch(/\d+(\.\d)?× the reference set's own 95th percentile/);
    const near = analyze(queryOf(queries[1], ref), ref, { mode: 'best' });
    expect(near.outOfDistribution!.flagged).toBe(false);
    expect(near.outOfDistribution!.score).toBeLessThan(2);
  });

  it('cross-checks a claimed training-set size against the interval', () => {
    const q = queries.find((a) => a.label === 1)!;
    const agree = analyze(queryOf(q, ref, { claimedTrainingImages: 1 }), ref, { mode: 'best' });
    const r = agree.interval as IntervalBounds;
    expect(agree.metadataClaim).toMatchObject({ claimed: 1, withinInterval: 1 >= r.low && 1 <= r.high });
    const claim = 40;
    const disagree = analyze(queryOf(q, ref, { claimedTrainingImages: claim }), ref, { mode: 'best' });
    expect(disagree.metadataClaim).toMatchObject({ claimed: 40, withinInterval: false, agrees: false });
    expect(disagree.warnings.join(' ')).toMatch(/claims 40 training images/);
    // Faithful mode has no interval: agreement means the claim equals the estimate.
    const f = analyze(queryOf(q, ref, { claimedTrainingImages: 40 }), ref, { mode: 'faithful' });
    expect(f.metadataClaim).toMatchObject({ withinInterval: null, agrees: false });
  });
});
