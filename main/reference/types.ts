// A reference set as the classifier sees it: adapters of known dataset size with their stored
// features, the configuration every query must match, and where the data came from.
import type { BaseModelHint, Family, Method, ScaleRule } from '../intake/model.ts';
import type { ModuleFeatures } from '../../native/types.ts';

export interface ModuleShape {
  id: string;             // canonical module id
  inFeatures: number;
  outFeatures: number;
}

export interface ReferenceConfig {
  rank: number;
  family: Family;         // the producing tool's family (LoRA-WiSE: 'diffusers-lora')
  method: Method;
  scaleRule: ScaleRule;
  scale: number;          // LoRA-WiSE: 1
  baseModel: BaseModelHint;
  modules: ModuleShape[]; // sorted by id
  sizes: number[];        // distinct labels, ascending
  names: string[];        // distinct image-set names
}

export interface ShardProvenance {
  fileName: string;
  size: number;
  sha256: string;
  rows: number;
  importedAt: string;     // ISO time
}

/**
 * A set built by a reference study (`lora-audit study import`): the plan it followed (its hash, the
 * evidence, the recipe field by field with each value's source), and per imported run the command that
 * trained it and its images' hashes. Coverage says how much of the plan came back.
 */
export interface StudyProvenance {
  studyId: string;
  /** SHA-256 of the bundle's plan.json bytes. */
  planSha256: string;
  trainer: string;
  evidence: { file: string; sha256: string; family: string };
  /** The plan's recipe: field → {value, source}; a source starting `assumed:` was not stated by the evidence. */
  recipe: Record<string, { value: unknown; source: string }>;
  /** The recipe fields the plan assumed. */
  assumed: string[];
  coverage: { planned: number; imported: number; missing: string[]; rejected: string[]; sizes: { size: number; planned: number; imported: number }[] };
  runs: { runId: string; subject: string; size: number; seed: number; output: string; sha256: string; command: string[]; images: { path: string; sha256: string }[] }[];
}

/** One recipe field, the evidence's (derived from the analysed file) beside the study's (as planned and trained). */
export interface RecipeMatchRow {
  field: string;
  evidence: { value: unknown; source: string };
  study: { value: unknown; source: string };
  /** same: equal values; differs: both known and unequal; unknown: one side states nothing. */
  match: 'same' | 'differs' | 'unknown';
  /** Either side's value was assumed, not stated (shown marked). */
  assumed: boolean;
}

/** How the analysed evidence's recipe compares with the study that built the reference set. */
export interface RecipeMatch {
  studyId: string;
  planSha256: string;
  /** The file the study was planned from is the one analysed (same SHA-256). */
  sameEvidence: boolean;
  coverage: { planned: number; imported: number };
  rows: RecipeMatchRow[];
}

export interface ReferenceProvenance {
  source: 'lora-wise-parquet' | 'labelled-folder' | 'generator' | 'pack' | 'study';
  /** For source 'study': the plan and runs the set came from. */
  study?: StudyProvenance;
  importerVersion: string;
  createdAt: string;
  shards: ShardProvenance[];
  notes?: string;
  /** The features engine backend that computed the set's features (engine.info.name), when known. */
  featureBackend?: string;
}

export interface ReferenceAdapter {
  id: number;             // row id in the database
  name: string;           // image-set name (LoRA-WiSE `name`, as a string)
  label: number;          // dataset size (LoRA-WiSE `label`)
  source: string;         // shard file name and row, or adapter file name
  features: ModuleFeatures[];  // sorted by module id, same order as config.modules
}

export interface ReferenceSet {
  id: number;
  name: string;
  config: ReferenceConfig;
  provenance: ReferenceProvenance;
  adapters: ReferenceAdapter[];
}

/** A set without its adapters' features: for lists and reports. */
export interface ReferenceSetSummary {
  id: number;
  name: string;
  config: ReferenceConfig;
  provenance: ReferenceProvenance;
  adapterCount: number;
  complete: boolean;      // false while an import is still running or was interrupted
}
