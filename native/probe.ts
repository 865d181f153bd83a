// Deterministic, well-conditioned synthetic modules: the calibration probe, and the tests' and
// benchmarks' inputs. A = diag(s)·Q (Q with orthonormal rows) and B = P·diag(t)·R (P with orthonormal
// columns, R a random rotation), so σ(A) = s, σ(B) = t exactly and κ(B·A) ≤ κ(s)·κ(t): float32
// Gram products then resolve every singular value, not only the top ones.
import type { ModuleWeights } from './types.ts';
import { mulberry32 } from './prng.ts';

/** A small seeded generator, so a probe is the same batch in every process. */
export const seededRandom = mulberry32;

export function gaussian(rand: () => number): number {
  const u = 1 - rand();
  const v = rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** r×w (r ≤ w) with orthonormal rows, row-major float64 (modified Gram–Schmidt, twice for accuracy). */
export function orthonormalRows(rand: () => number, r: number, w: number): Float64Array {
  const q = new Float64Array(r * w);
  for (let i = 0; i < q.length; i++) q[i] = gaussian(rand);
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < r; i++) {
      const oi = i * w;
      for (let j = 0; j < i; j++) {
        const oj = j * w;
        let d = 0;
        for (let k = 0; k < w; k++) d += q[oi + k] * q[oj + k];
        for (let k = 0; k < w; k++) q[oi + k] -= d * q[oj + k];
      }
      let n = 0;
      for (let k = 0; k < w; k++) n += q[oi + k] * q[oi + k];
      n = Math.sqrt(n);
      for (let k = 0; k < w; k++) q[oi + k] /= n;
    }
  }
  return q;
}

export interface SyntheticSpec {
  id: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  scale?: number;
  /** Singular values of A and B (length rank); default: spread over [1, 2] and [0.5, 1]. */
  sigmaA?: number[];
  sigmaB?: number[];
  dtype?: 'F32' | 'F64';
}

export function wellConditionedModule(rand: () => number, spec: SyntheticSpec): ModuleWeights {
  const { rank: r, inFeatures: n, outFeatures: o } = spec;
  const s = spec.sigmaA ?? Array.from({ length: r }, (_, i) => 2 - i / Math.max(1, r - 1));
  const t = spec.sigmaB ?? Array.from({ length: r }, (_, i) => 1 - 0.5 * (i / Math.max(1, r - 1)));
  const Q = orthonormalRows(rand, r, n);
  const Pt = orthonormalRows(rand, r, o); // Pᵀ: r×out
  const R = orthonormalRows(rand, r, r);
  const Arr = spec.dtype === 'F64' ? Float64Array : Float32Array;
  const a = new Arr(r * n);
  for (let i = 0; i < r; i++) for (let k = 0; k < n; k++) a[i * n + k] = s[i] * Q[i * n + k];
  // B[p][j] = Σ_i P[p][i]·t[i]·R[i][j]
  const b = new Arr(o * r);
  for (let p = 0; p < o; p++) {
    for (let j = 0; j < r; j++) {
      let v = 0;
      for (let i = 0; i < r; i++) v += Pt[i * o + p] * t[i] * R[i * r + j];
      b[p * r + j] = v;
    }
  }
  return { id: spec.id, rank: r, inFeatures: n, outFeatures: o, scale: spec.scale ?? 1, a, b };
}

/**
 * The calibration probe: 4 modules of rank 32, 640 wide both ways (an SD-1.x mid-level attention
 * projection), Gaussian factors: at 32×640 a Gaussian matrix has κ ≈ (1+√(32/640))/(1−√(32/640))
 * ≈ 1.6, well-conditioned without the cost of orthonormalising. One shape means two kernels to
 * compile per GPU.js backend, which is what dominates calibration on the CPU-side backends; 5 M
 * multiply-adds still give a GPU launch real work.
 */
export function probeBatch(): ModuleWeights[] {
  const rand = seededRandom(0x5eed);
  const out: ModuleWeights[] = [];
  for (let i = 0; i < 4; i++) {
    const a = new Float32Array(32 * 640);
    const b = new Float32Array(640 * 32);
    for (let k = 0; k < a.length; k++) a[k] = 0.05 * gaussian(rand);
    for (let k = 0; k < b.length; k++) b[k] = 0.02 * gaussian(rand);
    out.push({ id: `probe.${i}`, rank: 32, inFeatures: 640, outFeatures: 640, scale: i % 2 ? 0.5 : 1, a, b });
  }
  return out;
}

/**
 * The module shapes of an SD-1.x UNet attention LoRA (diffusers' attention processors): 16
 * transformer blocks × attn1/attn2 × q, k, v, out = 128 modules; A is rank×in, B is out×rank. At
 * rank 32 that is 6.4 M parameters, the benchmark's unit of work.
 */
export function sd1AttentionShapes(): { id: string; inFeatures: number; outFeatures: number }[] {
  const blocks: [string, number][] = [];
  for (const [b, d] of [[0, 320], [1, 640], [2, 1280]] as const) for (let a = 0; a < 2; a++) blocks.push([`unet.down_blocks.${b}.attentions.${a}`, d]);
  blocks.push(['unet.mid_block.attentions.0', 1280]);
  for (const [b, d] of [[1, 1280], [2, 640], [3, 320]] as const) for (let a = 0; a < 3; a++) blocks.push([`unet.up_blocks.${b}.attentions.${a}`, d]);
  const out: { id: string; inFeatures: number; outFeatures: number }[] = [];
  for (const [prefix, d] of blocks) {
    for (const attn of ['attn1', 'attn2']) {
      for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        const cross = attn === 'attn2' && (proj === 'to_k' || proj === 'to_v');
        out.push({ id: `${prefix}.transformer_blocks.0.${attn}.${proj}`, inFeatures: cross ? 768 : d, outFeatures: d });
      }
    }
  }
  return out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

/** A random (Gaussian, LoRA-sized entries) SD-1.x attention adapter of the given rank, float32. */
export function syntheticSd1Adapter(seed: number, rank = 32): ModuleWeights[] {
  const rand = seededRandom(seed);
  return sd1AttentionShapes().map(({ id, inFeatures, outFeatures }) => {
    const a = new Float32Array(rank * inFeatures);
    const b = new Float32Array(outFeatures * rank);
    for (let i = 0; i < a.length; i++) a[i] = 0.02 * gaussian(rand);
    for (let i = 0; i < b.length; i++) b[i] = 0.01 * gaussian(rand);
    return { id, rank, inFeatures, outFeatures, scale: 1, a, b };
  });
}
