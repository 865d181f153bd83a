// A WebAssembly SIMD kernel for the float32 Gram products: one 2×2 block of A·Aᵀ per call, four
// floats per step, each f32×f32 product taken exactly in f64 lanes and accumulated in f64, so it is as
// accurate as the plain loop (native/gram.ts). The kernel is native/wasm/gram.wat, built into
// gram.wasm; this file stages the rows in its memory and adds the ≤ 3 trailing columns and an odd
// rank's last row, which the kernel's four-wide steps leave out.
//
// dot2x2(p0, p1, q0, q1, n, out): for byte offsets p0, p1, q0, q1 of float32 rows and n a multiple
// of 4, writes Σ x0·y0, Σ x0·y1, Σ x1·y0, Σ x1·y1 as four f64 at byte offset `out`.

import { loadKernel, type WasmMemory } from './wasm/load.ts';

export interface SimdGram {
  /** out = x·xᵀ for the r×w row-major float32 x (accumulated in f64). */
  gramRows(x: Float32Array, r: number, w: number, out: Float64Array): Float64Array;
  /** out = bᵀ·b for the h×r row-major float32 b. */
  gramCols(b: Float32Array, h: number, r: number, out: Float64Array): Float64Array;
}

let instance: SimdGram | null | undefined;

/** The SIMD kernel, or null where this runtime lacks WebAssembly SIMD (then the plain loops run). */
export function simdGram(): SimdGram | null {
  if (instance !== undefined) return instance;
  const module = loadKernel(new URL('./wasm/gram.wasm', import.meta.url));
  if (!module) return (instance = null);
  const exports = module.instantiate();
  const memory = exports.mem as WasmMemory;
  const dot2x2 = exports.dot2x2 as (p0: number, p1: number, q0: number, q1: number, n: number, out: number) => void;
  const OUT_BYTES = 32;

  /** Makes room for `floats` float32 values after the 32-byte result slot; returns a view on them. */
  function staging(floats: number): Float32Array {
    const need = OUT_BYTES + floats * 4;
    if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    return new Float32Array(memory.buffer, OUT_BYTES, floats);
  }

  /** The Gram matrix of the r×w rows already staged at byte OUT_BYTES. */
  function gramStaged(x: Float32Array, r: number, w: number, out: Float64Array): Float64Array {
    const res = new Float64Array(memory.buffer, 0, 4);
    const body = w - (w & 3); // the SIMD part; the ≤ 3 trailing columns are added below
    const odd = r & 1;
    const even = r - odd;
    for (let i = 0; i < even; i += 2) {
      for (let j = i; j < even; j += 2) {
        dot2x2(OUT_BYTES + i * w * 4, OUT_BYTES + (i + 1) * w * 4, OUT_BYTES + j * w * 4, OUT_BYTES + (j + 1) * w * 4, body, 0);
        out[i * r + j] = res[0];
        out[i * r + j + 1] = res[1];
        out[(i + 1) * r + j] = res[2];
        out[(i + 1) * r + j + 1] = res[3];
      }
    }
    for (let i = 0; i < even; i++) {
      for (let j = i; j < even; j++) {
        let s = out[i * r + j];
        for (let k = body; k < w; k++) s += x[i * w + k] * x[j * w + k];
        out[i * r + j] = s;
      }
    }
    if (odd) {
      const last = (r - 1) * w;
      for (let i = 0; i < r; i++) {
        let s = 0;
        for (let k = 0; k < w; k++) s += x[i * w + k] * x[last + k];
        out[i * r + r - 1] = s;
      }
    }
    for (let i = 0; i < r; i++) for (let j = 0; j < i; j++) out[i * r + j] = out[j * r + i];
    return out;
  }

  instance = {
    gramRows(x, r, w, out) {
      const staged = staging(r * w);
      staged.set(x.subarray(0, r * w));
      return gramStaged(staged, r, w, out);
    },
    gramCols(b, h, r, out) {
      const t = staging(h * r);
      for (let k = 0; k < h; k++) {
        const row = k * r;
        for (let i = 0; i < r; i++) t[i * h + k] = b[row + i];
      }
      return gramStaged(t, r, h, out);
    },
  };
  return instance;
}
