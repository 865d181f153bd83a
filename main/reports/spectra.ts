// The data behind the report's spectra chart: per module, the leading singular value of the adapter's
// update ΔW next to the mean of the same value over the reference adapters of each dataset size. The
// analysis may carry it (AnalysisResult.spectra); when it does not, the report recomputes it from the
// stored evidence copy and the reference set, if both are still there.
import type { FeatureEngine } from '../../native/types.ts';
import type { ReferenceSet } from '../reference/types.ts';
import { spectraFromFeatures, type Spectra } from '../dsire/spectra.ts';

export { spectraFromFeatures, type Spectra };

/** Recomputes the query side from the stored evidence copy. Returns null (and the report says the
 *  spectra were not recorded) when the copy no longer has the recorded SHA-256 or cannot be read:
 *  a chart must never be drawn from bytes other than the evidence. */
export async function evidenceSpectra(storedPath: string, sha256: string, ref: ReferenceSet, engine: FeatureEngine): Promise<Spectra | null> {
  const { featuresOfFile } = await import('../analysis/analyze-file.ts');
  let features;
  try {
    features = await featuresOfFile(storedPath, engine, { expectedSha256: sha256 });
  } catch {
    return null;
  }
  const spectra = spectraFromFeatures(ref, features.modules);
  return spectra.modules.length > 0 ? spectra : null;
}
