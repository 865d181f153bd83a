// Is every number a comparison rests on a number? A NaN or ±Inf weight gives NaN features (the eigen
// solvers answer a non-finite Gram matrix with NaN), and NaN fails every comparison silently: `NaN > 2`
// is false, so a distance check "passes", and a NaN distance is never the nearest, so the vote is taken
// over whatever is left. So the query's features, the reference set's, and the distances and scores
// the search derives from both are checked before any of them becomes a result: one that is not a
// finite number, or a singular value too large to square, makes the comparison not applicable, with
// the module and the feature named.
import type { ModuleFeatures } from '../../native/types.ts';
import type { ReferenceSet } from '../reference/types.ts';
import type { QuerySearch } from './classifier.ts';
import type { FeatureTable } from './table.ts';
import type { FeatureKind } from './types.ts';

export const FEATURE_LABEL: Record<FeatureKind, string> = { sigmaA: 'σ(A)', sigmaB: 'σ(B)', sigmaDW: 'σ(ΔW)' };

/** float32's largest finite value. */
const F32_MAX = 3.4028234663852886e38;

/** The largest singular value taken as a measurement (≈ 1.8e19). Features are squared in the Gram
 *  products they come from, in single precision on the GPU backends, and beyond √F32_MAX that square
 *  overflows: the value would depend on which backend computed it. A trained LoRA's singular values
 *  are of order 1; only weights of absurd magnitude (e.g. 1e30, still finite in float32) get there. */
export const LARGEST_SIGMA = Math.sqrt(F32_MAX);

/** How many offending modules or numbers a reason names before it only counts the rest. */
const NAMED = 3;

interface Problem { label: string; value: number }

export function show(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return v.toExponential(1);
}

/** NaN if any value is NaN, else the first ±Inf, else the largest magnitude beyond `limit`; null when
 *  every value is a finite number within it. Written so that NaN fails the test (`!(|v| <= limit)`). */
function offending(values: ArrayLike<number>, limit: number): number | null {
  let inf: number | null = null;
  let big: number | null = null;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== v) return v;
    if (v === Infinity || v === -Infinity) inf ??= v;
    else if (!(Math.abs(v) <= limit) && (big === null || Math.abs(v) > Math.abs(big))) big = v;
  }
  return inf ?? big;
}

/** What is wrong with one module's features: σ values NaN, ±Inf or beyond LARGEST_SIGMA. The norms and
 *  the effective rank are sums over the σ, so they are named only when the σ look fine (a stored set
 *  whose numbers were written by hand): then only their finiteness is checked. */
function moduleProblems(f: ModuleFeatures): Problem[] {
  const out: Problem[] = [];
  const check = (label: string, values: ArrayLike<number>, limit: number) => {
    const v = offending(values, limit);
    if (v !== null) out.push({ label, value: v });
  };
  check(FEATURE_LABEL.sigmaA, f.sigmaA, LARGEST_SIGMA);
  check(FEATURE_LABEL.sigmaB, f.sigmaB, LARGEST_SIGMA);
  check(FEATURE_LABEL.sigmaDW, f.sigmaDW, LARGEST_SIGMA);
  if (out.length > 0) return out;
  check('‖A‖', [f.normA], Infinity);
  check('‖B‖', [f.normB], Infinity);
  check('‖ΔW‖', [f.normDW], Infinity);
  check('effective rank', [f.effectiveRank], Infinity);
  return out;
}

function within(values: Float64Array, limit: number): boolean {
  for (let i = 0; i < values.length; i++) if (!(Math.abs(values[i]) <= limit)) return false;
  return true;
}

/** The common case, without allocating: every value of the module is a number within bounds. */
function moduleFine(f: ModuleFeatures): boolean {
  return within(f.sigmaA, LARGEST_SIGMA) && within(f.sigmaB, LARGEST_SIGMA) && within(f.sigmaDW, LARGEST_SIGMA)
    && Number.isFinite(f.normA) && Number.isFinite(f.normB) && Number.isFinite(f.normDW) && Number.isFinite(f.effectiveRank);
}

/** "m (σ(A) is NaN, σ(ΔW) is NaN; from factor A)": which features, and which weights they come from. */
function moduleClause(id: string, problems: Problem[]): string {
  const labels = new Set(problems.map((p) => p.label));
  const a = labels.has(FEATURE_LABEL.sigmaA);
  const b = labels.has(FEATURE_LABEL.sigmaB);
  const from = a && b ? 'factors A and B' : a ? 'factor A' : b ? 'factor B' : labels.has(FEATURE_LABEL.sigmaDW) ? 'the update B·A' : null;
  const values = problems.map((p) => `${p.label} ${Number.isFinite(p.value) ? 'reaches' : 'is'} ${show(p.value)}`).join(', ');
  return `${id} (${values}${from ? `; from ${from}` : ''})`;
}

function named(clauses: string[], noun: string): string {
  const more = clauses.length - NAMED;
  return clauses.slice(0, NAMED).join(', ') + (more > 0 ? ` and ${more} more ${noun}${more === 1 ? '' : 's'}` : '');
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Reasons the query adapter's features cannot be compared: modules whose features are not finite
 *  numbers, and modules whose singular values are too large to square. Empty when all are fine. */
export function queryValueReasons(features: ModuleFeatures[]): string[] {
  const nonFinite: string[] = [];
  const overflow: string[] = [];
  for (const f of features) {
    if (moduleFine(f)) continue;
    const problems = moduleProblems(f);
    (problems.some((p) => !Number.isFinite(p.value)) ? nonFinite : overflow).push(moduleClause(f.id, problems));
  }
  const reasons: string[] = [];
  if (nonFinite.length > 0) {
    reasons.push(`The adapter's features are not finite numbers in ${plural(nonFinite.length, 'module')}: ${named(nonFinite, 'module')}. `
      + 'Weights that are NaN or infinite, or so large that their products overflow, give features that are no numbers: '
      + 'no distance to a reference adapter can be computed from them, so no estimate is given.');
  }
  if (overflow.length > 0) {
    reasons.push(`The adapter's singular values exceed ${show(LARGEST_SIGMA)}, whose square overflows single precision, in ${plural(overflow.length, 'module')}: ${named(overflow, 'module')}. `
      + 'A trained adapter\'s singular values are of order 1; these come from weights of absurd magnitude, and features '
      + 'computed from them would depend on the precision of the backend, so no estimate is given.');
  }
  return reasons;
}

/** Reasons a reference set cannot serve as a reference: adapters whose stored features are not finite
 *  or too large to square, or whose size label is not a positive number. The labelled-folder and
 *  parquet imports refuse NaN and ±Inf weights, but finite weights of absurd magnitude are stored,
 *  and a pack's features.bin is stored as its manifest describes it. The set is refused whole rather
 *  than the adapters left out: every reference enters the normalisation, the leave-one-name-out
 *  calibration and the distribution check, and a set quietly missing some of its adapters is not the
 *  set the result would name. */
export function referenceValueReasons(ref: ReferenceSet): string[] {
  // A loaded set is not changed afterwards; the CLI analyses many files against one (~30 ms a scan
  // for 300 adapters of 192 rank-32 modules).
  let reasons = checkedSets.get(ref);
  if (!reasons) checkedSets.set(ref, (reasons = scanReference(ref)));
  return reasons;
}

const checkedSets = new WeakMap<ReferenceSet, string[]>();

function scanReference(ref: ReferenceSet): string[] {
  const bad: string[] = [];
  for (const a of ref.adapters) {
    const clauses: string[] = [];
    if (!(a.label > 0 && a.label < Infinity)) clauses.push(`size ${show(a.label)}`);
    for (const f of a.features) if (!moduleFine(f)) clauses.push(`module ${moduleClause(f.id, moduleProblems(f))}`);
    if (clauses.length > 0) bad.push(`"${a.name}" (size ${a.label}, ${a.source}): ${named(clauses, 'module')}`);
  }
  if (bad.length === 0) return [];
  return [`${bad.length} of the ${ref.adapters.length} adapters of reference set "${ref.name}" hold features that are not finite numbers `
    + `or exceed ${show(LARGEST_SIGMA)}, or a size that is not a positive number: ${named(bad, 'adapter')}. `
    + 'Every reference adapter enters the normalisation, the calibration and the distribution check, and leaving some out '
    + 'would make it a different set than the one named, so this set cannot be used: re-import it from its source.'];
}

/** Reasons the numbers the search derived from the query and the references cannot be reported: each
 *  classifier's nearest distance, the distance to every reference over all classifiers, and the
 *  `others` (the distribution score, the regression estimate). Features within bounds can still
 *  overflow here when the reference set's values span a tiny range, which the normalisation divides by. */
export function derivedValueReasons(table: FeatureTable, found: QuerySearch, others: { label: string; value: number | null | undefined }[]): string[] {
  const bad: string[] = [];
  const { nb } = found;
  for (let c = 0; c < nb.classifiers; c++) {
    const d = nb.dist[c * nb.k];
    // idx −1: no distance to any reference compared below +Inf
    if (nb.idx[c * nb.k] < 0 || !Number.isFinite(d)) {
      bad.push(`the nearest-neighbour distance of ${FEATURE_LABEL[table.kinds[c]]} of ${table.moduleIds[table.moduleOf[c]]} is ${nb.idx[c * nb.k] < 0 ? 'not a finite number' : show(d)}`);
    }
  }
  const far = found.overall.findIndex((s) => !Number.isFinite(s));
  if (far >= 0) bad.push(`the distance to reference adapter "${table.adapterNames[far]}" over all classifiers is ${show(Math.sqrt(found.overall[far]))}`);
  for (const o of others) if (o.value != null && !Number.isFinite(o.value)) bad.push(`${o.label} is ${show(o.value)}`);
  if (bad.length === 0) return [];
  return [`The comparison with the reference set produced numbers that are not finite: ${named(bad, 'number')}. `
    + 'A distance, score or estimate that is not a number cannot be weighed against anything, so no estimate is given.'];
}
