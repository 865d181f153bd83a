// From the two r×r Gram matrices of a module to its features: the float64 step every backend shares.
//
// σ(A)² = eig(AAᵀ), σ(B)² = eig(BᵀB), and σ(BA)² = eig((BᵀB)(AAᵀ)). That last product is not
// symmetric, but it is similar to a symmetric one: Lᵀ·BᵀB·L with the Cholesky factor AAᵀ = L·Lᵀ, or,
// when A is rank-deficient and Cholesky has no safe pivot, D^½·(Vᵀ·BᵀB·V)·D^½ with AAᵀ = V·D·Vᵀ,
// whose zero rows give exact zero singular values instead of NaN. Never forms the out×in ΔW.
import type { ModuleFeatures } from './types.ts';
import type { SymmetricEigenSolver } from './eigen.ts';

/**
 * Eigenvalues of a Gram matrix below n·ε·λmax are rounding noise of the Gram product itself (a
 * singular value under √(nε)·σmax cannot be resolved from AAᵀ), so they are set to exactly 0, as are
 * the small negatives rounding produces. numpy's matrix_rank uses the same threshold on σ.
 */
export function gramSingularValues(eigenvalues: Float64Array, n: number): Float64Array {
  const out = new Float64Array(eigenvalues.length);
  const max = eigenvalues.length > 0 ? eigenvalues[0] : 0;
  const floor = Math.max(0, max) * n * 2 ** -52;
  for (let i = 0; i < out.length; i++) {
    const v = eigenvalues[i];
    out[i] = Number.isNaN(v) ? NaN : v > floor ? Math.sqrt(v) : 0;
  }
  return out;
}

/** exp(Shannon entropy of σ/Σσ) (Roy & Vetterli 2007); 0 for an all-zero update. */
export function effectiveRank(sigma: Float64Array): number {
  let total = 0;
  for (const s of sigma) total += s;
  if (!(total > 0)) return total === 0 ? 0 : NaN;
  let h = 0;
  for (const s of sigma) {
    if (s > 0) {
      const p = s / total;
      h -= p * Math.log(p);
    }
  }
  return Math.exp(h);
}

/**
 * Features from the Gram matrices gA = A·Aᵀ and gB = Bᵀ·B (both rank×rank, row-major; only their
 * symmetric part is used, so a backend's rounding asymmetry does not matter).
 */
export function featuresFromGrams(
  id: string, rank: number, scale: number, gA: Float64Array, gB: Float64Array, eig: SymmetricEigenSolver,
): ModuleFeatures {
  const r = rank;
  const buf = buffers(r);
  const sa = symmetrize(gA, r, buf.sa);
  const sb = symmetrize(gB, r, buf.sb);
  const L = cholesky(sa, r, buf.L);
  let sigmaA: Float64Array;
  let sym: Float64Array;
  if (L) {
    // Full-rank A: AAᵀ = L·Lᵀ, and (BᵀB)(AAᵀ) is similar to the symmetric Lᵀ·BᵀB·L. Cheaper than the
    // eigenvectors of AAᵀ (measured: the vector accumulation was a third of the per-module cost).
    sigmaA = gramSingularValues(eig(sa, r, false).values, r);
    sym = congruence(transpose(L, r, buf.Xt), sb, r, true, buf.W, buf.M);
  } else {
    const ea = eig(sa, r, true);
    sigmaA = gramSingularValues(ea.values, r);
    // D^½·(Vᵀ·BᵀB·V)·D^½ with D^½ = σ(A): zero rows where A is rank-deficient.
    sym = congruence(transpose(ea.vectors!, r, buf.Xt), sb, r, false, buf.W, buf.M);
    for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) sym[i * r + j] *= sigmaA[i] * sigmaA[j];
  }
  const sigmaB = gramSingularValues(eig(sb, r, false).values, r);
  const em = eig(sym, r, false);
  const sigmaDW = gramSingularValues(em.values, r);
  const absScale = Math.abs(scale);
  let sumSq = 0;
  for (let i = 0; i < r; i++) {
    sigmaDW[i] *= absScale;
    sumSq += sigmaDW[i] * sigmaDW[i];
  }
  return {
    id,
    rank: r,
    sigmaA,
    sigmaB,
    sigmaDW,
    normA: Math.sqrt(Math.max(0, trace(sa, r))),
    normB: Math.sqrt(Math.max(0, trace(sb, r))),
    // Σσ(ΔW)² = ‖ΔW‖_F², so the norm is taken from the spectrum: the two stay consistent by construction.
    normDW: Math.sqrt(sumSq),
    effectiveRank: effectiveRank(sigmaDW),
  };
}

/**
 * Lower-triangular L with L·Lᵀ = g, or null when g is not safely positive definite (a pivot at or
 * below n·ε of the largest diagonal entry: a rank-deficient A, for which the eigenvector route
 * gives exact zeros instead).
 */
function cholesky(g: Float64Array, r: number, L: Float64Array): Float64Array | null {
  let maxDiag = 0;
  for (let i = 0; i < r; i++) maxDiag = Math.max(maxDiag, g[i * r + i]);
  const floor = maxDiag * r * 2 ** -52;
  L.fill(0);
  for (let j = 0; j < r; j++) {
    let d = g[j * r + j];
    for (let k = 0; k < j; k++) d -= L[j * r + k] * L[j * r + k];
    if (!(d > floor)) return null;
    const ljj = Math.sqrt(d);
    L[j * r + j] = ljj;
    for (let i = j + 1; i < r; i++) {
      let v = g[i * r + j];
      for (let k = 0; k < j; k++) v -= L[i * r + k] * L[j * r + k];
      L[i * r + j] = v / ljj;
    }
  }
  return L;
}

/**
 * Xᵀ·G·X for symmetric G, given Xt = Xᵀ (row-major; upper-triangular when `upper`, which halves the
 * work). Both products are taken as dot products of rows, summed in locals: W = (G·X)ᵀ, row j of
 * which is Xt's row j against every row of G, then out[i][j] = Xt's row i against W's row j. The
 * earlier form added into memory one product at a time (measured: 62 → 37 µs per rank-32 module).
 */
function congruence(Xt: Float64Array, G: Float64Array, r: number, upper: boolean, W: Float64Array, out: Float64Array): Float64Array {
  const sums = pairSums;
  for (let j = 0; j < r; j++) {
    const l0 = upper ? j : 0;
    let k = 0;
    for (; k + 1 < r; k += 2) {
      rowDotTwoRows(Xt, j, G, k, r, l0, sums);
      W[j * r + k] = sums[0];
      W[j * r + k + 1] = sums[1];
    }
    if (k < r) W[j * r + k] = dot(Xt, j * r, G, k * r, l0, r);
  }
  for (let i = 0; i < r; i++) {
    const k0 = upper ? i : 0;
    let j = i;
    for (; j + 1 < r; j += 2) {
      rowDotTwoRows(Xt, i, W, j, r, k0, sums);
      out[i * r + j] = out[j * r + i] = sums[0];
      out[i * r + j + 1] = out[(j + 1) * r + i] = sums[1];
    }
    if (j < r) out[i * r + j] = out[j * r + i] = dot(Xt, i * r, W, j * r, k0, r);
  }
  return out;
}

const pairSums = new Float64Array(2);

/**
 * Row a of x against rows b and b + 1 of y (r×r, row-major), over columns [from, r), into sums[0] and
 * sums[1]. Two sums per pass keep the adder busy (one sum waits on its own previous add), and each
 * loaded x value serves both.
 */
function rowDotTwoRows(x: Float64Array, a: number, y: Float64Array, b: number, r: number, from: number, sums: Float64Array): void {
  const xa = a * r;
  const y0 = b * r;
  const y1 = y0 + r;
  let s0 = 0;
  let s1 = 0;
  for (let l = from; l < r; l++) {
    const v = x[xa + l];
    s0 += v * y[y0 + l];
    s1 += v * y[y1 + l];
  }
  sums[0] = s0;
  sums[1] = s1;
}

/** Σ x[xo + k]·y[yo + k] for k in [from, to). */
function dot(x: Float64Array, xo: number, y: Float64Array, yo: number, from: number, to: number): number {
  let s = 0;
  for (let k = from; k < to; k++) s += x[xo + k] * y[yo + k];
  return s;
}

/** out = xᵀ for the r×r row-major x. */
function transpose(x: Float64Array, r: number, out: Float64Array): Float64Array {
  for (let i = 0; i < r; i++) for (let j = 0; j < r; j++) out[j * r + i] = x[i * r + j];
  return out;
}

/**
 * Work matrices of the r×r step, reused between modules of the same rank: featuresFromGrams is
 * synchronous, so no two calls can share them at once.
 */
let cache: { r: number; sa: Float64Array; sb: Float64Array; L: Float64Array; Xt: Float64Array; W: Float64Array; M: Float64Array } | null = null;
function buffers(r: number) {
  if (!cache || cache.r !== r) {
    const m = () => new Float64Array(r * r);
    cache = { r, sa: m(), sb: m(), L: m(), Xt: m(), W: m(), M: m() };
  }
  return cache;
}

function symmetrize(g: Float64Array, r: number, out: Float64Array): Float64Array {
  for (let i = 0; i < r; i++) {
    out[i * r + i] = g[i * r + i];
    for (let j = i + 1; j < r; j++) {
      const v = 0.5 * (g[i * r + j] + g[j * r + i]);
      out[i * r + j] = v;
      out[j * r + i] = v;
    }
  }
  return out;
}

function trace(g: Float64Array, r: number): number {
  let t = 0;
  for (let i = 0; i < r; i++) t += g[i * r + i];
  return t;
}
