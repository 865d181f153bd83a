// Small summaries used by evaluation, the interval and the out-of-distribution check.
import type { MeanStd } from './types.ts';

/** Mean and population standard deviation (ddof = 0, as numpy's std, which the paper's Python would use). */
export function meanStd(xs: number[]): MeanStd {
  if (xs.length === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.reduce((a, b) => a + (b - mean) * (b - mean), 0) / xs.length;
  return { mean, std: Math.sqrt(v) };
}

/** Percentile with linear interpolation between order statistics (numpy's default). */
export function percentile(xs: ArrayLike<number>, p: number): number {
  const s = Array.from(xs).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const h = (s.length - 1) * p / 100;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return s[lo] + (s[hi] - s[lo]) * (h - lo);
}

export function median(xs: ArrayLike<number>): number {
  return percentile(xs, 50);
}
