// Seeded randomness for the evaluation splits: the same generator as the compute layer's probe
// (native/prng.ts), so "seed 42" means the same splits in every run and every report.
export { mulberry32 } from '../../native/prng.ts';

/** Fisher–Yates shuffle of a copy, drawing from rng. */
export function shuffled<T>(xs: readonly T[], rng: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
