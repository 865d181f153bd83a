// The data behind the spectra charts (report and UI): per module, the leading singular value of the
// query's update ΔW next to the mean of the same value over the reference adapters of each dataset
// size. Recorded with every applicable analysis (AnalysisResult.spectra).
import type { ModuleFeatures } from '../../native/types.ts';
import type { AnalysisResult, FeatureKind } from './types.ts';
import type { ReferenceSet } from '../reference/types.ts';

export type Spectra = NonNullable<AnalysisResult['spectra']>;

const LABEL: Record<FeatureKind, string> = { sigmaA: 'σ₁(A)', sigmaB: 'σ₁(B)', sigmaDW: 'σ₁(ΔW)' };

/** Pure: the chart's series from the reference set's stored features and the query's features.
 *  Modules are the reference set's, in its order, that the query also has. */
export function spectraFromFeatures(ref: ReferenceSet, query: ModuleFeatures[], feature: FeatureKind = 'sigmaDW'): Spectra {
  const byId = new Map(query.map((m) => [m.id, m]));
  const columns = ref.config.modules.map((m, index) => ({ id: m.id, index })).filter((c) => byId.has(c.id));
  const lead = (f: ModuleFeatures | undefined) => (f && f[feature].length > 0 ? f[feature][0] : Number.NaN);
  const bySize = ref.config.sizes.map((size) => {
    const adapters = ref.adapters.filter((a) => a.label === size);
    const mean = columns.map(({ id, index }) => {
      const values = adapters.map((a) => lead(a.features[index]?.id === id ? a.features[index] : a.features.find((f) => f.id === id)))
        .filter((v) => Number.isFinite(v));
      return values.length ? values.reduce((s, v) => s + v, 0) / values.length : Number.NaN;
    });
    return { size, mean };
  }).filter((s) => s.mean.some((v) => Number.isFinite(v)));
  return { statistic: LABEL[feature], modules: columns.map((c) => c.id), query: columns.map((c) => lead(byId.get(c.id))), bySize };
}

