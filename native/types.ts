// What the compute layer returns per module. Float64Arrays so the database and the classifier see
// full precision regardless of the backend that produced the Gram matrices.

export interface ModuleFeatures {
  id: string;
  rank: number;
  sigmaA: Float64Array;   // r singular values of A, descending
  sigmaB: Float64Array;   // r singular values of B, descending
  sigmaDW: Float64Array;  // r singular values of scale·B·A, descending
  normA: number;          // Frobenius norms
  normB: number;
  normDW: number;
  effectiveRank: number;  // exp(entropy of normalised σ(ΔW)), Roy & Vetterli
}

export type BackendName = 'reference' | 'cpu' | 'webgpu' | 'headlessgl' | 'webgl2' | 'webasm' | 'gpujs-cpu';

export interface BackendInfo {
  name: BackendName;
  /** Why this backend is active, e.g. 'fastest of 3 that agreed with the float64 reference on the probe'. */
  reason: string;
  /** Backends tried at calibration and why each was kept or dropped. */
  candidates: { name: BackendName; ok: boolean; ms?: number; maxRelError?: number; reason: string }[];
}

export interface AdapterFeatures {
  modules: ModuleFeatures[];  // sorted by id
  backend: BackendName;
}

/** The compute layer's public face (implemented in native/engine.ts). */
export interface FeatureEngine {
  readonly info: BackendInfo;
  /** Features for one adapter's modules, in the order given. */
  compute(modules: import('../main/intake/model.ts').ModuleWeights[]): Promise<ModuleFeatures[]>;
  /** Many adapters at once, so a GPU sees large batches. */
  computeBatch(adapters: import('../main/intake/model.ts').ModuleWeights[][]): Promise<ModuleFeatures[][]>;
  dispose(): void;
}
