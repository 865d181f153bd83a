// The built-in base model on disk: the pre-trained mini SD-shaped denoiser the demo's adapters were
// fine-tuned from, shipped in assets/base-model/ so a reference study (`study run`, built-in trainer)
// fine-tunes exactly that base. One safetensors file: every parameter of paramSpecs() in order, the
// frozen token table, and __metadata__ with the config, seed and pre-training recipe; its SHA-256 is
// recorded beside it in manifest.json and checked on every load.
import { readFileSync, renameSync, writeFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { sha256File, sha256Hex } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import { SafetensorsSource, readSafetensorsHeader } from '../intake/safetensors.ts';
import { encodeSafetensors, type TensorToWrite } from '../intake/safetensors-writer.ts';
import type { BaseModel, PretrainRecipe } from './training.ts';
import { VOCAB, paramSpecs, type ModelConfig } from './unet.ts';

export const BASE_MODEL_DIR = 'base-model';
export const BASE_MODEL_FILE = 'mini-sd-unet.safetensors';
export const BASE_MANIFEST_FILE = 'manifest.json';
export const BASE_FORMAT = 'lora-auditor-mini-sd-unet';
const TOKENS_KEY = '__tokens__';
/** The shipped file is ~0.3 MB; anything far larger is not this model. */
const MAX_BASE_BYTES = 64 * 1024 * 1024;

export interface BaseModelManifest {
  format: typeof BASE_FORMAT;
  version: 1;
  /** The weights file, relative to the manifest. */
  file: string;
  sha256: string;
  bytes: number;
  baseModel: string;
  config: ModelConfig;
  /** The generator's base seed and the seed pre-training drew from (seedOf(seed, 'pretrain')). */
  seed: number;
  pretrainSeed: number;
  pretrain: PretrainRecipe;
  pretrainLoss: { first: number; last: number };
}

/** The safetensors bytes of a base model (deterministic: same model, same bytes). */
export function encodeBaseModel(base: BaseModel, meta: { baseModel: string; seed: number; pretrainSeed: number; pretrain: PretrainRecipe }): Buffer {
  const tensors: TensorToWrite[] = paramSpecs(base.config).map((s) => {
    const data = base.params.get(s.name);
    if (!data) throw new Error(`base model lacks parameter ${s.name}`);
    return { key: s.name, dtype: 'F32' as const, shape: s.shape, data };
  });
  tensors.push({ key: TOKENS_KEY, dtype: 'F32', shape: [VOCAB.length, base.config.contextWidth], data: base.tokens });
  return encodeSafetensors(tensors, {
    format: BASE_FORMAT,
    base_model: meta.baseModel,
    config: JSON.stringify(base.config),
    seed: String(meta.seed),
    pretrain_seed: String(meta.pretrainSeed),
    pretrain: JSON.stringify(meta.pretrain),
    pretrain_loss: JSON.stringify(base.loss),
  });
}

/** Writes the weights and their manifest into `dir` (temp + rename: never a half-written file). */
export function saveBaseModel(dir: string, base: BaseModel, meta: { baseModel: string; seed: number; pretrainSeed: number; pretrain: PretrainRecipe }): BaseModelManifest {
  mkdirSync(dir, { recursive: true });
  const bytes = encodeBaseModel(base, meta);
  const manifest: BaseModelManifest = {
    format: BASE_FORMAT, version: 1, file: BASE_MODEL_FILE, sha256: sha256Hex(bytes), bytes: bytes.length,
    baseModel: meta.baseModel, config: base.config, seed: meta.seed, pretrainSeed: meta.pretrainSeed,
    pretrain: meta.pretrain, pretrainLoss: base.loss,
  };
  writeAtomic(join(dir, BASE_MODEL_FILE), bytes);
  writeAtomic(join(dir, BASE_MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
  return manifest;
}

function writeAtomic(path: string, bytes: Buffer): void {
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.partial`);
  try {
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

export function readBaseManifest(dir: string): BaseModelManifest {
  const path = join(dir, BASE_MANIFEST_FILE);
  const m = JSON.parse(readFileSync(path, 'utf8')) as BaseModelManifest;
  if (m.format !== BASE_FORMAT || m.version !== 1 || m.file !== BASE_MODEL_FILE || !/^[0-9a-f]{64}$/.test(m.sha256)) {
    throw new AuditError('BAD_CONFIG', 'not a LoRA Auditor base-model manifest', path);
  }
  return m;
}

/**
 * Loads the base model from `dir` (assets/base-model): the file must hash to the manifest's SHA-256,
 * and hold every parameter of the manifest's config with its exact shape, in float32.
 */
export async function loadBaseModel(dir: string): Promise<{ base: BaseModel; manifest: BaseModelManifest }> {
  const manifest = readBaseManifest(dir);
  const path = join(dir, manifest.file);
  const { sha256, size } = await sha256File(path);
  if (size > MAX_BASE_BYTES) throw new AuditError('LIMIT_EXCEEDED', `the base model is ${size} bytes, more than ${MAX_BASE_BYTES}`, path);
  if (sha256 !== manifest.sha256) {
    throw new AuditError('HASH_MISMATCH', `the base model hashes to ${sha256}, its manifest says ${manifest.sha256}: it is not the shipped model`, path);
  }
  const header = await readSafetensorsHeader(path);
  const byKey = new Map(header.tensors.map((t) => [t.key, t]));
  const source = new SafetensorsSource(path);
  try {
    const params = new Map<string, Float32Array>();
    const read = async (key: string, shape: number[]): Promise<Float32Array> => {
      const ref = byKey.get(key);
      if (!ref || ref.dtype !== 'F32' || ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i])) {
        throw new AuditError('BAD_SHARD', `tensor ${key} is missing or not F32 ${JSON.stringify(shape)}`, path);
      }
      return Float32Array.from(await source.read(ref));
    };
    for (const s of paramSpecs(manifest.config)) params.set(s.name, await read(s.name, s.shape));
    const tokens = await read(TOKENS_KEY, [VOCAB.length, manifest.config.contextWidth]);
    return { base: { config: manifest.config, params, tokens, loss: manifest.pretrainLoss }, manifest };
  } finally {
    await source.close();
  }
}
