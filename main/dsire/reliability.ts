// How often this method is right on this very reference set: the paper's evaluation protocol (split by
// name, seeded splits, held-out names as queries; main/dsire/evaluate.ts) run once per (set content,
// method version, mode) and summarised in the figures a report states: exact-size accuracy, the rate
// within one reference size, MAE, MAPE, the confusion matrix, per-size accuracy, and the conformal
// interval's coverage on held-out names. Hosts cache the record with the set (main/analysis/reliability.ts)
// keyed by setContentHash, so a changed set is measured again.
import { createHash } from 'node:crypto';
import { sha256Hex } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import type { ReferenceSet } from '../reference/types.ts';
import { DSIRE_VERSION } from './analyze.ts';
import { evaluate } from './evaluate.ts';
import { CANDIDATES } from './variants.ts';
import type { DsireMode, EvaluationResult, MeanStd } from './types.ts';

/** Fewer names cannot be split into enough references and at least one held-out name: with three names,
 *  a split keeps two as references, and best mode's own leave-one-name-out choice inside a split would
 *  then compare each reference with one other name only. */
export const MIN_NAMES = 4;
/** The paper's protocol: 10 seeded splits, seed 42. */
export const SPLITS = 10;
export const SEED = 42;
export const HELD_OUT_RULE = 'a quarter of the names (at least one) held out per split, the other names as references';

/** What the cached figures depend on besides the set: the method version, best mode's candidates and
 *  the protocol. A cached record whose key differs is measured again, so figures never outlive a change
 *  of the estimator, even one made without a version bump. */
export function methodKey(): string {
  const what = JSON.stringify({ version: DSIRE_VERSION, candidates: CANDIDATES, splits: SPLITS, seed: SEED, rule: HELD_OUT_RULE });
  return `${DSIRE_VERSION}#${sha256Hex(what).slice(0, 16)}`;
}

/** Names kept as references in each split: all but a quarter, so a split's references are close in number
 *  to the whole set an analysis uses (error falls as references per size grow: evaluate's
 *  references-per-size ablation), while every split still holds out at least one name. */
export function trainNamesFor(names: number): number {
  return names - Math.max(1, Math.floor(names / 4));
}

/** The full record cached with the set and printed in the report. */
export interface ReliabilityRecord {
  referenceSet: string;
  setHash: string;
  methodVersion: string;
  /** methodKey() when measured: the cache key's method part. */
  methodKey: string;
  mode: DsireMode;
  parameters: { splits: number; trainNames: number; heldOutNames: number; seed: number; prng: string; rule: string };
  names: number;
  sizes: number[];
  /** Held-out adapters classified, summed over splits. */
  queries: number;
  accuracy: MeanStd;
  /** Share of held-out adapters whose named size is the true size or an adjacent reference size. */
  withinOne: number;
  mae: MeanStd;
  mape: MeanStd;
  perSize: { size: number; accuracy: number | null; queries: number }[];
  /** Rows: true size, columns: named size, summed over splits. */
  confusion: { sizes: number[]; counts: number[][] };
  /** best mode: the conformal interval's share of held-out true sizes inside it, and its mean width in sizes. */
  interval: { nominal: number; coverage: MeanStd; meanWidth: MeanStd; method: string } | null;
  /** MAE of always answering the median size of the held-out adapters: what a fixed guess achieves. */
  baselineMae: number;
  elapsedMs: number;
  measuredAt: string;
}

/** What an analysis result carries (`reliability` in `analyze --json` and the case record). */
export interface ReliabilitySummary {
  accuracy: number;
  withinOne: number;
  mae: number;
  mape: number;
  intervalCoverage: number | null;
  intervalWidth: number | null;
  baselineMae: number;
  splits: number;
  trainNames: number;
  names: number;
  seed: number;
  methodVersion: string;
  mode: DsireMode;
  setHash: string;
  queries: number;
  perSize: { size: number; accuracy: number | null; queries: number }[];
  confusion: { sizes: number[]; counts: number[][] };
}

/** Why there are no figures: a typed reason. */
export interface ReliabilityUnavailable {
  code: 'TOO_FEW_NAMES' | 'NOT_MEASURABLE' | 'REFUSED';
  reason: string;
}

export type ReliabilityOutcome = { record: ReliabilityRecord } | { unavailable: ReliabilityUnavailable };

/** SHA-256 over what the protocol reads: every adapter's name, size and features, in a fixed order.
 *  Every text and array goes in framed (JSON, with the arrays' lengths), so no two different sets can
 *  feed the hash the same bytes: a name holding a NUL or a comma cannot stand for a label or a module. */
export function setContentHash(ref: ReferenceSet): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([ref.config.rank, ref.config.modules.map((m) => m.id)]));
  const order = ref.adapters.map((a, i) => i).sort((i, j) => {
    const a = ref.adapters[i];
    const b = ref.adapters[j];
    return a.name < b.name ? -1 : a.name > b.name ? 1 : a.label - b.label;
  });
  for (const i of order) {
    const a = ref.adapters[i];
    h.update(JSON.stringify([a.name, a.label, a.features.length]));
    for (const f of a.features) {
      h.update(JSON.stringify([f.id, f.sigmaA.length, f.sigmaB.length, f.sigmaDW.length]));
      for (const arr of [f.sigmaA, f.sigmaB, f.sigmaDW, Float64Array.of(f.normA, f.normB, f.normDW, f.effectiveRank)]) {
        h.update(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
      }
    }
  }
  return h.digest('hex');
}

/** The set's figures, or why there are none. Non-finite figures are not figures: NOT_MEASURABLE. */
export function measureReliability(ref: ReferenceSet, mode: DsireMode, setHash = setContentHash(ref)): ReliabilityOutcome {
  const names = new Set(ref.adapters.map((a) => a.name)).size;
  if (names < MIN_NAMES) {
    return { unavailable: { code: 'TOO_FEW_NAMES', reason: `the reference set "${ref.name}" has ${names} image-set name${names === 1 ? '' : 's'}; measuring the method's error on it needs at least ${MIN_NAMES} (references and held-out names must differ), so no error rate can be stated` } };
  }
  let ev: EvaluationResult;
  try {
    ev = evaluate(ref, { splits: SPLITS, trainNames: trainNamesFor(names), seed: SEED, mode });
  } catch (e) {
    if (e instanceof AuditError && (e.code === 'NOT_APPLICABLE' || e.code === 'BAD_REQUEST')) {
      return { unavailable: { code: 'NOT_MEASURABLE', reason: e.message } };
    }
    throw e;
  }
  const record = recordFrom(ev, setHash);
  const figures = [record.accuracy.mean, record.withinOne, record.mae.mean, record.mape.mean, record.baselineMae,
    ...(record.interval ? [record.interval.coverage.mean, record.interval.meanWidth.mean] : [])];
  if (!figures.every(Number.isFinite)) {
    return { unavailable: { code: 'NOT_MEASURABLE', reason: `the protocol on "${ref.name}" gave figures that are not finite numbers, so none are stated` } };
  }
  return { record };
}

export function recordFrom(ev: EvaluationResult, setHash: string): ReliabilityRecord {
  const { sizes, counts } = ev.confusion;
  let total = 0;
  let near = 0;
  const perSize = sizes.map((size, i) => {
    const row = counts[i];
    const n = row.reduce((a, b) => a + b, 0);
    total += n;
    for (let j = Math.max(0, i - 1); j <= Math.min(sizes.length - 1, i + 1); j++) near += row[j];
    return { size, accuracy: n > 0 ? row[i] / n : null, queries: n };
  });
  return {
    referenceSet: ev.referenceSet,
    setHash,
    methodVersion: DSIRE_VERSION,
    methodKey: methodKey(),
    mode: ev.mode,
    parameters: {
      splits: ev.parameters.splits, trainNames: ev.parameters.trainNames, heldOutNames: ev.names - ev.parameters.trainNames,
      seed: ev.parameters.seed, prng: ev.parameters.prng, rule: HELD_OUT_RULE,
    },
    names: ev.names,
    sizes,
    queries: total,
    accuracy: ev.accuracy,
    withinOne: total > 0 ? near / total : Number.NaN,
    mae: ev.mae,
    mape: ev.mape,
    perSize,
    confusion: ev.confusion,
    interval: ev.interval,
    baselineMae: medianGuessMae(sizes, perSize.map((p) => p.queries)),
    elapsedMs: ev.elapsedMs,
    measuredAt: new Date().toISOString(),
  };
}

/** MAE of always answering the median of the true sizes (the constant with the smallest MAE). */
function medianGuessMae(sizes: number[], counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  let seen = 0;
  let median = sizes[0];
  for (let i = 0; i < sizes.length; i++) {
    seen += counts[i];
    if (2 * seen >= total) { median = sizes[i]; break; }
  }
  return sizes.reduce((a, s, i) => a + counts[i] * Math.abs(s - median), 0) / total;
}

export function summaryOf(r: ReliabilityRecord): ReliabilitySummary {
  return {
    accuracy: r.accuracy.mean, withinOne: r.withinOne, mae: r.mae.mean, mape: r.mape.mean,
    intervalCoverage: r.interval ? r.interval.coverage.mean : null, intervalWidth: r.interval ? r.interval.meanWidth.mean : null,
    baselineMae: r.baselineMae,
    splits: r.parameters.splits, trainNames: r.parameters.trainNames, names: r.names, seed: r.parameters.seed,
    methodVersion: r.methodVersion, mode: r.mode, setHash: r.setHash, queries: r.queries,
    perSize: r.perSize, confusion: r.confusion,
  };
}
