// The paper's evaluation protocol on any reference set: split by name, `trainNames` names' adapters as
// references and the other names' adapters as queries, `splits` seeded random splits (mulberry32,
// one generator seeded once, one Fisher–Yates shuffle of the names per split). Every variant, the
// references-per-size ablation and best mode are measured on the same splits, so differences are
// paired comparisons, not different luck.
import { AuditError } from '../errors.ts';
import type { ReferenceSet } from '../reference/types.ts';
import { chooseVariant, conformalFrom, lonoFinish } from './calibration.ts';
import { intervalFor, METHOD as INTERVAL_METHOD, NOMINAL } from './conformal.ts';
import { search, type Task } from './pairwise.ts';
import { mulberry32, shuffled } from './prng.ts';
import { fitRidge, predictRidge, tableRow } from './regression.ts';
import { meanStd } from './stats.ts';
import { buildTable, type FeatureTable } from './table.ts';
import { ABLATIONS, accuracyOf, CANDIDATES, decide, FAITHFUL, logCentre, MAX_K, mergeTallies, needsAccuracy, talliesFrom, tallyOf, type Tallies } from './variants.ts';
import type { DsireMode, EvaluationResult, Scores, SplitResult, Variant } from './types.ts';
import { referenceValueReasons } from './finite.ts';

export interface EvaluateOptions {
  splits: number;
  trainNames: number;
  seed: number;
  mode: DsireMode;
  /** Search with the plain JavaScript loops instead of the WebAssembly kernels (same numbers; for
   *  the benchmark's baseline and the test that checks they agree). */
  plainLoops?: boolean;
  /** Variants measured beside the ablations on the same splits (issue 18's measurement of variants
   *  that are not candidates); tallied from kept neighbours after the search. Not the norms table's. */
  extraVariants?: Variant[];
  /** What best mode chooses among, instead of CANDIDATES (then extraVariants), faithful first: for
   *  measuring a choice against another on the same splits (test/bench/dsire-variants.ts). */
  candidates?: Variant[];
}

// What each search tallies: every ablation on its own table (the norms variant reads the norms table),
// and on the spectra table also whatever best mode may choose (it reads the main tallies). Variants
// weighted by held-out accuracy need each split's leave-one-name-out pass over its reference names,
// which only best mode runs: faithful mode leaves them out.
const NORMS_VARIANTS = ABLATIONS.filter((v) => v.features === 'norms');
const SPECTRA_VARIANTS = [...new Set([...ABLATIONS.filter((v) => v.features !== 'norms'), ...CANDIDATES])];

interface Split { referenceNames: number[]; refs: Int32Array; queries: Int32Array; prefixEnds: Int32Array }

interface Score1 { accuracy: number; mae: number; mape: number }

function score(table: FeatureTable, rows: ArrayLike<number>, pred: ArrayLike<number>): Score1 {
  let hits = 0;
  let abs = 0;
  let pct = 0;
  for (let i = 0; i < rows.length; i++) {
    const truth = table.labels[rows[i]];
    if (pred[i] === truth) hits++;
    abs += Math.abs(pred[i] - truth);
    pct += Math.abs(pred[i] - truth) / truth;
  }
  const n = rows.length;
  return { accuracy: hits / n, mae: abs / n, mape: 100 * pct / n };
}

function summarise(xs: Score1[]): Scores {
  return {
    accuracy: meanStd(xs.map((x) => x.accuracy)),
    mae: meanStd(xs.map((x) => x.mae)),
    mape: meanStd(xs.map((x) => x.mape)),
  };
}

function predictions(variant: Variant, table: FeatureTable, tallies: Tallies, Q: number): Float64Array {
  const out = new Float64Array(Q);
  for (let q = 0; q < Q; q++) {
    const { votes, dist } = tallyOf(tallies, variant, q);
    out[q] = table.sizes[decide(votes, dist)];
  }
  return out;
}

function makeSplits(table: FeatureTable, opts: EvaluateOptions): Split[] {
  const rowsOf: number[][] = table.names.map(() => []);
  for (let i = 0; i < table.n; i++) rowsOf[table.nameIndex[i]].push(i);
  const rng = mulberry32(opts.seed);
  const all = table.names.map((_, i) => i);
  const splits: Split[] = [];
  for (let s = 0; s < opts.splits; s++) {
    const order = shuffled(all, rng);
    const train = order.slice(0, opts.trainNames);
    const refs: number[] = [];
    const prefixEnds: number[] = [];
    for (const p of train) { refs.push(...rowsOf[p]); prefixEnds.push(refs.length); }
    const queries = order.slice(opts.trainNames).flatMap((p) => rowsOf[p]);
    splits.push({ referenceNames: train, refs: Int32Array.from(refs), queries: Int32Array.from(queries), prefixEnds: Int32Array.from(prefixEnds) });
  }
  return splits;
}

export function evaluate(ref: ReferenceSet, opts: EvaluateOptions): EvaluationResult {
  const started = performance.now();
  if (!Number.isInteger(opts.splits) || opts.splits < 1) throw new AuditError('BAD_REQUEST', `--splits must be a positive whole number, got ${opts.splits}`);
  if (!Number.isInteger(opts.seed)) throw new AuditError('BAD_REQUEST', `--seed must be a whole number, got ${opts.seed}`);
  // the same refusal analyze() gives: a set holding a non-finite or unsquarable feature, or a size that is
  // not a positive number, yields no error rates (a NaN is never a nearest neighbour, so the tables would
  // silently describe another set than the one named)
  const poisoned = referenceValueReasons(ref);
  if (poisoned.length > 0) throw new AuditError('NOT_APPLICABLE', `reference set "${ref.name}" cannot be evaluated: ${poisoned.join(' ')}`);
  const table = buildTable(ref);
  const names = table.names.length;
  if (!Number.isInteger(opts.trainNames) || opts.trainNames < 1 || opts.trainNames >= names) {
    throw new AuditError('BAD_REQUEST', `--train-names must be between 1 and ${names - 1}: reference set "${ref.name}" has ${names} names and at least one must be held out as queries`);
  }
  const best = opts.mode === 'best';
  const offered = opts.candidates ?? CANDIDATES;
  if (offered[0] !== FAITHFUL) throw new AuditError('BAD_REQUEST', 'best mode\'s candidates start with the paper\'s faithful variant, which wins every tie');
  const extras = [...new Set([...(opts.extraVariants ?? []), ...offered])].filter((v) => !ABLATIONS.includes(v));
  if (extras.some((v) => v.features === 'norms')) throw new AuditError('BAD_REQUEST', 'extra variants are measured on the spectra table, not the norms one');
  if (!best && extras.some(needsAccuracy)) throw new AuditError('BAD_REQUEST', 'variants weighted by held-out accuracy are measured in best mode, whose leave-one-name-out pass gives the accuracy');
  const ablations = [...ABLATIONS.filter((v) => best || !needsAccuracy(v)), ...extras];
  const inMain = SPECTRA_VARIANTS.filter((v) => best || !needsAccuracy(v));
  const candidates = offered;
  const lonoFixed = candidates.filter((v) => !needsAccuracy(v));
  const lonoLater = candidates.filter(needsAccuracy);
  const norms = buildTable(ref, 'norms');
  const splits = makeSplits(table, opts);

  // per split: best mode's leave-one-name-out pass over the reference names first (the held-out
  // accuracy of the main task's accuracy-weighted variants is its hits), then the main task
  const tasks: Task[] = [];
  for (const sp of splits) {
    if (best) tasks.push({ queries: sp.refs, refs: sp.refs, excludeSameName: true, k: MAX_K, neighbours: lonoLater.length > 0, tallies: lonoFixed });
    tasks.push({
      queries: sp.queries, refs: sp.refs, excludeSameName: false, k: MAX_K, prefixEnds: sp.prefixEnds, neighbours: extras.length > 0, tallies: inMain,
      ...(best ? { accuracy: { fromTask: tasks.length - 1 } } : {}),
    });
  }
  const outs = search(table, tasks, { plainLoops: opts.plainLoops });
  const normOuts = search(norms, splits.map((sp) => ({ queries: sp.queries, refs: sp.refs, excludeSameName: false, k: 1, neighbours: false, tallies: NORMS_VARIANTS })), { plainLoops: opts.plainLoops });
  const per = best ? 2 : 1;

  const S = table.sizes.length;
  const C = table.blocks.length;
  const variantScores: Score1[][] = ablations.map(() => []);
  const prefixScores: Score1[][] = Array.from({ length: opts.trainNames }, () => []);
  const regressionScores: Score1[] = [];
  const bestScores: Score1[] = [];
  const coverages: number[] = [];
  const widths: number[] = [];
  const chosen: Record<string, number> = {};
  const confusion = table.sizes.map(() => new Array<number>(S).fill(0));
  const layerHits = new Float64Array(C);
  let layerTotal = 0;
  const splitResults: SplitResult[] = [];
  const summaryRows = Array.from({ length: table.n }, (_, i) => tableRow(table, i));

  splits.forEach((sp, s) => {
    const main = outs[s * per + per - 1];
    const calibOut = best ? outs[s * per] : null;
    const Q = sp.queries.length;
    const calib = calibOut ? lonoFinish(table, sp.refs, lonoFixed, lonoLater, calibOut.nb!, calibOut.tallies!, calibOut.hits!) : null;
    const mainTallies = extras.length > 0
      ? mergeTallies(main.tallies!, talliesFrom(extras, table, main.nb!, Q, calib ? accuracyOf(calibOut!.hits!, sp.refs.length) : undefined), Q)
      : main.tallies!;
    let faithful: Float64Array = new Float64Array(0);
    ablations.forEach((v, vi) => {
      const pred = v.features === 'norms' ? predictions(v, norms, normOuts[s].tallies!, Q) : predictions(v, table, mainTallies, Q);
      if (v === FAITHFUL) faithful = pred;
      variantScores[vi].push(score(table, sp.queries, pred));
    });
    for (let c = 0; c < C; c++) layerHits[c] += main.hits![c];
    layerTotal += Q;
    const pv = main.prefix!;
    const runVotes = new Float64Array(Q * S);
    const runDist = new Float64Array(Q * S);
    for (let p = 0; p < opts.trainNames; p++) {
      const pred = new Float64Array(Q);
      for (let q = 0; q < Q; q++) {
        const o = (q * opts.trainNames + p) * S;
        for (let s = 0; s < S; s++) { runVotes[q * S + s] += pv.votes[o + s]; runDist[q * S + s] += pv.dist[o + s]; }
        pred[q] = table.sizes[decide(runVotes.subarray(q * S, q * S + S), runDist.subarray(q * S, q * S + S))];
      }
      prefixScores[p].push(score(table, sp.queries, pred));
    }
    const model = fitRidge(Array.from(sp.refs, (i) => summaryRows[i]), Array.from(sp.refs, (i) => table.labels[i]));
    const reg = Float64Array.from(sp.queries, (i) => predictRidge(model, summaryRows[i]));
    // Regression accuracy: the reference size nearest in log scale to the continuous estimate.
    const regSnapped = Float64Array.from(reg, (x) => table.sizes.reduce((a, b) => (Math.abs(Math.log(b / x)) < Math.abs(Math.log(a / x)) ? b : a)));
    const regScore = score(table, sp.queries, regSnapped);
    const regAbs = score(table, sp.queries, reg);
    regressionScores.push({ accuracy: regScore.accuracy, mae: regAbs.mae, mape: regAbs.mape });

    let pred: Float64Array = faithful;
    let variant: Variant = FAITHFUL;
    const result: SplitResult = { index: s, referenceNames: sp.referenceNames.map((p) => table.names[p]), queries: Q, accuracy: 0, mae: 0, mape: 0, variant: FAITHFUL.name };
    if (calib) {
      const choice = chooseVariant(table, calib.tallies, sp.refs, candidates);
      variant = choice.variant;
      chosen[variant.name] = (chosen[variant.name] ?? 0) + 1;
      pred = predictions(variant, table, mainTallies, Q);
      bestScores.push(score(table, sp.queries, pred));
      const conf = conformalFrom(table, sp.refs, choice.centre, choice.pred);
      let covered = 0;
      let width = 0;
      for (let q = 0; q < Q; q++) {
        const { votes } = tallyOf(mainTallies, variant, q);
        const iv = intervalFor(logCentre(votes, table.sizes), conf.q, table.sizes, pred[q]);
        const truth = table.labels[sp.queries[q]];
        if (truth >= iv.low && truth <= iv.high) covered++;
        width += table.sizes.filter((x) => x >= iv.low && x <= iv.high).length;
      }
      result.coverage = covered / Q;
      result.intervalWidth = width / Q;
      coverages.push(result.coverage);
      widths.push(result.intervalWidth);
    }
    const main1 = score(table, sp.queries, pred);
    Object.assign(result, main1, { variant: variant.name });
    for (let q = 0; q < Q; q++) {
      confusion[table.sizeIndex[sp.queries[q]]][table.sizes.indexOf(pred[q])]++;
    }
    splitResults.push(result);
  });

  const primary = summarise(splitResults);
  const faithfulScores = summarise(variantScores[0]);
  return {
    referenceSet: ref.name,
    mode: opts.mode,
    parameters: { splits: opts.splits, trainNames: opts.trainNames, seed: opts.seed, prng: 'mulberry32, one Fisher–Yates shuffle of the names per split', stdKind: 'population (ddof = 0)' },
    sizes: table.sizes,
    names,
    accuracy: primary.accuracy,
    mae: primary.mae,
    mape: primary.mape,
    splits: splitResults,
    confusion: { sizes: table.sizes, counts: confusion },
    perLayer: Array.from({ length: C }, (_, c) => ({ id: table.moduleIds[table.moduleOf[c]], feature: table.kinds[c], accuracy: layerHits[c] / layerTotal })),
    ablations: {
      variants: ablations.map((variant, vi) => ({ variant, ...summarise(variantScores[vi]) })),
      referencesPerSize: prefixScores.map((xs, p) => ({ perSize: p + 1, ...summarise(xs) })),
      regression: summarise(regressionScores),
    },
    comparison: best ? { faithful: faithfulScores, best: summarise(bestScores), chosen } : null,
    interval: best ? { nominal: NOMINAL, coverage: meanStd(coverages), meanWidth: meanStd(widths), method: INTERVAL_METHOD } : null,
    elapsedMs: performance.now() - started,
  };
}
