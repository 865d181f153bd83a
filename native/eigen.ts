// Symmetric eigen solver for the small r×r problems of the fast path: Householder tridiagonalisation
// then implicit QL (the tred2/tql2 pair of EISPACK, as published in JAMA), on flat Float64Arrays.
//
// Why our own and not ml-matrix (which the float64 reference uses): measured on this 2-core machine,
// ml-matrix's EigenvalueDecomposition takes ~0.18 ms for a 32×32 matrix, and one SD-1.x rank-32
// adapter needs 384 of them (3 per module × 128): ~70 ms, over the whole 50 ms budget on its own.
// This version works on flat arrays and skips the eigenvector accumulation when only eigenvalues
// are needed (2 or 3 of the 3 problems per module); the reference cross-checks it in the tests.
// Those values-only problems run as WebAssembly (wasm/eigen.wat: the same steps in the same order,
// so the same bits) where the runtime has it; the vectors keep to this file. Measured per SD-1.x
// rank-32 adapter (384 problems), whole calls (scaling, copies, solve, sort): 28.6 → 17.1 ms.
import { loadKernel, type WasmMemory } from './wasm/load.ts';

export interface SymmetricEigen {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** n×n row-major; column i is the unit eigenvector of values[i]. Null when not requested. */
  vectors: Float64Array | null;
}

export type SymmetricEigenSolver = (a: Float64Array, n: number, wantVectors: boolean) => SymmetricEigen;

const EPS = 2 ** -52;
const MAX_SWEEPS_PER_VALUE = 64;

/**
 * Eigen-decomposition of the symmetric n×n row-major matrix `a` (not modified). `a` must be exactly
 * symmetric: the JavaScript reads its lower triangle and the WebAssembly its upper one, so only then
 * do the two paths agree to the bit (every caller passes a symmetrised or mirrored matrix).
 */
export const symmetricEigen: SymmetricEigenSolver = (a, n, wantVectors) => {
  // Work on A/max|A|: Householder steps divide by squared norms, which underflow for tiny
  // (denormal) entries and overflow for huge ones; the eigenvectors do not change, and the
  // eigenvalues are scaled back at the end. A NaN or infinite entry makes max NaN or infinite:
  // QL would iterate on NaN, so NaN eigenvalues are reported instead.
  let max = 0;
  for (let i = 0; i < n * n; i++) max = Math.max(max, Math.abs(a[i]));
  if (!(max < Infinity)) return { values: new Float64Array(n).fill(NaN), vectors: wantVectors ? new Float64Array(n * n).fill(NaN) : null };
  const d = new Float64Array(n);
  if (max === 0) {
    const V = wantVectors ? new Float64Array(n * n) : null;
    if (V) for (let i = 0; i < n; i++) V[i * n + i] = 1;
    return { values: d, vectors: V };
  }
  const wasm = wantVectors ? null : valuesKernel(n);
  let V: Float64Array | null = null;
  if (wasm) {
    for (let i = 0; i < n * n; i++) wasm.matrix[i] = a[i] / max;
    wasm.eigenvalues(n);
    d.set(wasm.values);
  } else {
    // Values only: the work matrix is scratch, reused between calls (the r×r step runs three of these
    // per module, and their garbage was a visible share of the time).
    const work = wantVectors ? new Float64Array(n * n) : scratch(n);
    const e = new Float64Array(n);
    for (let i = 0; i < n * n; i++) work[i] = a[i] / max;
    tred2(work, d, e, n, wantVectors);
    tql2(work, d, e, n, wantVectors);
    if (wantVectors) V = work;
  }
  for (let i = 0; i < n; i++) d[i] *= max;
  return sortDescending(d, V, n);
};

let work = new Float64Array(0);
let workN = -1;
function scratch(n: number): Float64Array {
  if (workN !== n) {
    work = new Float64Array(n * n);
    workN = n;
  }
  return work;
}

interface ValuesKernel {
  /** The n×n input (row-major, destroyed) in the kernel's memory. */
  matrix: Float64Array;
  /** Where eigenvalues(n) leaves the n eigenvalues, unsorted. */
  values: Float64Array;
  eigenvalues(n: number): void;
}

/** The one instance of wasm/eigen.wasm (null where the runtime has no WebAssembly), and views on its
 *  memory for the last size asked for. One instance for every size: a size change only grows the
 *  memory and remakes the views (an instance per size cost 0.27 ms a call when sizes alternated). */
let instance: { memory: WasmMemory; eigenvalues: (n: number) => void } | null | undefined;
let views: { n: number; buffer: ArrayBufferLike; kernel: ValuesKernel } | null = null;

/** The WebAssembly values-only solver with views for size n; null where the runtime has no WebAssembly.
 *  `useWasmEigen(false)` turns it off (tests compare both paths). */
function valuesKernel(n: number): ValuesKernel | null {
  if (!wasmEnabled) return null;
  if (instance === undefined) {
    const module = loadKernel(new URL('./wasm/eigen.wasm', import.meta.url));
    const exports = module?.instantiate();
    instance = exports ? { memory: exports.mem as WasmMemory, eigenvalues: exports.eigenvalues as (n: number) => void } : null;
  }
  if (!instance) return null;
  const { memory } = instance;
  const need = (n * n + 2 * n) * 8;
  if (memory.buffer.byteLength < need) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
  // A grown memory has a new buffer, and views on the old one are detached.
  if (!views || views.n !== n || views.buffer !== memory.buffer) {
    views = {
      n, buffer: memory.buffer,
      kernel: {
        matrix: new Float64Array(memory.buffer, 0, n * n),
        values: new Float64Array(memory.buffer, n * n * 8, n),
        eigenvalues: instance.eigenvalues,
      },
    };
  }
  return views.kernel;
}

let wasmEnabled = true;

/** Whether values-only problems use the WebAssembly solver (default) or the JavaScript one. */
export function useWasmEigen(on: boolean): void { wasmEnabled = on; }

/** Which solver a values-only problem of size n runs on here. */
export function valuesSolver(n = 2): 'webassembly' | 'javascript' {
  return valuesKernel(n) ? 'webassembly' : 'javascript';
}

function tred2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, wantVectors: boolean): void {
  for (let j = 0; j < n; j++) d[j] = V[(n - 1) * n + j];
  for (let i = n - 1; i > 0; i--) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k++) scale += Math.abs(d[k]);
    if (scale === 0) {
      e[i] = d[i - 1];
      for (let j = 0; j < i; j++) {
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
        V[j * n + i] = 0;
      }
    } else {
      for (let k = 0; k < i; k++) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      let f = d[i - 1];
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j++) e[j] = 0;
      for (let j = 0; j < i; j++) {
        f = d[j];
        V[j * n + i] = f;
        g = e[j] + V[j * n + j] * f;
        for (let k = j + 1; k <= i - 1; k++) {
          g += V[k * n + j] * d[k];
          e[k] += V[k * n + j] * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j++) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j++) e[j] -= hh * d[j];
      for (let j = 0; j < i; j++) {
        f = d[j];
        g = e[j];
        for (let k = j; k <= i - 1; k++) V[k * n + j] -= f * e[k] + g * d[k];
        d[j] = V[(i - 1) * n + j];
        V[i * n + j] = 0;
      }
    }
    d[i] = h;
  }
  if (!wantVectors) {
    // The diagonal of the tridiagonal form sits on V's diagonal; the accumulation below would only
    // move it to the last row on its way to d.
    for (let j = 0; j < n; j++) d[j] = V[j * n + j];
    e[0] = 0;
    return;
  }
  for (let i = 0; i < n - 1; i++) {
    V[(n - 1) * n + i] = V[i * n + i];
    V[i * n + i] = 1;
    const h = d[i + 1];
    if (h !== 0) {
      for (let k = 0; k <= i; k++) d[k] = V[k * n + i + 1] / h;
      for (let j = 0; j <= i; j++) {
        let g = 0;
        for (let k = 0; k <= i; k++) g += V[k * n + i + 1] * V[k * n + j];
        for (let k = 0; k <= i; k++) V[k * n + j] -= g * d[k];
      }
    }
    for (let k = 0; k <= i; k++) V[k * n + i + 1] = 0;
  }
  for (let j = 0; j < n; j++) {
    d[j] = V[(n - 1) * n + j];
    V[(n - 1) * n + j] = 0;
  }
  V[(n - 1) * n + n - 1] = 1;
  e[0] = 0;
}

function tql2(V: Float64Array, d: Float64Array, e: Float64Array, n: number, wantVectors: boolean): void {
  for (let i = 1; i < n; i++) e[i - 1] = e[i];
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n - 1 && Math.abs(e[m]) > EPS * tst1) m++;
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > MAX_SWEEPS_PER_VALUE) break; // never reached on finite input; a guard, not a result
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (wantVectors) {
            for (let k = 0; k < n; k++) {
              const row = k * n;
              h = V[row + i + 1];
              V[row + i + 1] = s * V[row + i] + c * h;
              V[row + i] = c * V[row + i] - s * h;
            }
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > EPS * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
}

const MIN_NORMAL = 2 ** -1022;

/**
 * √(a² + b²) for QL's rotations, without the squares underflowing. The tridiagonal form of some
 * matrices (every entry equal, say) has off-diagonal entries below 1e-154, whose squares are 0: the
 * rotation then divided by 0 and QL reported finite wrong eigenvalues or NaN. Where the plain sum is a
 * normal finite number (almost always) this is the plain form, the same bits as before; else the
 * squares are taken of a/m and b/m, m = max(|a|, |b|). Not Math.hypot: wasm/eigen.wat has the same
 * function, and the two paths must agree to the bit.
 */
function hypot(a: number, b: number): number {
  const s = a * a + b * b;
  if (s >= MIN_NORMAL && s < Infinity) return Math.sqrt(s);
  const m = Math.max(Math.abs(a), Math.abs(b));
  if (m === 0) return 0;
  const x = a / m;
  const y = b / m;
  return m * Math.sqrt(x * x + y * y);
}

function sortDescending(d: Float64Array, V: Float64Array | null, n: number): SymmetricEigen {
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    for (let j = i + 1; j < n; j++) if (d[j] > d[k]) k = j;
    if (k !== i) {
      const t = d[i];
      d[i] = d[k];
      d[k] = t;
      if (V) {
        for (let row = 0; row < n * n; row += n) {
          const v = V[row + i];
          V[row + i] = V[row + k];
          V[row + k] = v;
        }
      }
    }
  }
  return { values: d, vectors: V };
}
