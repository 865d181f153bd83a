// The canonical adapter model: what every family reader (diffusers, PEFT, kohya, lora_diffusion,
// LyCORIS, pickle) produces, and what features, references and reports consume. Plain data plus a
// TensorSource that reads tensor bytes lazily, so a 2 GB file is never held in memory whole.

export type DType =
  | 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

export type Family =
  | 'diffusers-attnproc'   // down_blocks…attn1.processor.to_q_lora.down.weight
  | 'diffusers-lora'       // unet.<module>.to_q.lora.down.weight (LoRA-WiSE's naming)
  | 'diffusers-peft'       // unet.<module>.to_q.lora_A.weight, or un-prefixed PEFT keys from diffusers
  | 'peft'                 // base_model.model.<module>.lora_A.weight + adapter_config.json
  | 'kohya'                // lora_unet_…​.lora_down.weight + .alpha
  | 'lora-diffusion'       // cloneofsimo unet:N:down
  | 'lycoris'              // LoHa / LoKr / LoCon via hada_*, lokr_*
  | 'pytorch-pickle'       // .bin/.pt/.ckpt torch zip
  | 'unknown';

/** The adaptation method; DSiRe compares only like with like. */
export type Method = 'lora' | 'dora' | 'loha' | 'lokr' | 'locon' | 'adalora' | 'vera' | 'ia3' | 'boft' | 'oft'
  | 'fourierft' | 'bone' | 'full-diff' | 'unknown';

export type ScaleRule = 'alpha/r' | 'alpha/sqrt(r)' | 'one';

export type BaseModelHint = 'sd1' | 'sd2' | 'sdxl' | 'sd3' | 'flux' | 'transformer' | 'unknown';

export interface Finding {
  severity: 'info' | 'warning' | 'error';
  code: string;          // stable, e.g. 'NAN_VALUES', 'METADATA_HASH_MISMATCH', 'PICKLE_GLOBAL'
  message: string;       // plain words for the auditor
  tensor?: string;       // the tensor key it concerns, when there is one
}

export interface TensorRef {
  key: string;           // the key as written in the file
  dtype: DType;
  shape: number[];
  /** Absolute byte offset in the file and byte length (for safetensors; other sources may use their own). */
  offset: number;
  length: number;
}

export interface LoraModule {
  /** Canonical id: the diffusers dotted module path with component prefix, e.g.
   *  `unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0`, `text_encoder.…q_proj`;
   *  for PEFT models of other kinds the path under `base_model.model.`. */
  id: string;
  kind: 'linear' | 'conv';
  rank: number;
  /** A is rank × inFeatures (conv: in·kh·kw flattened), B is outFeatures × rank. */
  inFeatures: number;
  outFeatures: number;
  kernel?: [number, number];
  /** ΔW = scale · B · A */
  scale: number;
  scaleRule: ScaleRule;
  alpha?: number;
  dtype: DType;
  a: TensorRef;
  b: TensorRef;
  /** DoRA magnitude vector, when present. */
  magnitude?: TensorRef;
}

export interface OtherTensor {
  key: string;
  dtype: DType;
  shape: number[];
  role: string;          // 'head' | 'embedding' | 'lokr_w1' | 'hada_w1_a' | 'alpha' | 'unknown' …
}

export interface KohyaMetadata {
  networkModule?: string;
  networkDim?: number;
  networkAlpha?: number;
  /** ss_num_train_images: counts repeats. Shown, never taken as the image count. */
  numTrainImagesWithRepeats?: number;
  /** Σ img_count over ss_dataset_dirs: the real number of distinct images. */
  realImageCount?: number;
  datasetDirs?: { dir: string; imgCount: number; repeats: number }[];
  numRegImages?: number;
  learningRate?: string;
  maxTrainSteps?: number;
  seed?: number;
  sdModelName?: string;
  sshsModelHash?: { stated: string; recomputed: string; matches: boolean };
  /** sshs_legacy_hash: first 8 hex of SHA-256 over 64 KiB at 1 MiB of the file as first serialised. */
  sshsLegacyHash?: { stated: string; recomputed: string; matches: boolean };
}

export interface PeftConfigSummary {
  peftType?: string;
  r?: number;
  loraAlpha?: number;
  useRslora?: boolean;
  useDora?: boolean;
  rankPattern?: Record<string, number>;
  alphaPattern?: Record<string, number>;
  targetModules?: string[] | string;
  baseModelNameOrPath?: string;
  /** The base model revision the config pins, and the PEFT version that saved it (shown as disclosure). */
  revision?: string;
  peftVersion?: string;
  initLoraWeights?: string | boolean;
  fanInFanOut?: boolean;
  taskType?: string | null;
  /** Layers saved whole beside the adapter (classifier heads): listed as other tensors. */
  modulesToSave?: string[];
}

export interface AdapterMetadata {
  /** The file's __metadata__ verbatim: untrusted strings, displayed, never evaluated. */
  raw: Record<string, string>;
  kohya?: KohyaMetadata;
  peft?: PeftConfigSummary;
  /** What the file claims about its training set, for the claim-vs-estimate check. */
  claimedTrainingImages?: number;
}

export interface EvidenceIdentity {
  file: string;          // absolute path it was read from
  fileName: string;
  size: number;
  sha256: string;
  /** Files read alongside it (a PEFT adapter_config.json), identified the same way. */
  companions?: { file: string; size: number; sha256: string }[];
}

/** An adapted layer that is not a LoRA-shaped A/B pair (LoKr, LoHa, IA3, VeRA, …): described, not analysed. */
export interface OtherModule {
  id: string;
  method: Method;
  /** The factors' inner dimension where the method has one (LoKr/LoHa: the w*_a columns). */
  rank?: number;
  inFeatures?: number;
  outFeatures?: number;
  tensors: string[];     // the keys that make it up
}

export interface CanonicalAdapter {
  identity: EvidenceIdentity;
  family: Family;
  method: Method;
  baseModel: BaseModelHint;
  /** LoRA-style A/B modules, sorted by id: the input to features and DSiRe. */
  modules: LoraModule[];
  otherTensors: OtherTensor[];
  /** Adapted layers of other methods (LoKr, LoHa, IA3 …), when the adapter has them. */
  otherModules?: OtherModule[];
  dtypes: DType[];
  ranks: number[];       // distinct ranks, ascending
  metadata: AdapterMetadata;
  findings: Finding[];
  source: TensorSource;
  /** The container the tensors came from (the family says how they are named). */
  container?: 'safetensors' | 'torch-zip';
}

/** Reads decoded tensor values on demand. F16/BF16 are upcast to float32; F64 stays float64. */
export interface TensorSource {
  read(ref: TensorRef): Promise<Float32Array | Float64Array>;
  close(): Promise<void>;
}

/** One module's factors in memory: defined by the compute layer that consumes them (native/types.ts). */
export type { ModuleWeights } from '../../native/types.ts';
