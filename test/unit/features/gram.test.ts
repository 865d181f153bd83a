// The Gram kernels of the fast path (WebAssembly SIMD and plain loops) against a compensated sum.
import { describe, expect, it } from 'vitest';
import { gramCols, gramRows } from '../../../native/gram.ts';
import { gaussian, seededRandom } from '../../../native/probe.ts';
import { simdGram } from '../../../native/simd.ts';

function exactGram(x: ArrayLike<number>, r: number, w: number): Float64Array {
  const out = new Float64Array(r * r);
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) {
    let s = 0;
    let c = 0;
    for (let k = 0; k < w; k++) {
      const v = x[i * w + k] * x[j * w + k];
      const t = s + v;
      c += Math.abs(s) >= Math.abs(v) ? (s - t) + v : (v - t) + s;
      s = t;
    }
    out[i * r + j] = s + c;
  }
  return out;
}

/** The transpose of the rows×cols row-major x. */
function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let k = 0; k < cols; k++) t[k * rows + i] = x[i * cols + k];
  return t;
}

describe('Gram kernels', () => {
  it('runs the SIMD kernel in this Node', () => {
    expect(simdGram()).not.toBeNull();
  });

  // 2×4 blocks, then 2×2 blocks past the last multiple of 4, then an odd rank's last row: ranks of every
  // remainder. Rank 4 × width 65532 is the largest staging in this file and fills exactly the 16 memory
  // pages the kernel grows to for it (64-byte result slot + 4 rows of 65532 float32), so a block that
  // read rows past the rank would run off the end of its memory and trap.
  for (const [r, w] of [[32, 1280], [7, 13], [1, 3], [6, 4], [5, 770], [10, 9], [4, 8], [2, 5], [3, 16], [11, 20], [4, 65532]] as const) {
    it(`A·Aᵀ and Bᵀ·B agree with a compensated float64 sum (rank ${r}, width ${w})`, () => {
      const rand = seededRandom(r * 1000 + w);
      const x = new Float32Array(r * w).map(() => gaussian(rand));
      const want = exactGram(x, r, w);
      const scale = Math.max(...Array.from(want, Math.abs));
      const simd = simdGram()!;
      const b = transpose(x, r, w); // the w×r matrix B whose columns are x's rows: Bᵀ·B = x·xᵀ
      for (const got of [
        gramRows(x, r, w, new Float64Array(r * r)),
        simd.gramRows(x, r, w, new Float64Array(r * r)),
        gramCols(b, w, r, new Float64Array(r * r)),
        simd.gramCols(b, w, r, new Float64Array(r * r)),
        gramRows(Float64Array.from(x), r, w, new Float64Array(r * r)),
      ]) {
        for (let i = 0; i < r * r; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-13 * scale * Math.sqrt(w));
        for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) expect(got[i * r + j]).toBe(got[j * r + i]);
      }
    });
  }
});
