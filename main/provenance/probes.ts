// Probe sketches: what a module's update does to a few fixed random vectors, without forming ΔW.
//
// For probes x_j (j < PROBES, length in) and read-out directions u_k (k < DIRECTIONS, length out), all
// ±1 entries drawn by mulberry32 (native/prng.ts) from fixed seeds, a module's sketch is
//     z_jk = u_kᵀ · s·B·(A·x_j)
// i.e. B(A·x) on each probe, the scale s included, read through DIRECTIONS fixed directions so that its
// size does not grow with the layer's width. It depends on ΔW = s·B·A only: any factorisation of the
// same update (B·G, G⁻¹·A), any container, naming or dtype that keeps the values gives the same numbers.
// Two different updates give different sketches with probability 1, and for a difference D = ΔW − ΔW',
// E‖z(D)‖² = PROBES·DIRECTIONS·‖D‖²_F (Hutchinson's estimator), which is how tolerances carry over.
//
// The seeds are part of the stored index's format (FINGERPRINT_FORMAT): changing them invalidates every
// stored sketch.
import { mulberry32 } from '../../native/prng.ts';

export const PROBE_SEED = 0x1a2b_0001;
export const DIRECTION_SEED = 0x1a2b_1001;
export const PROBES = 4;
export const DIRECTIONS = 4;
export const SKETCH_SIZE = PROBES * DIRECTIONS;

/** ±1 vectors by length: a handful of layer widths in practice, so the cache stays small; beyond
 *  CACHED_LENGTHS distinct lengths (a hostile file) they are drawn again rather than kept. */
const CACHED_LENGTHS = 64;
const cache = new Map<string, Float64Array[]>();

function signs(seed: number, length: number, count: number): Float64Array[] {
  const key = `${seed}:${length}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const out: Float64Array[] = [];
  for (let j = 0; j < count; j++) {
    const next = mulberry32(seed + j);
    const v = new Float64Array(length);
    for (let i = 0; i < length; i++) v[i] = next() < 0.5 ? -1 : 1;
    out.push(v);
  }
  if (cache.size < CACHED_LENGTHS) cache.set(key, out);
  return out;
}

/** The probe vectors x_j of a layer with `length` inputs (exported for the tests). */
export function probeVectors(length: number): Float64Array[] {
  return signs(PROBE_SEED, length, PROBES);
}

/** The read-out directions u_k of a layer with `length` outputs. */
export function directionVectors(length: number): Float64Array[] {
  return signs(DIRECTION_SEED, length, DIRECTIONS);
}

export interface SketchInput {
  rank: number;
  inFeatures: number;
  outFeatures: number;
  scale: number;
  /** rank × in, row-major */
  a: ArrayLike<number>;
  /** out × rank, row-major */
  b: ArrayLike<number>;
}

/** z_jk = s · (Bᵀu_k)ᵀ (A·x_j), in float64 with a fixed summation order: equal factors give equal bits. */
export function sketchModule(m: SketchInput): Float64Array {
  const { rank: r, inFeatures: n, outFeatures: o } = m;
  const xs = probeVectors(n);
  const us = directionVectors(o);
  const ax = xs.map((x) => {
    const t = new Float64Array(r);
    for (let i = 0; i < r; i++) {
      let sum = 0;
      const row = i * n;
      for (let c = 0; c < n; c++) sum += m.a[row + c] * x[c];
      t[i] = sum;
    }
    return t;
  });
  const btu = us.map((u) => {
    const w = new Float64Array(r);
    for (let q = 0; q < o; q++) {
      const uq = u[q];
      const row = q * r;
      for (let i = 0; i < r; i++) w[i] += m.b[row + i] * uq;
    }
    return w;
  });
  const z = new Float64Array(SKETCH_SIZE);
  for (let j = 0; j < PROBES; j++) {
    for (let k = 0; k < DIRECTIONS; k++) {
      let sum = 0;
      for (let i = 0; i < r; i++) sum += btu[k][i] * ax[j][i];
      z[j * DIRECTIONS + k] = m.scale * sum;
    }
  }
  return z;
}
