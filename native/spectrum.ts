// From the two r×r Gram matrices of a module to its features: the float64 step every backend shares.
//
// σ(A)² = eig(AAᵀ), σ(B)² = eig(BᵀB), and σ(BA)² = eig((BᵀB)(AAᵀ)). That last product is not
// symmetric; with AAᵀ = V·D·Vᵀ it is similar to the symmetric D^½·(Vᵀ·BᵀB·V)·D^½, so the eigenvectors
// of AAᵀ (needed anyway for σ(A)) turn σ(ΔW) into one more symmetric problem, and a rank-deficient A
// (D with zeros) gives zero rows there, hence exact zero singular values instead of NaN.
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
  const sa = symmetrize(gA, r);
  const sb = symmetrize(gB, r);
  const ea = eig(sa, r, true);
  const eb = eig(sb, r, false);
  const sigmaA = gramSingularValues(ea.values, r);
  const sigmaB = gramSingularValues(eb.values, r);
  const V = ea.vectors!;

  // C = Vᵀ·gB·V, then M = D^½·C·D^½ with D^½ = σ(A).
  const T = new Float64Array(r * r); // gB·V
  for (let i = 0; i < r; i++) {
    for (let k = 0; k < r; k++) {
      const g = sb[i * r + k];
      if (g === 0) continue;
      const vk = k * r;
      const ti = i * r;
      for (let j = 0; j < r; j++) T[ti + j] += g * V[vk + j];
    }
  }
  const M = new Float64Array(r * r);
  for (let i = 0; i < r; i++) {
    for (let j = i; j < r; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += V[k * r + i] * T[k * r + j];
      const m = sigmaA[i] * s * sigmaA[j];
      M[i * r + j] = m;
      M[j * r + i] = m;
    }
  }
  const em = eig(M, r, false);
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

function symmetrize(g: Float64Array, r: number): Float64Array {
  const out = new Float64Array(r * r);
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
