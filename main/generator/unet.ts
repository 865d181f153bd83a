// The base model: a miniature text-conditioned denoiser shaped like Stable Diffusion 1.x's UNet, so its
// LoRA keys are exactly LoRA-WiSE's. Images are cut into 16 patch tokens; the "UNet" is three levels of
// transformer blocks (widths w0 < w1 < w2 standing in for 320/640/1280) down, a middle block, and three
// levels up with skip connections, each block holding self-attention (attn1), cross-attention to the
// prompt (attn2, whose to_k/to_v read the context width standing in for 768) and a feed-forward. Only
// attention projections carry LoRA, as in diffusers' DreamBooth-LoRA of LoRA-WiSE's era.
import type { Tf, Tensor } from './tf.ts';
import { CHANNELS, CLASSES, IMAGE_SIZE } from './images.ts';
import { Rng } from './random.ts';

export interface ModelConfig {
  widths: [number, number, number];
  contextWidth: number;
}

export const PATCH = 4;
export const TOKENS = (IMAGE_SIZE / PATCH) ** 2;
export const PATCH_DIM = PATCH * PATCH * CHANNELS;
export const TIME_FEATURES = 16;
const TIME_WIDTH = 32;
export const CONTEXT_TOKENS = 5;
export const VOCAB = ['<pad>', 'a', 'photo', 'of', 'sks', ...CLASSES];

export interface BlockSpec {
  /** e.g. `down_blocks.0.attentions.1.transformer_blocks.0` */
  path: string;
  level: 0 | 1 | 2;
}

/** The 16 transformer blocks of SD 1.x in forward order: down 3×2, mid 1, up 3×3. */
export const BLOCKS: BlockSpec[] = [
  ...[0, 1, 2].flatMap((l) => [0, 1].map((j) => ({ path: `down_blocks.${l}.attentions.${j}.transformer_blocks.0`, level: l as 0 | 1 | 2 }))),
  { path: 'mid_block.attentions.0.transformer_blocks.0', level: 2 },
  ...[1, 2, 3].flatMap((u) => [0, 1, 2].map((j) => ({ path: `up_blocks.${u}.attentions.${j}.transformer_blocks.0`, level: (3 - u) as 0 | 1 | 2 }))),
];

const PROJECTIONS = ['to_q', 'to_k', 'to_v', 'to_out.0'] as const;

export interface LoraTarget {
  /** Canonical id: `unet.<module path>` (the diffusers module path with component prefix). */
  id: string;
  /** Module path without `unet.`, as in the base model's parameter names. */
  path: string;
  inFeatures: number;
  outFeatures: number;
}

/** The 128 LoRA-WiSE modules with this model's shapes, sorted by id (the order features use). */
export function loraTargets(config: ModelConfig): LoraTarget[] {
  const out: LoraTarget[] = [];
  for (const b of BLOCKS) {
    const w = config.widths[b.level];
    for (const attn of ['attn1', 'attn2']) {
      for (const p of PROJECTIONS) {
        const path = `${b.path}.${attn}.${p}`;
        const crossInput = attn === 'attn2' && (p === 'to_k' || p === 'to_v');
        out.push({ id: `unet.${path}`, path, inFeatures: crossInput ? config.contextWidth : w, outFeatures: w });
      }
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface ParamSpec { name: string; shape: number[]; init: 'normal' | 'small' | 'zero' }

/** Every base-model parameter, in a fixed order (so initialisation is reproducible). */
export function paramSpecs(config: ModelConfig): ParamSpec[] {
  const [w0, w1, w2] = config.widths;
  const ws = config.widths;
  const specs: ParamSpec[] = [
    { name: 'conv_in.weight', shape: [w0, PATCH_DIM], init: 'normal' },
    { name: 'conv_in.bias', shape: [w0], init: 'zero' },
    { name: 'pos_embed', shape: [TOKENS, w0], init: 'small' },
    { name: 'time_embedding.linear_1.weight', shape: [TIME_WIDTH, TIME_FEATURES], init: 'normal' },
    { name: 'time_embedding.linear_1.bias', shape: [TIME_WIDTH], init: 'zero' },
    ...[0, 1, 2].map((l) => ({ name: `time_proj.${l}.weight`, shape: [ws[l], TIME_WIDTH], init: 'small' as const })),
    { name: 'down_blocks.0.downsamplers.0.weight', shape: [w1, w0], init: 'normal' },
    { name: 'down_blocks.1.downsamplers.0.weight', shape: [w2, w1], init: 'normal' },
    { name: 'up_blocks.1.upsamplers.0.weight', shape: [w1, w2], init: 'normal' },
    { name: 'up_blocks.2.upsamplers.0.weight', shape: [w0, w1], init: 'normal' },
    { name: 'conv_out.weight', shape: [PATCH_DIM, w0], init: 'small' },
    { name: 'conv_out.bias', shape: [PATCH_DIM], init: 'zero' },
  ];
  for (const b of BLOCKS) {
    const w = ws[b.level];
    for (const attn of ['attn1', 'attn2']) {
      for (const p of PROJECTIONS) {
        const crossInput = attn === 'attn2' && (p === 'to_k' || p === 'to_v');
        specs.push({ name: `${b.path}.${attn}.${p}.weight`, shape: [w, crossInput ? config.contextWidth : w], init: p === 'to_out.0' ? 'small' : 'normal' });
      }
      specs.push({ name: `${b.path}.${attn}.to_out.0.bias`, shape: [w], init: 'zero' });
    }
    specs.push({ name: `${b.path}.ff.net.0.proj.weight`, shape: [2 * w, w], init: 'normal' });
    specs.push({ name: `${b.path}.ff.net.0.proj.bias`, shape: [2 * w], init: 'zero' });
    specs.push({ name: `${b.path}.ff.net.2.weight`, shape: [w, 2 * w], init: 'small' });
    specs.push({ name: `${b.path}.ff.net.2.bias`, shape: [w], init: 'zero' });
  }
  return specs;
}

/** Initial values: N(0, 1/fan_in) for weights ('small': a quarter of that std, for residual outputs). */
export function initialParams(config: ModelConfig, rng: Rng): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of paramSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const fanIn = s.shape[s.shape.length - 1];
    out.set(s.name, s.init === 'zero' ? new Float32Array(n) : rng.normals(n, (s.init === 'small' ? 0.25 : 1) / Math.sqrt(fanIn)));
  }
  return out;
}

/** Frozen "text encoder": one fixed random vector per vocabulary word (seeded). */
export function tokenTable(config: ModelConfig, rng: Rng): Float32Array {
  return rng.normals(VOCAB.length * config.contextWidth, 1);
}

/** Prompt → context matrix (CONTEXT_TOKENS × contextWidth), padded with `<pad>`. */
export function encodePrompt(config: ModelConfig, table: Float32Array, words: string[]): Float32Array {
  const cw = config.contextWidth;
  const out = new Float32Array(CONTEXT_TOKENS * cw);
  for (let i = 0; i < CONTEXT_TOKENS; i++) {
    const id = VOCAB.indexOf(words[i] ?? '<pad>');
    if (id < 0) throw new RangeError(`word "${words[i]}" is not in the vocabulary`);
    out.set(table.subarray(id * cw, (id + 1) * cw), i * cw);
  }
  return out;
}

/**
 * LoRA factors per target path, stacked over K independent runs trained side by side:
 * A [K, r, in], B [K, out, r]; run k's update is ΔW_k = scale·B_k·A_k and touches only run k's rows.
 */
export type LoraTensors = Map<string, { a: Tensor; b: Tensor }>;

export interface ForwardInput {
  /** [batch·TOKENS, PATCH_DIM] noisy patches */
  x: Tensor;
  /** [batch, TIME_FEATURES] */
  timeFeatures: Tensor;
  /** [batch·CONTEXT_TOKENS, contextWidth] */
  context: Tensor;
  /** Samples in the batch; with LoRA, runs·(samples per run), run-major. */
  batch: number;
  /** Stacked LoRA runs (K); 1 without LoRA. */
  runs: number;
}

/** Sinusoidal features of t ∈ [0, 1]. */
export function timeFeatures(t: number): Float32Array {
  const out = new Float32Array(TIME_FEATURES);
  for (let i = 0; i < TIME_FEATURES / 2; i++) {
    const f = Math.pow(2, i) * Math.PI;
    out[i] = Math.sin(f * t);
    out[i + TIME_FEATURES / 2] = Math.cos(f * t);
  }
  return out;
}

/** Predicted noise, [batch·TOKENS, PATCH_DIM]. Call inside tf.tidy / a gradient function. */
export function forward(tf: Tf, config: ModelConfig, p: Map<string, Tensor>, lora: LoraTensors | null, loraScale: number, input: ForwardInput): Tensor {
  const P = (name: string): Tensor => {
    const t = p.get(name);
    if (!t) throw new Error(`missing base parameter ${name}`);
    return t;
  };
  const { batch } = input;
  const linear = (h: Tensor, name: string, bias: boolean): Tensor => {
    let y = tf.matMul(h, P(`${name}.weight`), false, true);
    if (bias) y = tf.add(y, P(`${name}.bias`));
    const l = lora?.get(name);
    if (l) {
      // Batched matmul per run: each run's rows meet only that run's A and B.
      const [rows, inF] = h.shape as [number, number];
      const outF = y.shape[1] as number;
      const h3 = tf.reshape(h, [input.runs, rows / input.runs, inF]);
      let d = tf.matMul(tf.matMul(h3, l.a, false, true), l.b, false, true);
      if (loraScale !== 1) d = tf.mul(d, loraScale);
      y = tf.add(y, tf.reshape(d, [rows, outF]));
    }
    return y;
  };
  // Layer norm and the per-sample/per-token additions are written as matmuls against constant
  // matrices: TF.js's CPU backend broadcasts a column ([n,1] against [n,w]) element by element
  // through generic index arithmetic, ~15× slower than a same-shape op plus a tiny matmul (measured).
  const centre = new Map<number, Tensor[]>();
  const norm = (h: Tensor): Tensor => {
    const w = h.shape[1] as number;
    let c = centre.get(w);
    if (!c) {
      const avg = tf.fill([w, w], 1 / w);
      c = [tf.sub(tf.eye(w), avg), avg];
      centre.set(w, c);
    }
    const centred = tf.matMul(h, c[0]);
    const variance = tf.matMul(tf.square(centred), c[1]);
    return tf.mul(centred, tf.rsqrt(tf.add(variance, 1e-5)));
  };
  const rows = batch * TOKENS;
  const sampleOf = tf.tensor2d(oneHotRows(rows, batch, (i) => Math.floor(i / TOKENS)), [rows, batch]);
  const tokenOf = tf.tensor2d(oneHotRows(rows, TOKENS, (i) => i % TOKENS), [rows, TOKENS]);
  const temb = tf.sigmoid(linear(input.timeFeatures, 'time_embedding.linear_1', true));
  const timeAt = (h: Tensor, level: number): Tensor =>
    tf.add(h, tf.matMul(sampleOf, tf.matMul(temb, P(`time_proj.${level}.weight`), false, true)));
  const attention = (h: Tensor, prefix: string, w: number, context: Tensor | null): Tensor => {
    const src = context ?? h;
    const srcTokens = context ? CONTEXT_TOKENS : TOKENS;
    const q = tf.reshape(linear(h, `${prefix}.to_q`, false), [batch, TOKENS, w]);
    const k = tf.reshape(linear(src, `${prefix}.to_k`, false), [batch, srcTokens, w]);
    const v = tf.reshape(linear(src, `${prefix}.to_v`, false), [batch, srcTokens, w]);
    const att = tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(w)));
    return linear(tf.reshape(tf.matMul(att, v), [batch * TOKENS, w]), `${prefix}.to_out.0`, true);
  };
  const block = (h: Tensor, b: BlockSpec): Tensor => {
    const w = config.widths[b.level];
    h = tf.add(h, attention(norm(h), `${b.path}.attn1`, w, null));
    h = tf.add(h, attention(norm(h), `${b.path}.attn2`, w, input.context));
    const f = tf.relu(linear(norm(h), `${b.path}.ff.net.0.proj`, true));
    return tf.add(h, linear(f, `${b.path}.ff.net.2`, true));
  };

  let h = linear(input.x, 'conv_in', true);
  h = tf.add(h, tf.matMul(tokenOf, P('pos_embed')));
  const skips: Tensor[] = [];
  let bi = 0;
  for (let level = 0; level < 3; level++) {
    h = timeAt(h, level);
    skips.push(h);
    for (let j = 0; j < 2; j++) { h = block(h, BLOCKS[bi++]); skips.push(h); }
    if (level < 2) h = linear(h, `down_blocks.${level}.downsamplers.0`, false);
  }
  h = block(h, BLOCKS[bi++]);                       // mid
  for (let u = 1; u <= 3; u++) {
    const level = 3 - u;
    h = timeAt(h, level);
    for (let j = 0; j < 3; j++) h = block(tf.add(h, skips.pop()!), BLOCKS[bi++]);
    if (u < 3) h = linear(h, `up_blocks.${u}.upsamplers.0`, false);
  }
  return linear(norm(h), 'conv_out', true);
}

function oneHotRows(rows: number, cols: number, col: (row: number) => number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) out[i * cols + col(i)] = 1;
  return out;
}
