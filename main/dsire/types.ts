// What an analysis returns. Stored whole (JSON) with the case's analysis row and rendered by reports
// and the UI; keys are a contract with the CLI's --json output (see issue: analyze).
import type { BaseModelHint, Family, Method, ScaleRule } from '../intake/model.ts';
import type { ModuleShape } from '../reference/types.ts';

export type DsireMode = 'faithful' | 'best';
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

export interface Interval {
  low: number;
  high: number;
  coverage: number;       // nominal, e.g. 0.9
  method: string;         // e.g. 'split-conformal, leave-one-name-out on the reference set'
}

export interface AnalysisResult {
  file: string;
  sha256: string;
  referenceSet: string;
  mode: DsireMode;
  applicable: boolean;
  reasons: string[];      // why not applicable (empty when applicable)
  estimate: number | null;
  votes: Vote[];          // histogram over reference sizes
  interval: Interval | null;
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
  /** Optional, for the report's spectra chart (issue 8): per module, a statistic of the query's
   *  spectrum (e.g. σ₁(ΔW)) next to the mean of the same statistic over each reference size's
   *  adapters. The classifier has both at hand; results without it get a report without the chart. */
  spectra?: { statistic: string; modules: string[]; query: number[]; bySize: { size: number; mean: number[] }[] };
}
