// What the engine calibrates and runs: one way of turning modules into features. The CPU path, the
// float64 reference and every GPU.js backend implement it; tests inject deliberately wrong ones.
import type { ModuleWeights } from './types.ts';
import type { BackendName, ModuleFeatures } from './types.ts';

export interface ComputeBackend {
  readonly name: BackendName;
  /** Features for many adapters at once (outer array: adapters; inner: their modules, in order). */
  features(adapters: ModuleWeights[][]): Promise<ModuleFeatures[][]>;
  dispose(): Promise<void>;
}

/** A backend the engine may try; `create` throws (AuditError BACKEND_FAILED) with the reason it cannot run here. */
export interface BackendCandidate {
  name: BackendName;
  create(): Promise<ComputeBackend>;
}
