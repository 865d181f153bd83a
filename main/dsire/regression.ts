// A between-sizes estimate (beyond the paper, shown next to the classifier, never instead of it):
// ridge regression of log size on two spectral summaries per module, log ‖ΔW_l‖_F and log σ₁(ΔW_l),
// standardised. Solved in dual form (p may exceed n) from one eigendecomposition of the n×n Gram matrix (n ≤ a few
// hundred references), which also gives every ridge λ's leave-one-out error in closed form, so λ is
// chosen by leave-one-out without refitting.
import { symmetricEigen } from '../../native/eigen.ts';
import type { FeatureTable } from './table.ts';

export const REGRESSION_METHOD = 'ridge regression of log size on log ‖ΔW_l‖_F and log σ₁(ΔW_l) per module (λ by leave-one-out)';

export interface RidgeModel {
  mean: Float64Array;
  sd: Float64Array;
  /** Primal weights w = Σ α_i z_i over the standardised training rows (linear kernel), so a
   *  prediction is yMean + ⟨w, z⟩. */
  weights: Float64Array;
  yMean: number;
  lambda: number;
  looRmse: number;          // in log-size units
  range: [number, number];  // smallest and largest training size
}

const floorLog = (x: number) => Math.log(Math.max(x, 1e-30));

/** Summaries of one row of the table (raw σ values recovered from the global min–max). */
export function summaries(table: FeatureTable, rowOf: (c: number) => { block: Float64Array; offset: number }): Float64Array {
  const out: number[] = [];
  for (let c = 0; c < table.blocks.length; c++) {
    if (table.kinds[c] !== 'sigmaDW') continue;
    const { block, offset } = rowOf(c);
    const d = table.dims[c];
    let sq = 0;
    let top = 0;
    for (let j = 0; j < d; j++) {
      const x = block[offset + j] * table.range + table.min;
      sq += x * x;
      if (x > top) top = x;
    }
    out.push(0.5 * floorLog(sq), floorLog(top));
  }
  return Float64Array.from(out);
}

export function tableRow(table: FeatureTable, i: number): Float64Array {
  return summaries(table, (c) => ({ block: table.blocks[c], offset: i * table.dims[c] }));
}

export function queryRow(table: FeatureTable, query: Float64Array[]): Float64Array {
  return summaries(table, (c) => ({ block: query[c], offset: 0 }));
}

export function fitRidge(rows: Float64Array[], sizes: number[]): RidgeModel {
  const n = rows.length;
  const p = rows[0].length;
  const mean = new Float64Array(p);
  const sd = new Float64Array(p);
  for (const r of rows) for (let j = 0; j < p; j++) mean[j] += r[j] / n;
  for (const r of rows) for (let j = 0; j < p; j++) sd[j] += (r[j] - mean[j]) ** 2 / n;
  for (let j = 0; j < p; j++) sd[j] = Math.sqrt(sd[j]) || 1;
  const z = new Float64Array(n * p); // standardised rows, flat
  rows.forEach((r, i) => { for (let j = 0; j < p; j++) z[i * p + j] = (r[j] - mean[j]) / sd[j]; });
  const y = sizes.map(Math.log);
  const yMean = y.reduce((a, b) => a + b, 0) / n;
  const yc = y.map((v) => v - yMean);
  const K = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let t = 0; t < p; t++) s += z[i * p + t] * z[j * p + t];
      K[i * n + j] = s;
      K[j * n + i] = s;
    }
  }
  // The project's flat-array tred2/tql2 (native/eigen.ts): ml-matrix's Matrix-based one took ~9 ms
  // per fit at n = 90, and evaluation fits once per split.
  const evd = symmetricEigen(K, n, true);
  const d = evd.values.map((v) => Math.max(v, 0));
  const U = evd.vectors!; // U[i][k] = U[i·n + k]
  const uty = new Float64Array(n);
  for (let k = 0; k < n; k++) { let s = 0; for (let i = 0; i < n; i++) s += U[i * n + k] * yc[i]; uty[k] = s; }
  const dmax = Math.max(...d, 1e-12);
  let best = { lambda: dmax, rmse: Infinity };
  const shrink = new Float64Array(n);
  for (let g = -6; g <= 1; g += 0.5) {
    const lambda = dmax * 10 ** g;
    for (let k = 0; k < n; k++) shrink[k] = d[k] / (d[k] + lambda);
    let sse = 0;
    for (let i = 0; i < n; i++) {
      // Fitted value and leverage; the unpenalised intercept adds 1/n (z is centred, so 1 ⟂ z).
      let fit = 0;
      let h = 1 / n;
      for (let k = 0; k < n; k++) {
        const u = U[i * n + k];
        fit += u * shrink[k] * uty[k];
        h += u * u * shrink[k];
      }
      const e = (yc[i] - fit) / Math.max(1 - h, 1e-9);
      sse += e * e;
    }
    const rmse = Math.sqrt(sse / n);
    if (rmse < best.rmse) best = { lambda, rmse };
  }
  const dual = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const w = uty[k] / (d[k] + best.lambda);
    for (let i = 0; i < n; i++) dual[i] += U[i * n + k] * w;
  }
  const weights = new Float64Array(p);
  for (let i = 0; i < n; i++) for (let j = 0; j < p; j++) weights[j] += dual[i] * z[i * p + j];
  return { mean, sd, weights, yMean, lambda: best.lambda, looRmse: best.rmse, range: [Math.min(...sizes), Math.max(...sizes)] };
}

export function predictRidge(model: RidgeModel, row: Float64Array): number {
  let s = model.yMean;
  for (let j = 0; j < row.length; j++) s += model.weights[j] * ((row[j] - model.mean[j]) / model.sd[j]);
  return Math.exp(s);
}
