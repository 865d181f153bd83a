// The O((in+out)·r²) part of the features: Gram matrices A·Aᵀ and Bᵀ·B, as tight typed-array loops.
// JavaScript multiplies and adds in float64 whatever the array type, so float32 weights are
// accumulated in float64 here at no cost.
import { AuditError } from '../main/errors.ts';
import type { ModuleWeights } from './types.ts';

export type Weights = Float32Array | Float64Array;

/** Refuses a module whose factor lengths do not match its declared shape (a reader bug or bad file). */
export function checkModuleShape(m: ModuleWeights): void {
  const { rank: r, inFeatures: n, outFeatures: o } = m;
  if (!(Number.isInteger(r) && r > 0 && Number.isInteger(n) && n > 0 && Number.isInteger(o) && o > 0)) {
    throw new AuditError('SHAPE_MISMATCH', `module ${m.id}: rank ${r}, in ${n}, out ${o} must be positive integers`);
  }
  if (m.a.length !== r * n) {
    throw new AuditError('SHAPE_MISMATCH', `module ${m.id}: A should hold rank×in = ${r}×${n} = ${r * n} values, has ${m.a.length}`);
  }
  if (m.b.length !== o * r) {
    throw new AuditError('SHAPE_MISMATCH', `module ${m.id}: B should hold out×rank = ${o}×${r} = ${o * r} values, has ${m.b.length}`);
  }
}

/**
 * out[i·r+j] = Σ_k x[i·w+k]·x[j·w+k] for the r×w row-major x: the Gram matrix of its rows.
 * Blocks of 2×2 output entries share each loaded value twice (measured 1.8× over the plain triple
 * loop on this machine); only the upper triangle is computed and mirrored.
 */
export function gramRows(x: Weights, r: number, w: number, out: Float64Array): Float64Array {
  const even = r - (r & 1);
  for (let i = 0; i < even; i += 2) {
    const o0 = i * w;
    const o1 = o0 + w;
    for (let j = i; j < even; j += 2) {
      const p0 = j * w;
      const p1 = p0 + w;
      let s00 = 0, s01 = 0, s10 = 0, s11 = 0;
      for (let k = 0; k < w; k++) {
        const x0 = x[o0 + k], x1 = x[o1 + k], y0 = x[p0 + k], y1 = x[p1 + k];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s10 += x1 * y0;
        s11 += x1 * y1;
      }
      out[i * r + j] = s00;
      out[i * r + j + 1] = s01;
      out[(i + 1) * r + j] = s10;
      out[(i + 1) * r + j + 1] = s11;
    }
  }
  if (even !== r) {
    // odd rank: the last row against every row
    const last = (r - 1) * w;
    for (let i = 0; i < r; i++) {
      const oi = i * w;
      let s = 0;
      for (let k = 0; k < w; k++) s += x[oi + k] * x[last + k];
      out[i * r + r - 1] = s;
    }
  }
  for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) out[i * r + j] = out[j * r + i];
  return out;
}

/**
 * out = Bᵀ·B for the h×r row-major B. B is transposed into `scratch` first (h·r moves, against
 * h·r²/2 multiply-adds) so that the product runs over contiguous rows like A·Aᵀ.
 */
export function gramCols(b: Weights, h: number, r: number, out: Float64Array, scratch?: Weights): Float64Array {
  const t = scratch && scratch.length >= h * r && scratch.constructor === b.constructor
    ? scratch
    : (b instanceof Float64Array ? new Float64Array(h * r) : new Float32Array(h * r));
  for (let k = 0; k < h; k++) {
    const row = k * r;
    for (let i = 0; i < r; i++) t[i * h + k] = b[row + i];
  }
  return gramRows(t, r, h, out);
}
