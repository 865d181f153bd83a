// What an analysis returns. Stored whole (JSON) with the case's analysis row and rendered by reports
// and the UI; keys are a contract with the CLI's --json output (see issue: analyze).
import type { BaseModelHint, Family, Method, ScaleRule } from '../intake/model.ts';
import type { ModuleShape, RecipeMatch } from '../reference/types.ts';

import type { ReliabilitySummary, ReliabilityUnavailable } from './reliability.ts';

export type DsireMode = 'faithful' | 'best';

export type OpinionGrade = 'strong' | 'moderate' | 'limited' | 'none';
export interface Opinion { grade: OpinionGrade; because: string[] }
export type FeatureKind = 'sigmaA' | 'sigmaB' | 'sigmaDW';

/** What applicability is checked on: the query adapter's structure. */
export interface AdapterDescriptor {
  family: Family;
  method: Method;
  scaleRule: ScaleRule;
  scale: number;
  baseModel: BaseModelHint;
  ranks: number[];
  modules: ModuleShape[];
  /** Distinct update scales over the modules (added by issue 5): more than one means per-module alphas. */
  scales?: number[];
  /** The training tool as the file's evidence shows it (issue 18); absent: judged by the family alone. */
  tool?: ToolEvidence;
}

/** An examiner's decision to compare despite soft refusal reasons, kept with the result and audited. */
export interface Override { justification: string; reasonsOverridden: string[] }

/** How a refusal may be treated (issue 18). *soft*: a judgement call an examiner may override on the record
 *  (the training tool differs or is uncertain; the base model is unknown on one side). *hard*: the numbers
 *  cannot be compared at all (method, rank, module set or shapes, scale, non-finite values). */
export type RefusalKind = 'soft' | 'hard';

/** One refusal reason: a stable code, its kind, and the sentence also listed in `reasons`. */
export interface Refusal { code: RefusalCode; kind: RefusalKind; text: string }

export type RefusalCode =
  | 'TOOL' | 'BASE_MODEL_UNKNOWN'                                   // soft
  | 'METHOD' | 'BASE_MODEL' | 'RANK' | 'SCALE' | 'MODULES_MISSING' | 'MODULES_EXTRA' | 'MODULE_SHAPES'
  | 'NON_FINITE' | 'FEATURES';                                      // hard

/** Which tool trained the adapter, and on what evidence (issue 18: evidence, not layout alone). */
export interface ToolEvidence {
  /** The tool, in the words the reasons use (e.g. "kohya's sd-scripts"). */
  tool: string;
  /** 'metadata': the file's training metadata or config names the tool; 'layout': only its key layout does. */
  basis: 'metadata' | 'layout';
  /** What was seen, e.g. "ss_* training metadata (ss_network_module networks.lora)". */
  evidence: string;
}

export interface Vote { size: number; count: number }

export interface ModulePrediction {
  id: string;             // canonical module id
  feature: FeatureKind;
  predicted: number;      // the size its 1-NN names
  distance: number;       // to that neighbour (after normalisation)
  neighbour: string;      // reference adapter name
}

export interface Neighbour { name: string; size: number; distance: number; source: string }

/** The split-conformal interval (issue 18: always stated, with bounds or a reason). */
export interface IntervalBounds {
  low: number;
  high: number;
  nominal: number;        // the level it was calibrated for, e.g. 0.9
  /** Measured: the share of held-out reference adapters whose true size fell inside, on this set
   *  (the cached reliability); null where the set could not be measured (too few names). */
  coverage: number | null;
  method: string;         // e.g. 'split-conformal, leave-one-name-out on the reference set'
}

/** Why no interval is stated (refused, faithful mode, …). */
export interface IntervalReason { reason: string }

export type Interval = IntervalBounds | IntervalReason;

/** Analyses recorded before issue 18 stored `{low, high, coverage (the nominal level), method}` or null. */
export interface LegacyInterval { low: number; high: number; coverage: number; method: string }

export interface AnalysisResult {
  file: string;
  sha256: string;
  referenceSet: string;
  mode: DsireMode;
  applicable: boolean;
  reasons: string[];      // why not applicable (empty when applicable)
  /** The same reasons, each with a code and its kind (soft: may be overridden; hard: never). Issue 18. */
  refusals?: Refusal[];
  estimate: number | null;
  votes: Vote[];          // histogram over reference sizes
  /** Always present on new results; old rows may hold a LegacyInterval or null (read them with readInterval). */
  interval: Interval;
  nearest: Neighbour[];   // nearest reference adapters overall
  perModule: ModulePrediction[];
  /** Between-sizes estimate (regression on log-size), shown next to the classifier, never instead. */
  regression: { estimate: number; method: string } | null;
  outOfDistribution: { flagged: boolean; score: number; threshold: number; explanation: string } | null;
  metadataClaim: { claimed: number; source: string; withinInterval: boolean | null; agrees: boolean | null } | null;
  warnings: string[];
  method: { name: 'DSiRe'; version: string; parameters: Record<string, unknown> };
  backend: string;        // compute backend that produced the query's features
  createdAt: string;
  /** Set when the examiner compared despite soft refusal reasons (issue 18): their justification and the
   *  reasons it overrode, as printed. Absent or null on an ordinary analysis. */
  override?: Override | null;
  /** The method's measured error on this reference set (issue 18; main/dsire/reliability.ts), or null
   *  with `reliabilityUnavailable` saying why. Absent on analyses recorded before it. */
  reliability?: ReliabilitySummary | null;
  reliabilityUnavailable?: ReliabilityUnavailable | null;
  /** How far the estimate can be relied on (docs/OPINION.md, main/dsire/opinion.ts). Absent on older analyses. */
  opinion?: Opinion;
  /** Optional, for the report's spectra chart (issue 8): per module, a statistic of the query's
   *  spectrum (e.g. σ₁(ΔW)) next to the mean of the same statistic over each reference size's
   *  adapters. The classifier has both at hand; results without it get a report without the chart. */
  spectra?: { statistic: string; modules: string[]; query: number[]; bySize: { size: number; mean: number[] }[] };
  /** Against a reference set built by a study (issue 19): the evidence's recipe beside the study's, field
   *  by field, assumptions marked. Absent for other sets. */
  recipeMatch?: RecipeMatch;
}

// ---- Added by the size-recovery module (issue 5): evaluation and feature variants. ----

/** A way of turning the per-classifier neighbours into votes. `faithful` in the paper's sense is
 *  { features: 'all', k: 1, weighting: 'none' }. */
export interface Variant {
  name: string;                                   // e.g. 'σ(A)+σ(B)+σ(ΔW), 1-NN'
  features: 'all' | 'sigmaDW' | 'norms';          // which classifiers vote
  k: number;                                      // neighbours per classifier
  weighting: 'none' | 'inverse-distance';
  /** How much each classifier's vote counts (absent: one vote each, every classifier of `features`).
   *  Both parts come from each classifier's held-out accuracy on the reference names (leave-one-name-out
   *  inside the references, never the query): `weight` 'held-out-accuracy' multiplies its votes by it,
   *  `top` keeps only that fraction of the classifiers, the most accurate (variants.ts, issue 18). */
  classifiers?: { weight: 'equal' | 'held-out-accuracy'; top: number };
}

export interface MeanStd { mean: number; std: number }

export interface Scores { accuracy: MeanStd; mae: MeanStd; mape: MeanStd }

export interface SplitResult {
  index: number;
  referenceNames: string[];    // the names whose adapters were the references
  queries: number;             // held-out adapters classified
  accuracy: number;            // 0–1
  mae: number;                 // in samples
  mape: number;                // percent
  variant: string;             // the variant that produced these predictions (best mode may pick per split)
  coverage?: number;           // best mode: share of queries whose size fell inside the interval
  intervalWidth?: number;      // best mode: mean number of reference sizes inside the interval
}

export interface EvaluationResult {
  referenceSet: string;
  mode: DsireMode;
  parameters: { splits: number; trainNames: number; seed: number; prng: string; stdKind: string };
  sizes: number[];
  names: number;               // distinct names in the set
  accuracy: MeanStd;
  mae: MeanStd;
  mape: MeanStd;
  splits: SplitResult[];
  /** Rows: true size, columns: predicted size, summed over splits (same order as `sizes`). */
  confusion: { sizes: number[]; counts: number[][] };
  /** Accuracy of each single classifier (one module, one feature) over all splits, faithful 1-NN. */
  perLayer: { id: string; feature: FeatureKind; accuracy: number }[];
  ablations: {
    /** The same splits with other feature sets and neighbour rules. */
    variants: ({ variant: Variant } & Scores)[];
    /** Faithful 1-NN with only the first n reference names of each split (n references per size). */
    referencesPerSize: ({ perSize: number } & Scores)[];
    /** Ridge regression of log size (between-sizes estimate), on the same splits. */
    regression: Scores;
  };
  /** best mode: what it chose per split, and how it compares with faithful on the same splits. */
  comparison: { faithful: Scores; best: Scores; chosen: Record<string, number> } | null;
  /** best mode: conformal interval measured on the held-out names. */
  interval: { nominal: number; coverage: MeanStd; meanWidth: MeanStd; method: string } | null;
  elapsedMs: number;
}
