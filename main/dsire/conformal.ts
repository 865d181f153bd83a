// A calibrated interval around the classifier (beyond the paper): split-conformal prediction over a
// nested family of intervals. For a query with estimate e and vote-weighted mean log size c, the
// interval at level q is the smallest run of reference sizes holding e and every reference size s with
// |log s − c| ≤ q. A reference adapter's nonconformity score is the smallest q whose interval holds its
// true size (computed leave-one-name-out on the reference set); the interval for a query uses the
// ⌈(n+1)(1−α)⌉-th smallest score. The estimate is always inside, c is continuous so the coverage lands
// close to nominal rather than jumping by whole grid steps (a score of |log y − log e| alone gave 97 %
// at a nominal 90 % on the synthetic sets), and log scale suits the roughly geometric size grids.
import type { IntervalBounds, IntervalReason } from './types.ts';

export const NOMINAL = 0.9;
export const METHOD = 'split-conformal, leave-one-name-out on the reference set: the reference sizes around the estimate within q of the vote-weighted mean log size';

/** The smallest level q at which the interval for (estimate, centre) holds trueSize. */
export function score(trueSize: number, centre: number, estimate: number, sizes: number[]): number {
  if (trueSize === estimate) return 0;
  // The run [estimate … trueSize] is reached once any size at or beyond trueSize (on its side) is within q.
  let best = Infinity;
  for (const s of sizes) {
    const beyond = trueSize > estimate ? s >= trueSize : s <= trueSize;
    if (beyond) best = Math.min(best, Math.abs(Math.log(s) - centre));
  }
  return best;
}

/** The ⌈(n+1)(1−α)⌉-th smallest score; Infinity when there are too few scores for that level. */
export function conformalQuantile(scores: ArrayLike<number>, coverage = NOMINAL): number {
  const s = Array.from(scores).sort((a, b) => a - b);
  const rank = Math.ceil((s.length + 1) * coverage);
  return rank > s.length ? Infinity : s[rank - 1];
}

/** The interval's bounds; `coverage` (measured on held-out names) is filled in from the set's reliability. */
export function intervalFor(centre: number, q: number, sizes: number[], estimate: number, nominal = NOMINAL): IntervalBounds {
  const inside = sizes.filter((s) => Math.abs(Math.log(s) - centre) <= q + 1e-12);
  const low = Math.min(estimate, ...inside);
  const high = Math.max(estimate, ...inside);
  return { low, high, nominal, coverage: null, method: METHOD };
}

export const NO_INTERVAL = {
  refused: 'no estimate was made (the adapter is not applicable to this reference set), so there is no interval',
  faithful: 'faithful mode is the paper\'s method exactly, which states no interval; the default (best) mode calibrates one',
  oneName: 'the reference set has a single image-set name, so no interval can be calibrated leaving a name out (best mode falls back to the paper\'s method)',
  legacy: 'this analysis was recorded before intervals were always stated, and it recorded none',
} as const;

export function hasBounds(i: IntervalBounds | IntervalReason): i is IntervalBounds {
  return 'low' in i;
}

/** A stored result's interval in today's shape, whatever version wrote it: analyses recorded before
 *  issue 18 hold `{low, high, coverage (the nominal level), method}` or null. Never throws. */
export function readInterval(result: { interval?: unknown; applicable?: unknown; mode?: unknown }): IntervalBounds | IntervalReason {
  const raw = result.interval;
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  if (raw && typeof raw === 'object') {
    const r = raw as Record<string, unknown>;
    if (typeof r.reason === 'string') return { reason: r.reason };
    if (num(r.low) && num(r.high)) {
      const method = typeof r.method === 'string' ? r.method : METHOD;
      // today's shape has a nominal level; a legacy one stored that level as `coverage` and measured none
      if (num(r.nominal)) return { low: r.low, high: r.high, nominal: r.nominal, coverage: num(r.coverage) ? r.coverage : null, method };
      return { low: r.low, high: r.high, nominal: num(r.coverage) ? r.coverage : NOMINAL, coverage: null, method };
    }
  }
  if (result.applicable === false) return { reason: NO_INTERVAL.refused };
  if (result.mode === 'faithful') return { reason: NO_INTERVAL.faithful };
  return { reason: NO_INTERVAL.legacy };
}
