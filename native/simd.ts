// A WebAssembly SIMD kernel for the float32 Gram products: one 2×4 block of A·Aᵀ per call (a 2×2
// block for Gram columns j ≥ r − r mod 4), four floats per step, each f32×f32 product taken exactly
// in f64 lanes and accumulated in f64, so it is as accurate as the plain loop (native/gram.ts). The
// kernel is native/wasm/gram.wat, built into gram.wasm; this file stages the rows in its memory and
// adds each row's ≤ 3 trailing values and an odd rank's last row, which the kernel's four-wide steps
// leave out.
//
// dot2x4(p0, p1, q0, stride, n, out): for byte offsets p0, p1 of float32 rows x0, x1, rows y0..y3 at
// q0 + b·stride and n a multiple of 4, writes the eight Σ xa·yb (row a, then column b) as f64 at `out`;
// dot2x2(p0, p1, q0, q1, n, out) writes Σ x0·y0, Σ x0·y1, Σ x1·y0, Σ x1·y1 the same way.

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
  const dot2x4 = exports.dot2x4 as (p0: number, p1: number, q0: number, stride: number, n: number, out: number) => void;
  const OUT_BYTES = 64;

  /** Makes room for `floats` float32 values after the 64-byte result slot; returns a view on them. */
  function staging(floats: number): Float32Array {
    const need = OUT_BYTES + floats * 4;
    if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    return new Float32Array(memory.buffer, OUT_BYTES, floats);
  }

  /** The Gram matrix of the r×w rows already staged at byte OUT_BYTES. */
  function gramStaged(x: Float32Array, r: number, w: number, out: Float64Array): Float64Array {
    const res = new Float64Array(memory.buffer, 0, 8);
    const body = w - (w & 3); // the SIMD part; the ≤ 3 trailing columns are added below
    const odd = r & 1;
    const even = r - odd;
    const quad = r - (r & 3);
    const row = w * 4;
    const at = (i: number) => OUT_BYTES + i * row;
    for (let i = 0; i < even; i += 2) {
      // 2×4 blocks from the block holding the diagonal (its entries left of it are mirrored over below),
      // then a 2×2 block for the columns past the last multiple of four.
      let j = i - (i & 3);
      for (; j < quad; j += 4) {
        dot2x4(at(i), at(i + 1), at(j), row, body, 0);
        for (let b = 0; b < 4; b++) {
          out[i * r + j + b] = res[b];
          out[(i + 1) * r + j + b] = res[4 + b];
        }
      }
      for (; j < even; j += 2) {
        dot2x2(at(i), at(i + 1), at(j), at(j + 1), body, 0);
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
