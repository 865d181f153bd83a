// Standalone adapter files in the families an auditor meets, written from one trained LoRA: diffusers
// (LoRA-WiSE's own naming), PEFT (adapter_model.safetensors + adapter_config.json) and kohya-ss (with
// `.alpha` and the ss_* metadata that states the real image count). All store A and B in float32 and
// mean ΔW = 1·B·A, so each file's features equal the parquet row's.
import { sha256Hex } from '../common/hashing.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeSafetensors, type TensorToWrite } from '../intake/safetensors-writer.ts';
import { diffusersKey, kohyaKey, peftKey } from '../intake/naming.ts';
import type { ModuleWeights } from '../intake/model.ts';

export type StandaloneFamily = 'diffusers' | 'peft' | 'kohya';

export interface TrainingFacts {
  name: string;
  /** Number of distinct training images. */
  size: number;
  rank: number;
  steps: number;
  learningRate: number;
  seed: number;
  baseModel: string;
}

export interface WrittenFile {
  /** Path relative to the output folder, '/'-separated. */
  file: string;
  sha256: string;
  bytes: number;
}

/** kohya's usual repeats for a small DreamBooth folder; only the metadata mentions it. */
const KOHYA_REPEATS = 10;

function save(outDir: string, rel: string, buf: Buffer): WrittenFile {
  const path = join(outDir, rel);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, buf);
  return { file: rel, sha256: sha256Hex(buf), bytes: buf.length };
}

function tensors(modules: ModuleWeights[], key: (id: string, f: 'A' | 'B') => string): TensorToWrite[] {
  return modules.flatMap((m) => [
    { key: key(m.id, 'A'), dtype: 'F32' as const, shape: [m.rank, m.inFeatures], data: m.a },
    { key: key(m.id, 'B'), dtype: 'F32' as const, shape: [m.outFeatures, m.rank], data: m.b },
  ]);
}

/** One file of a standalone adapter: its path suffix after relBase, and its bytes. */
export interface EncodedFile { suffix: string; bytes: Buffer }

export interface EncodeExtras {
  /** kohya's network_alpha (scale α/r); the rank when absent (scale 1, as the generator trains). */
  alpha?: number;
  /** Extra metadata entries (kohya: added after the ss_* keys; diffusers/PEFT: the file's __metadata__). */
  metadata?: Record<string, string>;
  /** kohya: the dataset folder's repeat count stated in ss_dataset_dirs (10 by default). */
  repeats?: number;
  /** PEFT's init_lora_weights as the config states it ('gaussian' by default). */
  peftInit?: string | boolean;
}

/**
 * One adapter as `family`, in memory: the files and their suffixes (the first is the weights file).
 * For diffusers and PEFT relBase is a folder, for kohya a file stem.
 */
export function encodeStandalone(family: StandaloneFamily, modules: ModuleWeights[], facts: TrainingFacts, extras: EncodeExtras = {}): EncodedFile[] {
  if (family === 'diffusers') {
    return [{ suffix: '/pytorch_lora_weights.safetensors', bytes: encodeSafetensors(tensors(modules, diffusersKey), extras.metadata) }];
  }
  if (family === 'peft') {
    const weights = encodeSafetensors(tensors(modules, peftKey), { format: 'pt', ...extras.metadata });
    const config = {
      peft_type: 'LORA', task_type: null, r: facts.rank, lora_alpha: extras.alpha ?? facts.rank, lora_dropout: 0, bias: 'none',
      target_modules: ['to_q', 'to_k', 'to_v', 'to_out.0'], init_lora_weights: extras.peftInit ?? 'gaussian', use_rslora: false,
      use_dora: false, fan_in_fan_out: false, rank_pattern: {}, alpha_pattern: {}, base_model_name_or_path: facts.baseModel,
      inference_mode: true, revision: null,
    };
    return [
      { suffix: '/adapter_model.safetensors', bytes: weights },
      { suffix: '/adapter_config.json', bytes: Buffer.from(JSON.stringify(config, null, 2) + '\n') },
    ];
  }
  // kohya: alpha = rank (scale α/r = 1, as the generator trains) unless given.
  const alpha = extras.alpha ?? facts.rank;
  const ts = tensors(modules, (id, f) => kohyaKey(id, f));
  for (const m of modules) ts.push({ key: kohyaKey(m.id, 'alpha'), dtype: 'F32', shape: [], data: [alpha] });
  ts.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
  // sshs_model_hash is the SHA-256 of the data buffer, which metadata does not change: hash a
  // metadata-free encoding, then write the real one.
  const bare = encodeSafetensors(ts);
  const dataHash = sha256Hex(bare.subarray(8 + Number(bare.readBigUInt64LE(0))));
  const repeats = extras.repeats ?? KOHYA_REPEATS;
  const folder = `${repeats}_sks ${facts.name}`;
  const metadata: Record<string, string> = {
    ss_network_module: 'networks.lora',
    ss_network_dim: String(facts.rank),
    ss_network_alpha: String(alpha),
    ss_num_train_images: String(facts.size * repeats),
    ss_dataset_dirs: JSON.stringify({ [folder]: { n_repeats: repeats, img_count: facts.size } }),
    ss_num_reg_images: '0',
    ss_learning_rate: String(facts.learningRate),
    ss_max_train_steps: String(facts.steps),
    ss_seed: String(facts.seed),
    ss_sd_model_name: facts.baseModel,
    ss_training_comment: 'LoRA Auditor mini LoRA-WiSE generator',
    ...extras.metadata,
    sshs_model_hash: dataHash,
  };
  return [{ suffix: '.safetensors', bytes: encodeSafetensors(ts, metadata) }];
}

/**
 * Writes one adapter as `family` under `outDir/relBase` and returns the files written (the first is
 * the weights file). relBase is a folder for diffusers and PEFT, a file stem for kohya.
 */
export function writeStandalone(outDir: string, relBase: string, family: StandaloneFamily, modules: ModuleWeights[], facts: TrainingFacts): WrittenFile[] {
  return encodeStandalone(family, modules, facts).map((f) => save(outDir, `${relBase}${f.suffix}`, f.bytes));
}
