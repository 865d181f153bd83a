// Numbers that are not numbers, on synthetic sets: a reference set holding non-finite features or a
// non-finite size is refused whole; distances that overflow although every feature is finite refuse
// the comparison; the distribution check flags what it cannot measure instead of passing it; an
// infinite update scale is not "the same scale" as 1.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { evaluate } from '../../../main/dsire/evaluate.ts';
import { checkApplicability } from '../../../main/dsire/applicability.ts';
import { outOfDistribution } from '../../../main/dsire/ood.ts';
import type { FeatureTable } from '../../../main/dsire/table.ts';
import type { DsireMode } from '../../../main/dsire/types.ts';
import type { ReferenceSet } from '../../../main/reference/types.ts';
import { descriptorFor, holdOut, queryOf, syntheticReference } from './synthetic.ts';

const { ref, queries } = holdOut(syntheticReference({ names: 8, modules: 4, rank: 4, sizes: [1, 2, 4] }), 1);
const MODES: DsireMode[] = ['faithful', 'best'];

/** The set with adapter i's features (or size) changed by `edit`, on copies. */
function poisoned(edits: Record<number, (a: ReferenceSet['adapters'][number]) => void>): ReferenceSet {
  const adapters = ref.adapters.map((a, i) => {
    const copy = { ...a, features: a.features.map((f) => ({ ...f, sigmaA: f.sigmaA.slice(), sigmaB: f.sigmaB.slice(), sigmaDW: f.sigmaDW.slice() })) };
    edits[i]?.(copy);
    return copy;
  });
  return { ...ref, name: 'poisoned', adapters };
}

describe('non-finite numbers in dsire', () => {
  it('the unpoisoned set gives the held-out query an estimate (the control)', () => {
    for (const mode of MODES) expect(analyze(queryOf(queries[0], ref), ref, { mode }).estimate).not.toBeNull();
  });

  it('refuses a reference set holding NaN or +Inf features or a NaN size, naming the adapters; never a neighbour', () => {
    const bad = poisoned({
      3: (a) => { a.features[1].sigmaDW[0] = Number.NaN; },
      7: (a) => { a.features[2].sigmaA[2] = Infinity; },
      11: (a) => { a.label = Number.NaN; },
    });
    for (const mode of MODES) {
      const result = analyze(queryOf(queries[0], bad), bad, { mode });
      expect(result.applicable).toBe(false);
      expect(result.estimate).toBeNull();
      expect(result.nearest).toEqual([]);
      expect(result.reasons).toHaveLength(1);
      const [reason] = result.reasons;
      expect(reason).toMatch(/^3 of the 21 adapters of reference set "poisoned" hold features that are not finite numbers/);
      const [a3, a7, a11] = [3, 7, 11].map((i) => bad.adapters[i]);
      expect(reason).toContain(`"${a3.name}" (size ${a3.label}, ${a3.source}): module ${a3.features[1].id} (σ(ΔW) is NaN; from the update B·A)`);
      expect(reason).toContain(`"${a7.name}" (size ${a7.label}, ${a7.source}): module ${a7.features[2].id} (σ(A) is +Inf; from factor A)`);
      expect(reason).toContain(`"${a11.name}" (size NaN, ${a11.source}): size NaN`);
      expect(reason).toMatch(/re-import it from its source/);
    }
  });

  it('evaluate refuses the same set, naming it, instead of error rates for another set than the one named', () => {
    const bad = poisoned({ 3: (a) => { a.features[1].sigmaDW[0] = Number.NaN; } });
    expect(evaluate(ref, { splits: 2, trainNames: 5, seed: 1, mode: 'faithful' }).splits).toHaveLength(2);   // the control
    expect(() => evaluate(bad, { splits: 2, trainNames: 5, seed: 1, mode: 'faithful' })).toThrow(
      expect.objectContaining({ code: 'NOT_APPLICABLE', message: expect.stringMatching(/^reference set "poisoned" cannot be evaluated: 1 of the 21 adapters .*\(σ\(ΔW\) is NaN/) }));
  });

  it('names stored norms that are not numbers when the singular values look fine', () => {
    const bad = poisoned({ 0: (a) => { a.features[0].normDW = Number.NaN; } });
    const [reason] = analyze(queryOf(queries[0], bad), bad, { mode: 'faithful' }).reasons;
    expect(reason).toContain(`module ${bad.adapters[0].features[0].id} (‖ΔW‖ is NaN)`);
  });

  it('refuses when distances overflow although every feature is finite (a set spanning a tiny range)', () => {
    // Every reference value near 1e-300: the normalisation divides by that range, so a query of
    // ordinary magnitude lies ~1e300 away and its squared distance is +Inf.
    const tiny = poisoned(Object.fromEntries(ref.adapters.map((_, i) => [i, (a: ReferenceSet['adapters'][number]) => {
      for (const f of a.features) for (const v of [f.sigmaA, f.sigmaB, f.sigmaDW]) for (let j = 0; j < v.length; j++) v[j] *= 1e-300;
    }])));
    for (const mode of MODES) {
      const result = analyze(queryOf(queries[0], tiny), tiny, { mode });
      expect(result.applicable).toBe(false);
      expect(result.estimate).toBeNull();
      expect(result.reasons).toHaveLength(1);
      expect(result.reasons[0]).toMatch(/^The comparison with the reference set produced numbers that are not finite: /);
      expect(result.reasons[0]).toContain(`the nearest-neighbour distance of σ(A) of ${ref.config.modules[0].id} is not a finite number`);
      expect(result.reasons[0]).toMatch(/and \d+ more numbers\. A distance, score or estimate that is not a number/);
    }
  });

  it('the distribution check flags what it cannot measure: a NaN distance, or no spread at all', () => {
    const table = { kind: 'spectra', kinds: ['sigmaA', 'sigmaB', 'sigmaDW', 'sigmaA', 'sigmaB', 'sigmaDW'] } as unknown as FeatureTable;
    const nb = (dist: number[]) => ({ k: 1, classifiers: dist.length, idx: new Int32Array(dist.length), dist: Float64Array.from(dist) });
    const spread = Float64Array.from([1, 1, 1, 1, 1, 1]);
    // five classifiers close, one NaN: left out before, the median of the rest (0.5) passed
    const nan = outOfDistribution(table, spread, nb([0.5, 0.5, 0.5, Number.NaN, 0.5, 0.5]));
    expect(nan.flagged).toBe(true);
    expect(nan.score).toBeNaN();
    expect(nan.explanation).toBe('The distribution check could not be made: the adapter\'s nearest-neighbour distances are not all finite numbers. The estimate below is not supported by it.');
    const flat = outOfDistribution(table, new Float64Array(6), nb([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]));
    expect(flat.flagged).toBe(true);
    expect(flat.explanation).toMatch(/^The distribution check could not be made: on every classifier the reference adapters lie at distance 0/);
    // ordinary distances are unchanged: within, and far
    expect(outOfDistribution(table, spread, nb([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]))).toMatchObject({ flagged: false, score: 0.5 });
    expect(outOfDistribution(table, spread, nb([3, 3, 3, 3, 3, 3]))).toMatchObject({ flagged: true, score: 3 });
  });

  it('an infinite update scale is not the reference set\'s scale of 1', () => {
    const desc = descriptorFor(ref.config);
    for (const scale of [Infinity, -Infinity, Number.NaN]) {
      const result = checkApplicability({ ...desc, scale, scales: [scale] }, ref.config);
      expect(result.applicable).toBe(false);
      expect(result.reasons.join(' ')).toContain(`scales its update by a fixed scale of ${scale}; the reference adapters by a fixed scale of 1.`);
    }
  });
});
