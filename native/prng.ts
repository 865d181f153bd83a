// mulberry32 (Tommy Ettinger's 32-bit generator, public domain): tiny, fast, and the same sequence on
// every platform, so a seed names the same numbers in every run: the calibration probe, the
// evaluation's splits, the tests' synthetic data. Not for anything security-related.
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
