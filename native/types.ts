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
  compute(modules: ModuleWeights[]): Promise<ModuleFeatures[]>;
  /** Many adapters at once, so a GPU sees large batches. */
  computeBatch(adapters: ModuleWeights[][]): Promise<ModuleFeatures[][]>;
  dispose(): void;
}

/** One module's factors in memory: what the features engine consumes (read from a file or a parquet row by the layers above). */
export interface ModuleWeights {
  id: string;
  rank: number;
  inFeatures: number;
  outFeatures: number;
  scale: number;
  a: Float32Array | Float64Array;   // rank × inFeatures, row-major
  b: Float32Array | Float64Array;   // outFeatures × rank, row-major
}
