// The paper's effect, measured on what the generator made: the Frobenius norm and the top singular
// values of ΔW = B·A fall as the number of fine-tuning images grows. Also how separable the sizes are
// by the norm alone (leave-one-name-out 1-NN on the mean norm), so "present but not trivially
// separable" is a number, not an impression.
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

export interface AdapterWeights {
  name: string;
  size: number;
  /** Per module: A (rank × in), B (out × rank), ΔW = scale·B·A. */
  modules: { a: ArrayLike<number>; b: ArrayLike<number>; rank: number; inFeatures: number; outFeatures: number }[];
  scale: number;
}

export interface EffectRow {
  size: number;
  adapters: number;
  /** Mean over adapters of the mean over modules of ‖ΔW‖_F, and its standard deviation over adapters. */
  meanNorm: number;
  stdNorm: number;
  /** Mean over adapters and modules of σ1(ΔW) and σ2(ΔW). */
  meanSigma1: number;
  meanSigma2: number;
}

export interface EffectTable {
  rows: EffectRow[];
  /**
   * The trend the paper reports: mean norm and mean σ1 are lower at the largest size than at the
   * smallest, and the per-adapter norm falls with size (Spearman ρ ≤ −0.3). A plateau between two
   * neighbouring large sizes does not undo it; `monotone` says whether every step falls.
   */
  present: boolean;
  /** Mean norm and mean σ1 strictly fall from each size to the next. */
  monotone: boolean;
  /** Spearman rank correlation between size and per-adapter mean ‖ΔW‖_F (ties averaged). */
  spearman: number;
  /** Leave-one-name-out 1-NN on the per-adapter mean norm: 1 would mean trivially separable. */
  normOnlyAccuracy: number;
}

/** σ(ΔW) in float64, descending (ΔW is at most a few dozen square here, so a full SVD is cheap). */
export function deltaSingularValues(m: AdapterWeights['modules'][number], scale: number): number[] {
  const A = new Matrix(m.rank, m.inFeatures), B = new Matrix(m.outFeatures, m.rank);
  for (let i = 0; i < m.rank; i++) for (let j = 0; j < m.inFeatures; j++) A.set(i, j, m.a[i * m.inFeatures + j]);
  for (let i = 0; i < m.outFeatures; i++) for (let j = 0; j < m.rank; j++) B.set(i, j, m.b[i * m.rank + j]);
  const dw = B.mmul(A).mul(scale);
  return new SingularValueDecomposition(dw, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true })
    .diagonal.slice(0, m.rank).sort((x, y) => y - x);
}

export function effectTable(adapters: AdapterWeights[]): EffectTable {
  const per = adapters.map((ad) => {
    let norm = 0, s1 = 0, s2 = 0;
    for (const m of ad.modules) {
      const s = deltaSingularValues(m, ad.scale);
      norm += Math.sqrt(s.reduce((acc, v) => acc + v * v, 0));
      s1 += s[0] ?? 0;
      s2 += s[1] ?? 0;
    }
    const n = ad.modules.length;
    return { name: ad.name, size: ad.size, norm: norm / n, s1: s1 / n, s2: s2 / n };
  });
  const sizes = [...new Set(per.map((p) => p.size))].sort((a, b) => a - b);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const rows = sizes.map((size) => {
    const group = per.filter((p) => p.size === size);
    const mn = mean(group.map((g) => g.norm));
    return {
      size, adapters: group.length, meanNorm: mn,
      stdNorm: Math.sqrt(mean(group.map((g) => (g.norm - mn) ** 2))),
      meanSigma1: mean(group.map((g) => g.s1)), meanSigma2: mean(group.map((g) => g.s2)),
    };
  });
  const monotone = rows.length > 1 && rows.every((r, i) => i === 0 || (r.meanNorm < rows[i - 1].meanNorm && r.meanSigma1 < rows[i - 1].meanSigma1));
  const spearman = rankCorrelation(per.map((p) => p.size), per.map((p) => p.norm));
  const first = rows[0], last = rows[rows.length - 1];
  const present = rows.length > 1 && first.meanNorm > last.meanNorm && first.meanSigma1 > last.meanSigma1 && spearman <= -0.3;
  let correct = 0;
  for (const q of per) {
    let best: (typeof per)[number] | null = null;
    for (const r of per) if (r.name !== q.name && (!best || Math.abs(r.norm - q.norm) < Math.abs(best.norm - q.norm))) best = r;
    if (best && best.size === q.size) correct++;
  }
  return { rows, present, monotone, spearman, normOnlyAccuracy: per.length ? correct / per.length : 0 };
}

function ranks(xs: number[]): number[] {
  const order = xs.map((x, i) => [x, i] as const).sort((p, q) => p[0] - q[0]);
  const out = new Array<number>(xs.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && order[j + 1][0] === order[i][0]) j++;
    for (let k = i; k <= j; k++) out[order[k][1]] = (i + j) / 2;
    i = j + 1;
  }
  return out;
}

/** Spearman's ρ: Pearson correlation of the ranks (ties get their average rank). */
export function rankCorrelation(x: number[], y: number[]): number {
  const rx = ranks(x), ry = ranks(y);
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(rx), my = mean(ry);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < rx.length; i++) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) ** 2;
    syy += (ry[i] - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}

export function formatEffect(t: EffectTable): string {
  const lines = ['size  adapters  mean ‖ΔW‖_F (± std)   mean σ1(ΔW)  mean σ2(ΔW)'];
  for (const r of t.rows) {
    lines.push(`${String(r.size).padStart(4)}  ${String(r.adapters).padStart(8)}  ${r.meanNorm.toFixed(4).padStart(10)} ± ${r.stdNorm.toFixed(4)}   ${r.meanSigma1.toFixed(4).padStart(11)}  ${r.meanSigma2.toFixed(4).padStart(11)}`);
  }
  lines.push(`effect ${t.present ? 'present' : 'ABSENT'}: Spearman ρ(size, ‖ΔW‖_F) = ${t.spearman.toFixed(3)}; `
    + `${t.monotone ? 'norm and σ1 fall at every step' : 'norm and σ1 do not fall at every step'}; `
    + `norm-only 1-NN accuracy (leave one name out) ${(t.normOnlyAccuracy * 100).toFixed(1)}%`);
  return lines.join('\n');
}
