// Dense linear algebra for the tests: what the official Python code effectively does (form ΔW, take
// its SVD), here only on small modules, as an independent check of the r×r route.
import { Matrix, SVD } from 'ml-matrix';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { gaussian, seededRandom } from '../../../native/probe.ts';

export function denseDeltaW(m: ModuleWeights): Matrix {
  const A = new Matrix(m.rank, m.inFeatures);
  const B = new Matrix(m.outFeatures, m.rank);
  for (let i = 0; i < m.rank; i++) for (let k = 0; k < m.inFeatures; k++) A.set(i, k, m.a[i * m.inFeatures + k]);
  for (let p = 0; p < m.outFeatures; p++) for (let j = 0; j < m.rank; j++) B.set(p, j, m.b[p * m.rank + j]);
  return B.mmul(A).mul(m.scale);
}

export function singularValues(M: Matrix, k: number): number[] {
  const s = new SVD(M, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true }).diagonal;
  return [...s].sort((x, y) => y - x).slice(0, k);
}

export function matrixOf(data: ArrayLike<number>, rows: number, cols: number): Matrix {
  const M = new Matrix(rows, cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) M.set(i, j, data[i * cols + j]);
  return M;
}

/** A random Gaussian module in float64 (entries of LoRA size). */
export function randomModule(seed: number, rank: number, inFeatures: number, outFeatures: number, scale = 1, id = `m${seed}`): ModuleWeights {
  const rand = seededRandom(seed);
  const a = new Float64Array(rank * inFeatures).map(() => 0.05 * gaussian(rand));
  const b = new Float64Array(outFeatures * rank).map(() => 0.02 * gaussian(rand));
  return { id, rank, inFeatures, outFeatures, scale, a, b };
}

export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.abs(want[i]));
  return worst;
}

export function isDescending(v: ArrayLike<number>): boolean {
  for (let i = 1; i < v.length; i++) if (!(v[i] <= v[i - 1])) return false;
  return true;
}
