// One query adapter against one reference set: applicability first (a refusal carries reasons, never
// a number), then the classifier, then everything that says how far to trust it.
import { AuditError } from '../errors.ts';
import type { ModuleFeatures } from '../../native/types.ts';
import type { ReferenceSet } from '../reference/types.ts';
import { checkApplicability, hardRefusals, overridable, refusal } from './applicability.ts';
import { prepareReference } from './calibration.ts';
import { classify, nearestAdapters, perModule, searchQuery } from './classifier.ts';
import { intervalFor, NO_INTERVAL } from './conformal.ts';
import { derivedValueReasons, queryValueReasons, referenceValueReasons } from './finite.ts';
import { outOfDistribution } from './ood.ts';
import { predictRidge, queryRow, REGRESSION_METHOD } from './regression.ts';
import { spectraFromFeatures } from './spectra.ts';
import { queryBlocks } from './table.ts';
import { DW_ONLY, logCentre, MAX_K } from './variants.ts';
import type { AdapterDescriptor, AnalysisResult, DsireMode, IntervalBounds, Override, Refusal } from './types.ts';

export const DSIRE_VERSION = '1.0.0';
export const TIE_BREAK = 'most votes; then the smallest summed distance of the neighbours that voted for each tied size; then the smaller size';

export interface AnalysisQuery {
  file: string;
  sha256: string;
  descriptor: AdapterDescriptor;
  features: ModuleFeatures[];
  backend: string;
  claimedTrainingImages?: number;
  /** Where the claim comes from, e.g. "kohya ss_dataset_dirs (sum of img_count)". */
  claimSource?: string;
}

function empty(query: AnalysisQuery, ref: ReferenceSet, mode: DsireMode, refusals: Refusal[]): AnalysisResult {
  return {
    file: query.file, sha256: query.sha256, referenceSet: ref.name, mode,
    applicable: false, reasons: refusals.map((r) => r.text), refusals, estimate: null, votes: [], interval: { reason: NO_INTERVAL.refused }, nearest: [], perModule: [],
    regression: null, outOfDistribution: null,
    metadataClaim: query.claimedTrainingImages !== undefined
      ? { claimed: query.claimedTrainingImages, source: query.claimSource ?? 'adapter metadata', withinInterval: null, agrees: null }
      : null,
    warnings: [],
    method: { name: 'DSiRe', version: DSIRE_VERSION, parameters: { mode } },
    backend: query.backend,
    createdAt: new Date().toISOString(),
  };
}

export interface AnalyzeOptions {
  mode: DsireMode;
  /** The examiner compares despite refusals (issue 18): honoured only when every refusal is soft; the
   *  result then carries the justification and the reasons it overrode. Hard refusals still refuse. */
  override?: { justification: string };
}

export function analyze(query: AnalysisQuery, ref: ReferenceSet, opts: AnalyzeOptions): AnalysisResult {
  const mode = opts.mode;
  if (ref.adapters.length === 0) throw new AuditError('EMPTY_REFERENCE', `reference set "${ref.name}" holds no adapters`);
  const applicability = checkApplicability(query.descriptor, ref.config);
  let override: Override | null = null;
  if (!applicability.applicable) {
    if (!opts.override || !overridable(applicability.refusals).allowed) return empty(query, ref, mode, applicability.refusals);
    override = { justification: opts.override.justification, reasonsOverridden: applicability.reasons };
  }
  // Every host (CLI analyze, case analyze, the app's services) passes through here: a number that is
  // not a number is refused here, once, for all of them.
  const valueReasons = [...queryValueReasons(query.features), ...referenceValueReasons(ref)];
  if (valueReasons.length > 0) return empty(query, ref, mode, hardRefusals('NON_FINITE', valueReasons));

  const model = prepareReference(ref, mode);
  const { table } = model;
  let blocks: Float64Array[];
  try {
    blocks = queryBlocks(table, query.features);
  } catch (e) {
    if (e instanceof AuditError && e.code === 'NOT_APPLICABLE') return empty(query, ref, mode, [refusal('FEATURES', `The features do not match the reference set: ${e.message}.`)]);
    throw e;
  }
  const found = searchQuery(table, blocks, MAX_K);
  const ood = table.names.length >= 2 ? outOfDistribution(table, model.spread, found.nb) : null;
  const regressionValue = model.regression ? predictRidge(model.regression, queryRow(table, blocks)) : null;
  const derived = derivedValueReasons(table, found, [
    { label: 'the distribution score', value: ood?.score }, { label: 'the regression estimate', value: regressionValue },
  ]);
  if (derived.length > 0) return empty(query, ref, mode, hardRefusals('NON_FINITE', derived));

  const result = classify(table, found, model.variant, model.accuracy);
  const estimate = result.estimate;
  const warnings: string[] = [];
  const sizes = table.sizes;

  const totalVotes = result.votes.reduce((a, v) => a + v.count, 0);
  const winner = result.votes.find((v) => v.size === estimate)!;
  if (totalVotes > 0 && !(winner.count / totalVotes >= 0.5)) {
    warnings.push(`Weak majority: only ${(100 * winner.count / totalVotes).toFixed(0)} % of the classifiers' votes name ${estimate}; the evidence is spread over several sizes.`);
  }

  if (ood?.flagged) warnings.push(`Out of distribution: ${ood.explanation}`);

  if (model.variant.features !== 'sigmaDW') {
    const dw = classify(table, found, DW_ONLY);
    if (dw.estimate !== estimate) {
      warnings.push(`The σ(ΔW) classifiers alone name ${dw.estimate}, the vote over σ(A), σ(B) and σ(ΔW) names ${estimate}. σ(A) and σ(B) change when A and B are rescaled against each other without changing the update; σ(ΔW) does not.`);
    }
  }

  let interval: IntervalBounds | null = null;
  if (model.conformal) {
    interval = intervalFor(logCentre(result.voteArray, sizes), model.conformal.q, sizes, estimate, model.conformal.coverage);
    if (!Number.isFinite(model.conformal.q)) {
      warnings.push(`The reference set has too few adapters (${model.conformal.n}) to calibrate a ${Math.round(model.conformal.coverage * 100)} % interval (at least ${Math.ceil(model.conformal.coverage / (1 - model.conformal.coverage))} are needed), so the interval spans every reference size.`);
    }
  }

  let regression: AnalysisResult['regression'] = null;
  if (model.regression && regressionValue !== null) {
    const value = regressionValue;
    regression = { estimate: value, method: REGRESSION_METHOD };
    const [lo, hi] = model.regression.range;
    if (!(value >= lo * 0.8 && value <= hi * 1.25)) {
      warnings.push(`The regression estimate (${value.toPrecision(3)}) lies outside the reference sizes ${lo}–${hi}: a classifier can only name sizes it has references for, so the true size may be beyond them.`);
    }
  }
  if (estimate === sizes[sizes.length - 1] && sizes.length > 1) {
    warnings.push(`The estimate is the largest reference size (${estimate}): the true size may be larger, the classifier cannot name sizes beyond its references.`);
  }

  let metadataClaim: AnalysisResult['metadataClaim'] = null;
  if (query.claimedTrainingImages !== undefined) {
    const claimed = query.claimedTrainingImages;
    const withinInterval = interval ? claimed >= interval.low && claimed <= interval.high : null;
    const agrees = withinInterval ?? claimed === estimate;
    metadataClaim = { claimed, source: query.claimSource ?? 'adapter metadata', withinInterval, agrees };
    if (!agrees) {
      warnings.push(interval
        ? `The file claims ${claimed} training images; the weights suggest ${interval.low}–${interval.high} (${(interval.nominal * 100).toFixed(0)} % interval, estimate ${estimate}). Metadata is a claim, the weights are evidence.`
        : `The file claims ${claimed} training images; the weights suggest ${estimate}. Metadata is a claim, the weights are evidence.`);
    }
  }

  return {
    file: query.file,
    sha256: query.sha256,
    referenceSet: ref.name,
    mode,
    applicable: true,
    reasons: [],
    refusals: [],
    ...(override ? { override } : {}),
    estimate,
    votes: result.votes,
    interval: interval ?? { reason: mode === 'faithful' ? NO_INTERVAL.faithful : NO_INTERVAL.oneName },
    nearest: nearestAdapters(table, found),
    perModule: perModule(table, found),
    regression,
    outOfDistribution: ood,
    metadataClaim,
    warnings,
    spectra: spectraFromFeatures(ref, query.features),
    method: {
      name: 'DSiRe',
      version: DSIRE_VERSION,
      parameters: {
        mode,
        variant: model.variant,
        classifiers: table.blocks.length,
        distance: 'L2 on globally min–max normalised features',
        normalisation: { min: table.min, max: table.min + table.range },
        tieBreak: TIE_BREAK,
        references: table.n,
        names: table.names.length,
        sizes,
        leaveOneNameOut: model.candidates.map((c) => ({ variant: c.variant.name, accuracy: c.accuracy, mae: c.mae })),
        ...(model.conformal ? { conformalQuantile: model.conformal.q, calibrationAdapters: model.conformal.n } : {}),
        ...(model.regression ? { ridgeLambda: model.regression.lambda, ridgeLooRmseLog: model.regression.looRmse } : {}),
      },
    },
    backend: query.backend,
    createdAt: new Date().toISOString(),
  };
}
