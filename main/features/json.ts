// Features as plain JSON: what `lora-audit features --json` prints and what crosses IPC and the
// loopback host. Typed arrays become number lists (descending, as computed).
import type { AdapterFeatures, BackendInfo, ModuleFeatures } from '../../native/types.ts';

export interface ModuleFeaturesJson {
  id: string;
  rank: number;
  sigmaA: number[];
  sigmaB: number[];
  sigmaDW: number[];
  normA: number;
  normB: number;
  normDW: number;
  effectiveRank: number;
}

export interface AdapterFeaturesJson {
  file: string;
  sha256: string;
  backend: string;
  backendReason: string;
  modules: ModuleFeaturesJson[];
}

export function moduleFeaturesToJson(m: ModuleFeatures): ModuleFeaturesJson {
  return {
    id: m.id,
    rank: m.rank,
    sigmaA: Array.from(m.sigmaA),
    sigmaB: Array.from(m.sigmaB),
    sigmaDW: Array.from(m.sigmaDW),
    normA: m.normA,
    normB: m.normB,
    normDW: m.normDW,
    effectiveRank: m.effectiveRank,
  };
}

export function featuresToJson(identity: { file: string; sha256: string }, features: AdapterFeatures, info: BackendInfo): AdapterFeaturesJson {
  return {
    file: identity.file,
    sha256: identity.sha256,
    backend: features.backend,
    backendReason: info.reason,
    modules: features.modules.map(moduleFeaturesToJson),
  };
}

/** JSON writes NaN and ±Inf as null. Read back, null must stay "not a number": Float64Array.from
 *  would make it 0 and a bare null compares as 0, a value the classifier would take as measured. */
const number = (v: number | null): number => (typeof v === 'number' ? v : Number.NaN);

/** Back from JSON (a stored or transmitted result) to the typed form. */
export function moduleFeaturesFromJson(j: ModuleFeaturesJson): ModuleFeatures {
  return {
    ...j,
    sigmaA: Float64Array.from(j.sigmaA, number),
    sigmaB: Float64Array.from(j.sigmaB, number),
    sigmaDW: Float64Array.from(j.sigmaDW, number),
    normA: number(j.normA),
    normB: number(j.normB),
    normDW: number(j.normDW),
    effectiveRank: number(j.effectiveRank),
  };
}
