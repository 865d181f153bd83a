// The mini LoRA-WiSE: pre-train the base once, fine-tune one LoRA per (name, size) with one fixed
// recipe, write the rows as a LoRA-WiSE parquet shard, a few held-out adapters as standalone files
// in several families, and a manifest with the ground truth. Same options and seed → same bytes.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeLoraWiseParquet, type LoraWiseRow } from '../reference/lorawise-writer.ts';
import type { ModuleWeights } from '../intake/model.ts';
import { writeStandalone, type StandaloneFamily } from './adapters.ts';
import { saveBaseModel, type BaseModelManifest } from './base-model.ts';
import { effectTable, type EffectTable } from './effect.ts';
import { conceptImage, conceptNames, type Concept } from './images.ts';
import { seedOf } from './random.ts';
import { loadTf } from './tf.ts';
import { finetune, pretrain, type LoraRecipe, type LoraResult, type PretrainRecipe } from './training.ts';
import type { ModelConfig } from './unet.ts';

export const GENERATOR_VERSION = 'lora-auditor mini LoRA-WiSE 1';
export const BASE_MODEL_NAME = 'lora-auditor/mini-sd-unet';
export const PARQUET_FILE = 'reference/train-00000-of-00001.parquet';

export interface EvidencePlan {
  family: StandaloneFamily;
  /** Index into the held-out names (names after the reference ones), or into the reference names with fromReference. */
  name: number;
  /** Write a reference row itself (same weights as the parquet row) instead of a held-out fine-tune. */
  fromReference?: boolean;
  size: number;
  /** Overrides the recipe's rank: a deliberately non-applicable adapter. */
  rank?: number;
}

export interface GenerateOptions {
  out: string;
  seed: number;
  /** Reference names (image sets) in the parquet; each gets one adapter per size. */
  names: number;
  sizes: number[];
  model: ModelConfig;
  pretrain: PretrainRecipe;
  lora: LoraRecipe;
  evidence: EvidencePlan[];
  /** Runs trained side by side (speed only: results do not depend on it). */
  group: number;
  /** Where to save the pre-trained base model (weights + manifest), e.g. assets/base-model; not saved when absent. */
  baseModelOut?: string;
  log?: (line: string) => void;
}

export interface ManifestAdapter {
  file: string;
  /** Extra files that belong to it (PEFT's adapter_config.json). */
  companions: string[];
  family: StandaloneFamily;
  name: string;
  size: number;
  rank: number;
  sha256: string;
  bytes: number;
  /** false for the deliberately mismatched adapter: the reference cannot answer for it. */
  applicable: boolean;
  note: string;
}

export interface Manifest {
  format: 'lora-auditor-mini-lorawise';
  version: 1;
  generator: string;
  seed: number;
  model: ModelConfig & { baseModel: string; images: string; pretrain: PretrainRecipe; pretrainLoss: { first: number; last: number } };
  recipe: LoraRecipe & { init: string; optimizer: string; seedPolicy: string; objective: string };
  reference: { file: string; sha256: string; bytes: number; rows: number; rank: number; names: string[]; sizes: number[]; schema: string };
  adapters: ManifestAdapter[];
  effect: EffectTable;
}

export interface GenerateResult {
  out: string;
  parquet: string;
  manifest: string;
  rows: number;
  adapters: { file: string; family: string; name: string; size: number; applicable: boolean }[];
  effect: EffectTable;
  seconds: { pretrain: number; finetune: number; write: number; total: number };
}

interface Job { concept: Concept; size: number; rank: number }

/** The one seed all runs of a rank share. */
export function runSeed(seed: number, rank: number): number {
  return seedOf(seed, 'run', rank);
}

function toModuleWeights(r: LoraResult, rank: number, scale: number): ModuleWeights[] {
  return [...r.modules].map(([id, m]) => ({ id, rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale, a: m.a, b: m.b }));
}

function baseMeta(opts: Pick<GenerateOptions, 'seed' | 'pretrain'>) {
  return { baseModel: BASE_MODEL_NAME, seed: opts.seed, pretrainSeed: seedOf(opts.seed, 'pretrain'), pretrain: opts.pretrain };
}

/** Pre-trains only the base model of these options (as generate() does first) and saves it into `dir`. */
export async function generateBaseModel(opts: Pick<GenerateOptions, 'seed' | 'pretrain' | 'model'>, dir: string): Promise<BaseModelManifest> {
  const tf = await loadTf();
  const base = pretrain(tf, opts.model, seedOf(opts.seed, 'pretrain'), opts.pretrain);
  return saveBaseModel(dir, base, baseMeta(opts));
}

export async function generate(opts: GenerateOptions): Promise<GenerateResult> {
  const log = opts.log ?? (() => {});
  const t0 = performance.now();
  const tf = await loadTf();
  const heldOutPlans = opts.evidence.filter((e) => !e.fromReference);
  const heldOut = heldOutPlans.length ? Math.max(...heldOutPlans.map((e) => e.name)) + 1 : 0;
  for (const e of opts.evidence) {
    if (e.fromReference && (e.name >= opts.names || !opts.sizes.includes(e.size) || (e.rank !== undefined && e.rank !== opts.lora.rank))) {
      throw new RangeError(`evidence from the reference must name one of its ${opts.names} names, sizes and its rank`);
    }
  }
  const concepts = conceptNames(opts.names + heldOut);
  const reference = concepts.slice(0, opts.names), evidenceNames = concepts.slice(opts.names);
  const sizes = [...new Set(opts.sizes)].sort((a, b) => a - b);

  log(`pre-training the base model (${opts.pretrain.steps} steps × ${opts.pretrain.batchSize} images)…`);
  const base = pretrain(tf, opts.model, seedOf(opts.seed, 'pretrain'), opts.pretrain);
  if (opts.baseModelOut) saveBaseModel(opts.baseModelOut, base, baseMeta(opts));
  const t1 = performance.now();
  log(`  loss ${base.loss.first.toFixed(4)} → ${base.loss.last.toFixed(4)} (${((t1 - t0) / 1000).toFixed(1)} s)`);

  const jobs: Job[] = [
    ...reference.flatMap((concept) => sizes.map((size) => ({ concept, size, rank: opts.lora.rank }))),
    ...heldOutPlans.map((e) => ({ concept: evidenceNames[e.name], size: e.size, rank: e.rank ?? opts.lora.rank })),
  ];
  const results: LoraResult[] = new Array(jobs.length);
  // Runs of one rank train together. Seed policy as LoRA-WiSE's runs of one training script with one
  // --seed: every run gets the same seed, hence the same A init and the same noise and timestep
  // sequence; only the images (and their number) differ. A per-run seed (hash of name and size) was
  // tried first: the init noise between runs drowned the size signal, and faithful DSiRe did no
  // better than the median on MAE (docs/BENCHMARKS.md, generator section).
  for (const rank of [...new Set(jobs.map((j) => j.rank))]) {
    const idx = jobs.map((j, i) => (j.rank === rank ? i : -1)).filter((i) => i >= 0);
    for (let g = 0; g < idx.length; g += opts.group) {
      const part = idx.slice(g, g + opts.group);
      const tg = performance.now();
      const out = finetune(tf, base, part.map((i) => ({
        concept: jobs[i].concept,
        images: Array.from({ length: jobs[i].size }, (_, k) => conceptImage(opts.seed, jobs[i].concept, k)),
        seed: runSeed(opts.seed, jobs[i].rank),
      })), { ...opts.lora, rank });
      part.forEach((i, k) => { results[i] = out[k]; });
      log(`  fine-tuned ${Math.min(g + opts.group, idx.length)}/${idx.length} rank-${rank} adapters (${((performance.now() - tg) / 1000).toFixed(1)} s for ${part.length})`);
    }
  }
  const t2 = performance.now();

  mkdirSync(opts.out, { recursive: true });
  const refRows: LoraWiseRow[] = [];
  reference.forEach((concept, ci) => sizes.forEach((size, si) => {
    refRows.push({ name: concept.name, label: size, modules: toModuleWeights(results[ci * sizes.length + si], opts.lora.rank, opts.lora.scale) });
  }));
  const parquetPath = join(opts.out, PARQUET_FILE);
  mkdirSync(join(opts.out, 'reference'), { recursive: true });
  rmSync(parquetPath, { force: true });
  await writeLoraWiseParquet(parquetPath, refRows, { compression: 'zstd' });
  const parquetBytes = readFileSync(parquetPath);

  const adapters: ManifestAdapter[] = [];
  let heldOutIndex = refRows.length;
  opts.evidence.forEach((e) => {
    const at = e.fromReference ? reference.indexOf(reference[e.name]) * sizes.length + sizes.indexOf(e.size) : heldOutIndex++;
    const job = jobs[at];
    const sameRank = job.rank === opts.lora.rank;
    // The reference was made with diffusers' naming and recipe; a kohya-ss file is refused against it
    // (sd-scripts initialise and scale A and B differently, so σ(A), σ(B) are not comparable), even
    // though this one holds the same training: the tool cannot tell that from the file.
    const applicable = sameRank && e.family !== 'kohya';
    const folder = e.fromReference ? 'from-reference' : sameRank ? e.family : 'not-applicable';
    const stem = `evidence/${folder}/${job.concept.name}-${job.size}img${sameRank ? '' : `-rank${job.rank}`}${e.fromReference ? `-${e.family}` : ''}`;
    const files = writeStandalone(opts.out, stem, e.family, toModuleWeights(results[at], job.rank, opts.lora.scale), {
      name: job.concept.name, size: job.size, rank: job.rank, steps: opts.lora.steps, learningRate: opts.lora.learningRate,
      seed: runSeed(opts.seed, job.rank), baseModel: BASE_MODEL_NAME,
    });
    adapters.push({
      file: files[0].file, companions: files.slice(1).map((f) => f.file), family: e.family, name: job.concept.name,
      size: job.size, rank: job.rank, sha256: files[0].sha256, bytes: files[0].bytes, applicable,
      note: e.fromReference ? `the reference shard's row for ${job.concept.name}, ${job.size} images, as a standalone file`
        : !sameRank ? `same recipe but rank ${job.rank} instead of ${opts.lora.rank}: the reference set cannot answer for it`
        : applicable
        ? `held-out image set (not in the reference), fine-tuned on ${job.size} image${job.size === 1 ? '' : 's'} with the reference recipe`
        : `held-out image set trained with the reference recipe but saved in kohya-ss format: refused against the diffusers reference (another training tool's A and B are not comparable); its metadata claim of ${job.size} image${job.size === 1 ? '' : 's'} is still shown`,
    });
  });

  const effect = effectTable(refRows.map((r) => ({ name: String(r.name), size: r.label, scale: opts.lora.scale, modules: r.modules })));
  const manifest: Manifest = {
    format: 'lora-auditor-mini-lorawise', version: 1, generator: GENERATOR_VERSION, seed: opts.seed,
    model: {
      ...opts.model, baseModel: BASE_MODEL_NAME, pretrain: opts.pretrain, pretrainLoss: base.loss,
      images: '16×16 RGB procedural shapes (8 classes); a name is one object (class, palette, size, texture, marking), samples vary position, scale, angle, background, lighting, noise',
    },
    recipe: {
      ...opts.lora,
      init: 'A ~ N(0, 1/r²), B = 0', optimizer: 'Adam (β1 0.9, β2 0.999, ε 1e-7: the TF.js defaults), batch per run as given, float32',
      seedPolicy: 'one run seed for every adapter of a rank, FNV-1a(seed/run/rank): the same A init and the same noise and timestep sequence in every run (separate streams for init, image order, noise); images of a name are a prefix series (N ⊂ N+1)',
      objective: 'denoising, x0 target, cosine schedule t ~ U(0.05, 0.95), prompt "a photo of sks <class>"',
    },
    reference: {
      file: PARQUET_FILE, sha256: createHash('sha256').update(parquetBytes).digest('hex'), bytes: parquetBytes.length,
      rows: refRows.length, rank: opts.lora.rank, names: reference.map((c) => c.name), sizes,
      schema: 'LoRA-WiSE: name (string), label (int64), unet.<module>.lora.down.weight / .lora.up.weight as list<double>',
    },
    adapters, effect,
  };
  const manifestPath = join(opts.out, 'manifest.json');
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
  const t3 = performance.now();
  return {
    out: opts.out, parquet: parquetPath, manifest: manifestPath, rows: refRows.length,
    adapters: adapters.map((a) => ({ file: join(opts.out, a.file), family: a.family, name: a.name, size: a.size, applicable: a.applicable })),
    effect,
    seconds: { pretrain: (t1 - t0) / 1000, finetune: (t2 - t1) / 1000, write: (t3 - t2) / 1000, total: (t3 - t0) / 1000 },
  };
}
