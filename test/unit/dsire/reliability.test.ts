// The method's error measured on the very reference set (issue 18) and the opinion drawn from it: the
// figures follow from the evaluation protocol's confusion matrix, a changed set has another content hash,
// a set of three names gets a typed reason instead of figures, and each documented rule of docs/OPINION.md
// moves the grade the way it says.
import { describe, expect, it } from 'vitest';
import { analyze } from '../../../main/dsire/analyze.ts';
import { NO_INTERVAL, readInterval } from '../../../main/dsire/conformal.ts';
import { opinionOf, withReliability } from '../../../main/dsire/opinion.ts';
import { measureReliability, MIN_NAMES, setContentHash, trainNamesFor, type ReliabilityRecord } from '../../../main/dsire/reliability.ts';
import type { AnalysisResult, IntervalBounds } from '../../../main/dsire/types.ts';
import { holdOut, queryOf, syntheticReference } from './synthetic.ts';

const full = syntheticReference({ names: 12, modules: 6, rank: 4, seed: 7 });
const { ref, queries } = holdOut(full, 2);

function record(): ReliabilityRecord {
  const out = measureReliability(ref, 'best');
  if (!('record' in out)) throw new Error(`no record: ${out.unavailable.reason}`);
  return out.record;
}

describe('reliability on the reference set', () => {
  it('runs the protocol with a quarter of the names held out and states the figures the confusion matrix gives', () => {
    const r = record();
    expect(r.names).toBe(10);
    expect(r.parameters).toMatchObject({ splits: 10, trainNames: 8, heldOutNames: 2, seed: 42 });
    // 2 held-out names × 6 sizes × 10 splits
    expect(r.queries).toBe(120);
    const counts = r.confusion.counts;
    const diagonal = counts.reduce((a, row, i) => a + row[i], 0);
    const near = counts.reduce((a, row, i) => a + row.reduce((b, c, j) => b + (Math.abs(i - j) <= 1 ? c : 0), 0), 0);
    expect(r.withinOne).toBeCloseTo(near / 120, 12);
    // equal queries per split: the mean of per-split accuracies is the pooled diagonal share
    expect(r.accuracy.mean).toBeCloseTo(diagonal / 120, 12);
    expect(r.withinOne).toBeGreaterThanOrEqual(r.accuracy.mean);
    expect(r.perSize.map((p) => p.queries)).toEqual([20, 20, 20, 20, 20, 20]);
    expect(r.interval?.nominal).toBe(0.9);
    expect(r.interval!.coverage.mean).toBeGreaterThan(0.5);
    // sizes 1–6 evenly: always answering 3 (the median) errs by 1.5 on average
    expect(r.baselineMae).toBeCloseTo(1.5, 12);
    expect(r.mae.mean).toBeLessThan(r.baselineMae);
  });

  it('keeps at least one name out however small the set', () => {
    expect(trainNamesFor(4)).toBe(3);
    expect(trainNamesFor(10)).toBe(8);
    expect(trainNamesFor(50)).toBe(38);
  });

  it('gives a typed reason, and no figures, for a set of fewer than four names', () => {
    const small = holdOut(full, 12 - (MIN_NAMES - 1)).ref;
    const out = measureReliability(small, 'best');
    expect(out).toEqual({ unavailable: { code: 'TOO_FEW_NAMES', reason: expect.stringMatching(/has 3 image-set names; .* at least 4/) } });
  });

  it('hashes the content: another set, or one changed feature, is another hash', () => {
    const h = setContentHash(ref);
    expect(setContentHash({ ...ref, adapters: [...ref.adapters].reverse() })).toBe(h); // order is not content
    const changed = structuredClone(ref);
    changed.adapters[5].features[2].sigmaDW[0] *= 1.000001;
    expect(setContentHash(changed)).not.toBe(h);
    expect(setContentHash({ ...ref, adapters: ref.adapters.slice(1) })).not.toBe(h);
  });

  it('cannot be made to collide by moving values from one spectrum to the next', () => {
    // one σ value moved from σ(A)'s end to σ(B)'s start: the same bytes in a row, other spectra (unframed, they hashed alike)
    const c = structuredClone(ref);
    const f = c.adapters[0].features[0];
    const moved = structuredClone(ref);
    const g = moved.adapters[0].features[0];
    g.sigmaB = Float64Array.of(g.sigmaA[g.sigmaA.length - 1], ...g.sigmaB);
    g.sigmaA = g.sigmaA.slice(0, -1);
    expect(g.sigmaB.length).toBe(f.sigmaB.length + 1);
    expect(setContentHash(moved)).not.toBe(setContentHash(c));
  });
});

describe('the opinion', () => {
  const rec = record();
  const base = withReliability(analyze(queryOf(queries[0], ref), ref, { mode: 'best' }), { record: rec });

  /** The same analysis with other measured figures or vote. */
  function variant(change: { accuracy?: number; withinOne?: number; mae?: number; coverage?: number; votes?: number[]; flagged?: boolean }): AnalysisResult {
    const r = structuredClone(base);
    const rel = r.reliability!;
    if (change.accuracy !== undefined) rel.accuracy = change.accuracy;
    if (change.withinOne !== undefined) rel.withinOne = change.withinOne;
    if (change.mae !== undefined) rel.mae = change.mae;
    if (change.coverage !== undefined) (r.interval as IntervalBounds).coverage = change.coverage;
    if (change.votes) {
      r.votes = change.votes.map((count, i) => ({ size: i + 1, count }));
      r.estimate = 1;
    }
    if (change.flagged !== undefined) r.outOfDistribution = { ...r.outOfDistribution!, flagged: change.flagged };
    return r;
  }
  const clearVote = [30, 6, 0, 0, 0, 0];

  it('carries the measured figures and the interval\'s measured coverage into the result', () => {
    expect(base.reliability).toMatchObject({ accuracy: rec.accuracy.mean, withinOne: rec.withinOne, mae: rec.mae.mean, mape: rec.mape.mean, splits: 10, trainNames: 8, names: 10, seed: 42, methodVersion: '1.0.0' });
    const iv = base.interval as IntervalBounds;
    expect(iv.nominal).toBe(0.9);
    expect(iv.coverage).toBe(rec.interval!.coverage.mean);
    expect(base.opinion!.because[0]).toMatch(/^On held-out adapters of this reference set \(10 splits, 8 of 10 names as references\) the method named the exact size \d+ % of the time and was within one size \d+ % of the time; mean absolute error/);
  });

  it('is strong only when exact ≥ 80 % and within one ≥ 95 %, with a clear vote and the adapter in distribution', () => {
    expect(opinionOf(variant({ accuracy: 0.85, withinOne: 0.97, coverage: 0.9, votes: clearVote, flagged: false })).grade).toBe('strong');
    expect(opinionOf(variant({ accuracy: 0.79, withinOne: 0.97, coverage: 0.9, votes: clearVote, flagged: false })).grade).toBe('moderate');
    expect(opinionOf(variant({ accuracy: 0.6, withinOne: 0.85, coverage: 0.9, votes: clearVote, flagged: false })).grade).toBe('moderate');
    expect(opinionOf(variant({ accuracy: 0.6, withinOne: 0.7, coverage: 0.9, votes: clearVote, flagged: false })).grade).toBe('limited');
  });

  it('caps the grade for a close or weak vote, an under-covering interval, the distribution check and an override', () => {
    const strong = { accuracy: 0.9, withinOne: 0.99, coverage: 0.9, flagged: false };
    const close = opinionOf(variant({ ...strong, votes: [20, 16, 0, 0, 0, 0] }));
    expect(close.grade).toBe('moderate');
    expect(close.because).toContain('The vote is close: 1 leads the next size by 11 % of the votes.');
    const weak = opinionOf(variant({ ...strong, votes: [10, 9, 8, 0, 0, 0] }));
    expect(weak.grade).toBe('limited');
    expect(weak.because).toContain('Only 37 % of the classifiers\' votes name 1: a weak majority.');
    const under = opinionOf(variant({ ...strong, coverage: 0.75, votes: clearVote }));
    expect(under.grade).toBe('moderate');
    expect(under.because).toContain('The 90 % interval held the true size of only 75 % of held-out adapters: it is narrower than it claims.');
    expect(opinionOf(variant({ ...strong, votes: clearVote, flagged: true })).grade).toBe('limited');
    const overridden = { ...variant({ ...strong, votes: clearVote }), override: { justification: 'converted from diffusers', reasonsOverridden: ['The training tool differs.'] } };
    const capped = opinionOf(overridden);
    expect(capped.grade).toBe('limited');
    expect(capped.because.at(-1)).toBe('Compared despite refusal reasons (The training tool differs.), on the examiner\'s justification: "converted from diffusers". The measured error applies to adapters the set does speak for.');
  });

  it('is none when the method does no better than always answering the median size, or nothing was measured', () => {
    const useless = opinionOf(variant({ accuracy: 0.9, withinOne: 0.99, mae: 1.5, votes: clearVote, flagged: false }));
    expect(useless.grade).toBe('none');
    expect(useless.because[1]).toMatch(/no smaller than always answering the median reference size \(1\.50 images\)/);
    const unmeasured = withReliability(analyze(queryOf(queries[0], ref), ref, { mode: 'best' }),
      { unavailable: { code: 'TOO_FEW_NAMES', reason: 'the reference set "x" has 3 image-set names' } });
    expect(unmeasured.reliability).toBeNull();
    expect(unmeasured.reliabilityUnavailable?.code).toBe('TOO_FEW_NAMES');
    expect((unmeasured.interval as IntervalBounds).coverage).toBeNull();
    expect(unmeasured.opinion).toEqual({ grade: 'none', because: ['The method\'s error on this reference set is not known: the reference set "x" has 3 image-set names. An estimate without its error rate is not evidence.'] });
  });

  it('is none with the reasons for a refusal, whose interval says why there is none', () => {
    const q = queryOf(queries[0], ref);
    const refused = withReliability(analyze({ ...q, descriptor: { ...q.descriptor, ranks: [8] } }, ref, { mode: 'best' }),
      { unavailable: { code: 'REFUSED', reason: 'no estimate was made' } });
    expect(refused.applicable).toBe(false);
    expect(refused.interval).toEqual({ reason: NO_INTERVAL.refused });
    expect(refused.opinion!.grade).toBe('none');
    expect(refused.opinion!.because.slice(1)).toEqual(refused.reasons.map((x) => `Refused: ${x}`));
    expect(analyze(q, ref, { mode: 'faithful' }).interval).toEqual({ reason: NO_INTERVAL.faithful });
  });

  it('reads the interval of analyses recorded before issue 18', () => {
    expect(readInterval({ applicable: true, mode: 'best', interval: { low: 2, high: 4, coverage: 0.9, method: 'm' } }))
      .toEqual({ low: 2, high: 4, nominal: 0.9, coverage: null, method: 'm' });
    expect(readInterval({ applicable: false, mode: 'best', interval: null })).toEqual({ reason: NO_INTERVAL.refused });
    expect(readInterval({ applicable: true, mode: 'faithful', interval: null })).toEqual({ reason: NO_INTERVAL.faithful });
  });
});
