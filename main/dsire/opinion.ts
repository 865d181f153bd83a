// How far an estimate can be relied on: a grade (strong, moderate, limited, none) and the sentences it
// rests on, from documented rules (docs/OPINION.md) over three things measured, never felt: the method's
// error on held-out adapters of this reference set (main/dsire/reliability.ts), the vote behind this
// estimate, and the distribution check. An examiner's override caps the grade.
import { hasBounds } from './conformal.ts';
import { summaryOf, type ReliabilityOutcome } from './reliability.ts';
import type { AnalysisResult, Opinion, OpinionGrade } from './types.ts';

/** strong: the named size is exact at least 4 times in 5 and within one size at least 19 times in 20. */
export const STRONG = { accuracy: 0.8, withinOne: 0.95 };
/** moderate: within one size at least 4 times in 5, exact more often than not. */
export const MODERATE = { accuracy: 0.5, withinOne: 0.8 };
/** The interval's measured coverage may fall this far below its nominal level before it is called miscalibrated. */
export const COVERAGE_SLACK = 0.1;
/** The winning size's share of the votes below which the vote is a weak majority (analyze warns at the same level). */
export const MIN_SHARE = 0.5;
/** The winner's lead over the runner-up, as a share of all votes, below which the vote is close. */
export const MIN_LEAD = 0.2;

const ORDER: OpinionGrade[] = ['none', 'limited', 'moderate', 'strong'];
const pct = (x: number) => `${Math.round(x * 100)} %`;
const fix = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(2));

/** The result with its measured reliability, the interval's measured coverage and the opinion. */
export function withReliability(result: AnalysisResult, outcome: ReliabilityOutcome): AnalysisResult {
  const reliability = 'record' in outcome ? summaryOf(outcome.record) : null;
  const interval = hasBounds(result.interval) ? { ...result.interval, coverage: reliability?.intervalCoverage ?? null } : result.interval;
  const out: AnalysisResult = {
    ...result, interval, reliability, reliabilityUnavailable: 'unavailable' in outcome ? outcome.unavailable : null,
  };
  out.opinion = opinionOf(out);
  return out;
}

export function opinionOf(r: AnalysisResult): Opinion {
  if (!r.applicable || r.estimate === null) {
    return { grade: 'none', because: ['No estimate was made: the adapter is not applicable to this reference set.', ...r.reasons.map((x) => `Refused: ${x}`)] };
  }
  const rel = r.reliability;
  if (!rel) {
    const why = r.reliabilityUnavailable?.reason ?? 'it was not measured';
    return { grade: 'none', because: [`The method's error on this reference set is not known: ${why}. An estimate without its error rate is not evidence.`] };
  }
  const because: string[] = [];
  const words = `On held-out adapters of this reference set (${rel.splits} splits, ${rel.trainNames} of ${rel.names} names as references) the method named the exact size ${pct(rel.accuracy)} of the time and was within one size ${pct(rel.withinOne)} of the time; mean absolute error ${fix(rel.mae)} images.`;
  if (!(rel.mae < rel.baselineMae)) {
    return { grade: 'none', because: [words, `That error is no smaller than always answering the median reference size (${fix(rel.baselineMae)} images): on this set the estimate says nothing the size grid does not.`] };
  }
  let grade: OpinionGrade;
  if (rel.accuracy >= STRONG.accuracy && rel.withinOne >= STRONG.withinOne) {
    grade = 'strong';
    because.push(`${words} That meets the strong level (exact ≥ ${pct(STRONG.accuracy)}, within one ≥ ${pct(STRONG.withinOne)}).`);
  } else if (rel.accuracy >= MODERATE.accuracy && rel.withinOne >= MODERATE.withinOne) {
    grade = 'moderate';
    because.push(`${words} That meets the moderate level (exact ≥ ${pct(MODERATE.accuracy)}, within one ≥ ${pct(MODERATE.withinOne)}), not the strong one.`);
  } else {
    grade = 'limited';
    because.push(`${words} That is below the moderate level (exact ≥ ${pct(MODERATE.accuracy)} and within one ≥ ${pct(MODERATE.withinOne)}).`);
  }
  const cap = (to: OpinionGrade, why: string) => {
    if (ORDER.indexOf(grade) > ORDER.indexOf(to)) grade = to;
    because.push(why);
  };

  if (hasBounds(r.interval) && r.interval.coverage !== null && r.interval.coverage < r.interval.nominal - COVERAGE_SLACK) {
    cap('moderate', `The ${pct(r.interval.nominal)} interval held the true size of only ${pct(r.interval.coverage)} of held-out adapters: it is narrower than it claims.`);
  }
  const total = r.votes.reduce((a, v) => a + v.count, 0);
  const sorted = [...r.votes].sort((a, b) => b.count - a.count);
  const share = total > 0 ? (r.votes.find((v) => v.size === r.estimate)?.count ?? 0) / total : 0;
  const lead = total > 0 ? (sorted[0].count - (sorted[1]?.count ?? 0)) / total : 0;
  if (!(share >= MIN_SHARE)) {
    cap('limited', `Only ${pct(share)} of the classifiers' votes name ${r.estimate}: a weak majority.`);
  } else if (!(lead >= MIN_LEAD)) {
    cap('moderate', `The vote is close: ${r.estimate} leads the next size by ${pct(lead)} of the votes.`);
  }
  if (!r.outOfDistribution || r.outOfDistribution.flagged) {
    cap('limited', 'The adapter is not like the reference adapters (distribution check flagged or not possible), so the error measured on them does not describe it.');
  }
  if (r.override) {
    cap('limited', `Compared despite refusal reasons (${r.override.reasonsOverridden.join('; ')}), on the examiner's justification: "${r.override.justification}". The measured error applies to adapters the set does speak for.`);
  }
  return { grade, because };
}
