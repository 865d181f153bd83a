// A reference study's plan: what `study plan` writes as plan.json in the bundle, and what `study run`,
// `study import` and `study status` read back. Plain JSON data (no typed arrays), so it crosses the CLI's
// --json, IPC and loopback as it is. Paths inside a plan are relative to the bundle folder, with '/'
// separators, so a bundle copied to a cluster means the same thing there.

/** The trainers a plan can be written for. */
export type TrainerKind = 'kohya' | 'diffusers' | 'builtin';

/** The plan.json format tag and version: a reader refuses another. */
export const PLAN_FORMAT = 'lora-auditor-study-plan';
export const PLAN_VERSION = 1;

/**
 * Where a recipe value came from, as a sentence that starts with its kind:
 * - `metadata: ss_learning_rate`: the evidence file's own metadata key (kohya `ss_*`, `modelspec.*`);
 * - `config: lora_alpha`: the PEFT adapter_config.json (beside the file, or embedded in its metadata);
 * - `structure: rank`: read off the tensors themselves (rank, modules, scale, base model family);
 * - `examiner: --base-model`: given on the command line (or in the planner) by the examiner;
 * - `assumed: the trainer's default, because the file states no learning rate`: nothing stated it.
 */
export type SourceKind = 'metadata' | 'config' | 'structure' | 'examiner' | 'assumed';

export interface RecipeField<T> {
  /** null only where nothing states it and no default exists (then the field is also in `assumed`). */
  value: T | null;
  /** `<kind>: <detail>`; see SourceKind. */
  source: string;
}

/**
 * The evidence's training recipe, field by field. The fields that change the spectra (rank, alpha,
 * learning rate, steps, optimizer, scheduler, batch size, modules, base model) are the ones an
 * "assumed" source must be shown loudly for.
 */
export interface Recipe {
  /** The tool that produced the evidence, as its format tells: 'kohya', 'diffusers', 'peft', …. */
  tool: RecipeField<string>;
  /** The file family intake recognised (main/intake/model.ts Family). */
  family: RecipeField<string>;
  /** The adaptation method: 'lora', 'dora', 'locon', …. */
  method: RecipeField<string>;
  /** Base model family from the structure: 'sd1', 'sdxl', …, or 'unknown'. */
  baseModelFamily: RecipeField<string>;
  /** The base checkpoint the trainer loads (path or hub id). */
  baseModel: RecipeField<string>;
  /** The base model hash the evidence states (kohya ss_new_sd_model_hash / ss_sd_model_hash). */
  baseModelHash: RecipeField<string>;
  rank: RecipeField<number>;
  alpha: RecipeField<number>;
  /** ΔW = scale·B·A: 'alpha/r', 'alpha/sqrt(r)' or 'one'. */
  scaleRule: RecipeField<string>;
  /** Adapted module names, short (`to_q`, `to_k`, `to_v`, `to_out.0`, …). */
  targetModules: RecipeField<string[]>;
  /** Which networks were adapted: the UNet only, or the text encoder(s) too. */
  trainTextEncoder: RecipeField<boolean>;
  learningRate: RecipeField<number>;
  maxTrainSteps: RecipeField<number>;
  /** kohya's --optimizer_type: one of its names (AdamW, AdamW8bit, Lion, AdaFactor, …) or a class path. */
  optimizer: RecipeField<string>;
  /** The optimizer's `key=value` arguments, where the evidence states them (kohya ss_optimizer's parentheses). */
  optimizerArgs?: RecipeField<string[]>;
  lrScheduler: RecipeField<string>;
  lrWarmupSteps: RecipeField<number>;
  /** Square training resolution in pixels. */
  resolution: RecipeField<number>;
  batchSize: RecipeField<number>;
  /** kohya: how many times each image is repeated per epoch (the dataset folder's `<n>_` prefix). */
  repeats: RecipeField<number>;
  mixedPrecision: RecipeField<string>;
  /** The evidence's own training seed (each run gets its own seed, see PlanRun.seed). */
  seed: RecipeField<number>;
  /** The prompt each image is trained with; `{subject}` is replaced by the run's subject. */
  instancePrompt: RecipeField<string>;
}

export type RecipeKey = keyof Recipe;

/** A recipe field nothing stated: listed loudly in the plan, the README and the report. */
export interface Assumption {
  field: RecipeKey;
  value: string | number | boolean | string[] | null;
  /** Why this value: the sentence after `assumed: ` in the field's source. */
  reason: string;
  /** True where the value changes the adapter's spectra (learning rate, steps, optimizer, …). */
  affectsSpectra: boolean;
}

export interface PlanImage {
  /** The image as the run trains on it, relative to the bundle. */
  path: string;
  sha256: string;
  /** Where it was taken from: the path under --images (relative to it), or `builtin:<subject>/<index>`. */
  source: string;
  /** For --images builtin: how to regenerate it exactly (main/generator/images.ts conceptImage). */
  generated?: { seed: number; subject: string; index: number };
}

export interface PlanRun {
  /** Stable and unique in the plan: `<subject>-n<size>` (folder-safe). */
  runId: string;
  /** The subject (one concept: a sub-folder of --images, or a built-in concept name). */
  subject: string;
  /** Number of images: the first `size` of the subject's seeded order (nested: a prefix of larger runs). */
  size: number;
  /** The run's training seed (passed to the trainer as --seed). */
  seed: number;
  images: PlanImage[];
  /** Where the trainer writes the adapter, relative to the bundle: its presence means the run is done. */
  output: string;
  /** The run's folder in the bundle (its trainer input lives there), relative to the bundle. */
  dir: string;
  /**
   * The command that trains it, as argv, run from the bundle folder (paths relative to it). command[0] is
   * the trainer's script inside its checkout (kohya `train_network.py`, diffusers
   * `examples/dreambooth/train_dreambooth_lora.py`, started with `accelerate launch`), or `lora-audit`
   * for the built-in trainer (whose run input is `<dir>/train.json`).
   */
  command: string[];
}

export interface PlanSubject {
  name: string;
  /** All the subject's images in the seeded order; a run of size N uses the first N. */
  order: string[];
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_VERSION;
  /** `study-` + 16 hex of SHA-256 over what fixes the study (evidence, recipe, trainer, runs, images). */
  studyId: string;
  createdAt: string;
  /** The lora-audit version that wrote it. */
  toolVersion: string;
  trainer: TrainerKind;
  evidence: { file: string; sha256: string; size: number; family: string };
  recipe: Recipe;
  assumed: Assumption[];
  /** Where the trainer cannot follow the evidence's recipe exactly (shown in the README and the report). */
  warnings?: string[];
  /** Sizes, ascending, distinct. */
  sizes: number[];
  /** The study's seed: image orders and run seeds follow from it. */
  seed: number;
  /** --images as given: a folder's absolute path, or 'builtin'. */
  images: string;
  subjects: PlanSubject[];
  /** Subject-major, sizes ascending: the SLURM array index is the position here. */
  runs: PlanRun[];
  /** The bundle's other files, relative to it: run-all.sh, slurm.sbatch, README.md, …. */
  files: string[];
}
