// The float64 ground truth every backend is checked against: Gram matrices with compensated
// (Neumaier) summation in float64, and ml-matrix's symmetric eigen solver for the r×r problems. It is
// deliberately independent of the fast path's loops and eigen solver, so that agreement means
// something.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { ModuleWeights } from './types.ts';
import type { ComputeBackend } from './backend.ts';
import type { SymmetricEigenSolver } from './eigen.ts';
import { checkModuleShape } from './gram.ts';
import { featuresFromGrams } from './spectrum.ts';
import type { ModuleFeatures } from './types.ts';

export function referenceFeatures(m: ModuleWeights): ModuleFeatures {
  checkModuleShape(m);
  const { rank: r, inFeatures: n, outFeatures: o } = m;
  const gA = new Float64Array(r * r);
  const gB = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      const a = compensatedDot(m.a, i * n, 1, j * n, 1, n);
      gA[i * r + j] = a;
      gA[j * r + i] = a;
      const b = compensatedDot(m.b, i, r, j, r, o);
      gB[i * r + j] = b;
      gB[j * r + i] = b;
    }
  }
  return featuresFromGrams(m.id, r, m.scale, gA, gB, mlMatrixEigen);
}

/** Σ x[p+k·ps]·x[q+k·qs] for k < n, with Neumaier's compensation of the running sum. */
function compensatedDot(x: ArrayLike<number>, p: number, ps: number, q: number, qs: number, n: number): number {
  let sum = 0;
  let c = 0;
  for (let k = 0; k < n; k++) {
    const v = x[p + k * ps] * x[q + k * qs];
    const t = sum + v;
    c += Math.abs(sum) >= Math.abs(v) ? (sum - t) + v : (v - t) + sum;
    sum = t;
  }
  return sum + c;
}

/** ml-matrix's symmetric EVD (tridiagonal QL), reordered to descending eigenvalues. */
export const mlMatrixEigen: SymmetricEigenSolver = (a, n, wantVectors) => {
  // ml-matrix's QL walks off its arrays on NaN input; a non-finite Gram (NaN/Inf weights, which
  // intake reports as a finding) gives NaN features, as the fast path does.
  if (!a.subarray(0, n * n).every(Number.isFinite)) {
    return { values: new Float64Array(n).fill(NaN), vectors: wantVectors ? new Float64Array(n * n).fill(NaN) : null };
  }
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) rows.push(Array.from(a.subarray(i * n, i * n + n)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const order = values.map((_, i) => i).sort((x, y) => values[y] - values[x]);
  const sorted = Float64Array.from(order, (i) => values[i]);
  if (!wantVectors) return { values: sorted, vectors: null };
  const V = evd.eigenvectorMatrix;
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) for (let c = 0; c < n; c++) vectors[k * n + c] = V.get(k, order[c]);
  return { values: sorted, vectors };
};

export function createReferenceBackend(): ComputeBackend {
  return {
    name: 'reference',
    async features(adapters) {
      return adapters.map((mods) => mods.map(referenceFeatures));
    },
    async dispose() {},
  };
}
