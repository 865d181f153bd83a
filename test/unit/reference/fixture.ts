// LoRA-WiSE-shaped fixtures: the 128 attention modules of a Stable Diffusion 1.x UNet under their real
// diffusers ids, at the real widths (divisor 1) or scaled down for fast tests, with seeded random
// factors shaped like DreamBooth-LoRA's (A ~ N(0, 1/r²), B small), as float64.
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { mulberry32 } from '../../../native/prng.ts';

export interface ModuleLayout { id: string; inFeatures: number; outFeatures: number }

const BLOCKS: { path: string; width: number }[] = [
  ...[0, 1, 2].flatMap((b) => [0, 1].map((a) => ({ path: `down_blocks.${b}.attentions.${a}`, width: [320, 640, 1280][b] }))),
  { path: 'mid_block.attentions.0', width: 1280 },
  ...[1, 2, 3].flatMap((b) => [0, 1, 2].map((a) => ({ path: `up_blocks.${b}.attentions.${a}`, width: [1280, 640, 320][b - 1] }))),
];

/** SD-1.x attention modules (128), widths divided by `divisor` (text embedding 768 likewise). */
export function sd1Modules(divisor = 1): ModuleLayout[] {
  const text = 768 / divisor;
  const out: ModuleLayout[] = [];
  for (const b of BLOCKS) {
    const c = b.width / divisor;
    for (const attn of ['attn1', 'attn2']) {
      for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        const crossInput = attn === 'attn2' && (proj === 'to_k' || proj === 'to_v');
        out.push({ id: `unet.${b.path}.transformer_blocks.0.${attn}.${proj}`, inFeatures: crossInput ? text : c, outFeatures: c });
      }
    }
  }
  return out.sort((x, y) => (x.id < y.id ? -1 : 1));
}

/** A small seeded generator, so fixtures are the same on every run. */
export const rng = mulberry32;

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(next() + 1e-12)) * Math.cos(2 * Math.PI * next());
}

export function randomAdapter(layout: ModuleLayout[], rank: number, seed: number): ModuleWeights[] {
  const next = rng(seed);
  return layout.map((m) => {
    const a = new Float64Array(rank * m.inFeatures);
    const b = new Float64Array(m.outFeatures * rank);
    for (let i = 0; i < a.length; i++) a[i] = gaussian(next) / rank;
    for (let i = 0; i < b.length; i++) b[i] = gaussian(next) * 1e-3;
    return { id: m.id, rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: 1, a, b };
  });
}
