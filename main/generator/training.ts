// Pre-training of the base denoiser and DreamBooth-style LoRA fine-tuning, both with TF.js autodiff
// (tf.train.adam over tf.variables). Float32 throughout, as LoRA-WiSE's adapters were trained.
import type { Scalar, Variable } from '@tensorflow/tfjs-core';
import type { Tf, Tensor } from './tf.ts';
import { CLASSES, IMAGE_SIZE, CHANNELS, PIXELS, randomImage, type Concept } from './images.ts';
import { Rng, seedOf } from './random.ts';
import {
  CONTEXT_TOKENS, PATCH, PATCH_DIM, TIME_FEATURES, TOKENS, encodePrompt, forward, initialParams, loraTargets, paramSpecs, timeFeatures, tokenTable,
  type LoraTensors, type ModelConfig,
} from './unet.ts';

/** HWC image → TOKENS × PATCH_DIM patch rows (each patch row-major, channels last). */
export function toPatches(img: Float32Array): Float32Array {
  const out = new Float32Array(PIXELS);
  const grid = IMAGE_SIZE / PATCH;
  let o = 0;
  for (let py = 0; py < grid; py++) for (let px = 0; px < grid; px++)
    for (let y = 0; y < PATCH; y++) for (let x = 0; x < PATCH; x++)
      for (let c = 0; c < CHANNELS; c++) out[o++] = img[((py * PATCH + y) * IMAGE_SIZE + px * PATCH + x) * CHANNELS + c];
  return out;
}

interface NoisyBatch { x: Float32Array; target: Float32Array; time: Float32Array; context: Float32Array }

/**
 * Cosine schedule: x_t = √ᾱ·x0 + √(1−ᾱ)·ε with ᾱ = cos²(πt/2), t ~ U(0.05, 0.95). The model predicts
 * the clean image x0 (not ε): with ε-prediction the fine-tuning gradient of so small a model is
 * dominated by the sampled noise and the LoRA norms came out independent of N (measured; see
 * docs/BENCHMARKS.md, generator section); an x0 target makes the update carry the training images themselves.
 */
function noisyBatch(rng: Rng, patches: Float32Array[], contexts: Float32Array[]): NoisyBatch {
  const b = patches.length;
  const x = new Float32Array(b * PIXELS), target = new Float32Array(b * PIXELS);
  const time = new Float32Array(b * TIME_FEATURES);
  const context = new Float32Array(b * contexts[0].length);
  for (let i = 0; i < b; i++) {
    const t = rng.range(0.05, 0.95);
    const ab = Math.cos((Math.PI * t) / 2) ** 2;
    const s0 = Math.sqrt(ab), s1 = Math.sqrt(1 - ab);
    for (let j = 0; j < PIXELS; j++) {
      const e = rng.normal();
      target[i * PIXELS + j] = patches[i][j];
      x[i * PIXELS + j] = s0 * patches[i][j] + s1 * e;
    }
    time.set(timeFeatures(t), i * TIME_FEATURES);
    context.set(contexts[i], i * contexts[i].length);
  }
  return { x, target, time, context };
}

function squaredError(tf: Tf, config: ModelConfig, params: Map<string, Tensor>, lora: LoraTensors | null, loraScale: number, nb: NoisyBatch, batch: number, runs: number): Tensor {
  const pred = forward(tf, config, params, lora, loraScale, {
    x: tf.tensor2d(nb.x, [batch * TOKENS, PATCH_DIM]),
    timeFeatures: tf.tensor2d(nb.time, [batch, TIME_FEATURES]),
    context: tf.tensor2d(nb.context, [batch * CONTEXT_TOKENS, config.contextWidth]),
    batch,
    runs,
  });
  return tf.square(tf.sub(pred, tf.tensor2d(nb.target, [batch * TOKENS, PATCH_DIM])));
}

export interface PretrainRecipe { steps: number; batchSize: number; learningRate: number }

export interface BaseModel {
  config: ModelConfig;
  params: Map<string, Float32Array>;
  tokens: Float32Array;
  /** Mean loss over the first and the last tenth of pre-training. */
  loss: { first: number; last: number };
}

/** Pre-trains the denoiser on random shapes of the eight classes, prompt "a photo of <class>". */
export function pretrain(tf: Tf, config: ModelConfig, seed: number, recipe: PretrainRecipe, onStep?: (step: number, loss: number) => void): BaseModel {
  const rng = new Rng(seed);
  const init = initialParams(config, rng);
  const tokens = tokenTable(config, new Rng(seedOf(seed, 'tokens')));
  const prompts = CLASSES.map((c) => encodePrompt(config, tokens, ['a', 'photo', 'of', '<pad>', c]));
  const vars = new Map<string, Tensor>();
  for (const [name, v] of init) vars.set(name, tf.tidy(() => tf.variable(tf.tensor(v, shapeOf(config, name)), true, name)));
  const opt = tf.train.adam(recipe.learningRate);
  const losses: number[] = [];
  for (let step = 0; step < recipe.steps; step++) {
    const patches: Float32Array[] = [], ctx: Float32Array[] = [];
    for (let i = 0; i < recipe.batchSize; i++) {
      const c = rng.int(CLASSES.length);
      patches.push(toPatches(randomImage(rng, CLASSES[c])));
      ctx.push(prompts[c]);
    }
    const nb = noisyBatch(rng, patches, ctx);
    const cost = opt.minimize(() => tf.mean(squaredError(tf, config, vars, null, 1, nb, recipe.batchSize, 1)) as Scalar, true);
    const l = cost!.dataSync()[0];
    cost!.dispose();
    losses.push(l);
    onStep?.(step, l);
  }
  const params = new Map<string, Float32Array>();
  for (const [name, v] of vars) { params.set(name, v.dataSync() as Float32Array); v.dispose(); }
  opt.dispose();
  return { config, params, tokens, loss: summary(losses) };
}

const shapeCache = new WeakMap<ModelConfig, Map<string, number[]>>();
function shapeOf(config: ModelConfig, name: string): number[] {
  let m = shapeCache.get(config);
  if (!m) { m = new Map(paramSpecs(config).map((s) => [s.name, s.shape])); shapeCache.set(config, m); }
  const s = m.get(name);
  if (!s) throw new Error(`unknown parameter ${name}`);
  return s;
}

/** The fixed fine-tuning recipe: identical for every run of a benchmark, as in LoRA-WiSE. */
export interface LoraRecipe {
  rank: number;
  steps: number;
  learningRate: number;
  batchSize: number;
  /** ΔW = scale·B·A; 1 as in diffusers DreamBooth-LoRA without network_alpha. */
  scale: number;
  /**
   * How A starts (B starts at 0 either way): 'normal' A ~ N(0, 1/r²), diffusers' LoRALinearLayer and
   * PEFT's init_lora_weights="gaussian" (the default, the demo's); 'kaiming-uniform' A ~ U(±1/√in),
   * torch's kaiming_uniform_(a=√5) as kohya's sd-scripts (networks/lora.py) and PEFT's default use.
   */
  initA?: LoraInit;
}

export type LoraInit = 'normal' | 'kaiming-uniform';


export interface LoraResult {
  /** Per canonical module id: A (rank × in) and B (out × rank), float32 row-major. */
  modules: Map<string, { a: Float32Array; b: Float32Array; inFeatures: number; outFeatures: number }>;
  loss: { first: number; last: number };
}

export interface LoraRun {
  concept: Concept;
  /** The N training images of this run (HWC). */
  images: Float32Array[];
  /** Drives this run's A init, image order, timesteps and noise (three separate streams). */
  seed: number;
}

/**
 * DreamBooth-style LoRA fine-tunes, prompt "a photo of sks <class>": A ~ N(0, 1/r²), B = 0; Adam;
 * each step a batch drawn from an epoch-wise shuffle of the run's N images, with fresh noise and
 * timesteps. Several runs train side by side as one stacked problem (loss = Σ runs' own losses,
 * so each run's gradient is its own; Adam is element-wise, so each run trains exactly as it would
 * alone) because TF.js's per-op overhead, not arithmetic, dominates at these sizes.
 */
export function finetune(tf: Tf, base: BaseModel, runs: LoraRun[], recipe: LoraRecipe): LoraResult[] {
  const steps = finetuneSteps(tf, base, runs, recipe);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * The same fine-tune one step at a time: yields the number of steps done after each step and returns
 * the results, so a caller can report progress, give the event loop a turn between steps, and stop
 * (gen.return() frees every tensor). finetune() drives it to the end in one go.
 */
export function* finetuneSteps(tf: Tf, base: BaseModel, runs: LoraRun[], recipe: LoraRecipe): Generator<number, LoraResult[], void> {
  const { config } = base;
  const K = runs.length;
  // Separate streams for init, image order and noise, so runs with one seed share their A init and
  // their noise/timestep sequence whatever N is (the order stream consumes N-dependent draws).
  const initRngs = runs.map((r) => new Rng(seedOf(r.seed, 'init')));
  const orderRngs = runs.map((r) => new Rng(seedOf(r.seed, 'order')));
  const noiseRngs = runs.map((r) => new Rng(seedOf(r.seed, 'noise')));
  const targets = loraTargets(config);
  const params = new Map<string, Tensor>();
  for (const [name, v] of base.params) params.set(name, tf.tensor(v, shapeOf(config, name)));
  const lora: LoraTensors = new Map();
  const varList: Variable[] = [];
  const inits = initRngs.map((rng) => targets.map((t) => recipe.initA === 'kaiming-uniform'
    ? kaimingUniform(rng, recipe.rank * t.inFeatures, t.inFeatures)
    : rng.normals(recipe.rank * t.inFeatures, 1 / recipe.rank)));
  targets.forEach((t, ti) => {
    const stacked = new Float32Array(K * recipe.rank * t.inFeatures);
    inits.forEach((per, k) => stacked.set(per[ti], k * recipe.rank * t.inFeatures));
    const a = tf.tidy(() => tf.variable(tf.tensor3d(stacked, [K, recipe.rank, t.inFeatures])));
    const b = tf.tidy(() => tf.variable(tf.zeros([K, t.outFeatures, recipe.rank])));
    lora.set(t.path, { a, b });
    varList.push(a, b);
  });
  const prompts = runs.map((r) => encodePrompt(config, base.tokens, ['a', 'photo', 'of', 'sks', r.concept.cls]));
  const patches = runs.map((r) => r.images.map(toPatches));
  const orders: number[][] = runs.map(() => []);
  const opt = tf.train.adam(recipe.learningRate);
  const losses: number[][] = runs.map(() => []);
  const batch = K * recipe.batchSize;
  try {
    for (let step = 0; step < recipe.steps; step++) {
      const parts = runs.map((_, k) => {
        const chosen: Float32Array[] = [];
        for (let i = 0; i < recipe.batchSize; i++) {
          if (orders[k].length === 0) orders[k] = shuffle(orderRngs[k], patches[k].length);
          chosen.push(patches[k][orders[k].pop()!]);
        }
        return noisyBatch(noiseRngs[k], chosen, chosen.map(() => prompts[k]));
      });
      const nb = concat(parts);
      let perRun: Float32Array | null = null;
      const cost = opt.minimize(() => {
        const sq = squaredError(tf, config, params, lora, recipe.scale, nb, batch, K);
        const each = tf.mean(tf.reshape(sq, [K, -1]), 1);
        perRun = Float32Array.from(each.dataSync());
        return tf.sum(each) as Scalar;
      }, true, varList);
      cost!.dispose();
      perRun!.forEach((l, k) => losses[k].push(l));
      yield step + 1;
    }
    const out: LoraResult[] = runs.map((_, k) => ({ modules: new Map(), loss: summary(losses[k]) }));
    for (const t of targets) {
      const l = lora.get(t.path)!;
      const a = l.a.dataSync() as Float32Array, b = l.b.dataSync() as Float32Array;
      const na = recipe.rank * t.inFeatures, nb = t.outFeatures * recipe.rank;
      out.forEach((o, k) => o.modules.set(t.id, {
        a: a.slice(k * na, (k + 1) * na), b: b.slice(k * nb, (k + 1) * nb), inFeatures: t.inFeatures, outFeatures: t.outFeatures,
      }));
    }
    return out;
  } finally {
    opt.dispose();
    for (const v of varList) v.dispose();
    for (const t of params.values()) t.dispose();
  }
}

/** torch.nn.init.kaiming_uniform_(w, a=√5) of a Linear weight with fan_in `fanIn`: U(−1/√fanIn, 1/√fanIn). */
function kaimingUniform(rng: Rng, n: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(-bound, bound);
  return out;
}

function summary(losses: number[]): { first: number; last: number } {
  const tenth = Math.max(1, Math.floor(losses.length / 10));
  const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
  return { first: mean(losses.slice(0, tenth)), last: mean(losses.slice(-tenth)) };
}

function concat(parts: NoisyBatch[]): NoisyBatch {
  const cat = (key: keyof NoisyBatch) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p[key].length, 0));
    let o = 0;
    for (const p of parts) { out.set(p[key], o); o += p[key].length; }
    return out;
  };
  return { x: cat('x'), target: cat('target'), time: cat('time'), context: cat('context') };
}

function shuffle(rng: Rng, n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) { const j = rng.int(i + 1); [a[i], a[j]] = [a[j], a[i]]; }
  return a;
}
