// One adapter written in diffusers, kohya and PEFT naming (with encodeSafetensors) reads back as the
// same canonical modules with the same ΔW = scale·B·A.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModuleWeights, openAdapter } from '../../../main/intake/open.ts';
import { diffusersKey, kohyaKey, peftKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors, type TensorToWrite } from '../../../main/intake/safetensors-writer.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'intake-rt-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Deterministic pseudo-random values (mulberry32), so a failure reproduces.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
  };
}

interface Spec { id: string; aShape: number[]; bShape: number[] }
const R = 4;
const SPECS: Spec[] = [
  { id: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0', aShape: [R, 32], bShape: [32, R] },
  { id: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k', aShape: [R, 768], bShape: [32, R] },
  { id: 'unet.mid_block.resnets.0.conv1', aShape: [R, 16, 3, 3], bShape: [24, R, 1, 1] },
  { id: 'text_encoder.text_model.encoder.layers.3.self_attn.q_proj', aShape: [R, 48], bShape: [48, R] },
];
const ALPHA = 8; // scale α/r = 2 in every naming

function values(shape: number[], next: () => number): Float32Array {
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.fround(next()));
}

function deltaW(w: ModuleWeights): Float64Array {
  const out = new Float64Array(w.outFeatures * w.inFeatures);
  for (let o = 0; o < w.outFeatures; o++) {
    for (let i = 0; i < w.inFeatures; i++) {
      let s = 0;
      for (let k = 0; k < w.rank; k++) s += w.b[o * w.rank + k] * w.a[k * w.inFeatures + i];
      out[o * w.inFeatures + i] = w.scale * s;
    }
  }
  return out;
}

describe('round trip across namings', () => {
  it('diffusers, kohya and PEFT files of one adapter give the same modules and ΔW', async () => {
    const next = rng(7);
    const data = SPECS.map((s) => ({ ...s, a: values(s.aShape, next), b: values(s.bShape, next) }));
    const alphaKey = (id: string) => `${id}.alpha`;
    const diff: TensorToWrite[] = data.flatMap((d) => [
      { key: diffusersKey(d.id, 'A'), dtype: 'F32' as const, shape: d.aShape, data: d.a },
      { key: diffusersKey(d.id, 'B'), dtype: 'F32' as const, shape: d.bShape, data: d.b },
      { key: alphaKey(d.id), dtype: 'F32' as const, shape: [], data: [ALPHA] },
    ]);
    const kohya: TensorToWrite[] = data.flatMap((d) => [
      { key: kohyaKey(d.id, 'alpha'), dtype: 'F16' as const, shape: [], data: [ALPHA] },
      { key: kohyaKey(d.id, 'B'), dtype: 'F32' as const, shape: d.bShape, data: d.b },
      { key: kohyaKey(d.id, 'A'), dtype: 'F32' as const, shape: d.aShape, data: d.a },
    ]);
    const peft: TensorToWrite[] = data.flatMap((d) => [
      { key: peftKey(d.id, 'A'), dtype: 'F32' as const, shape: d.aShape, data: d.a },
      { key: peftKey(d.id, 'B'), dtype: 'F32' as const, shape: d.bShape, data: d.b },
    ]).reverse();
    const fDiff = join(dir, 'pytorch_lora_weights.safetensors');
    const fKohya = join(dir, 'kohya.safetensors');
    mkdirSync(join(dir, 'peft'));
    const fPeft = join(dir, 'peft', 'adapter_model.safetensors');
    writeFileSync(fDiff, encodeSafetensors(diff, { format: 'pt' }));
    writeFileSync(fKohya, encodeSafetensors(kohya, { ss_network_dim: String(R), ss_network_alpha: String(ALPHA) }));
    writeFileSync(fPeft, encodeSafetensors(peft));
    writeFileSync(join(dir, 'peft', 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: R, lora_alpha: ALPHA }));

    const adapters = await Promise.all([fDiff, fKohya, join(dir, 'peft')].map((f) => openAdapter(f)));
    try {
      expect(adapters.map((a) => a.family)).toEqual(['diffusers-lora', 'kohya', 'peft']);
      const ids = [...SPECS.map((s) => s.id)].sort();
      for (const a of adapters) {
        expect(a.modules.map((m) => m.id)).toEqual(ids);
        expect(a.modules.map((m) => m.scale)).toEqual(ids.map(() => ALPHA / R));
        expect(a.modules.find((m) => m.id === 'unet.mid_block.resnets.0.conv1')).toMatchObject({ kind: 'conv', kernel: [3, 3], inFeatures: 144, outFeatures: 24 });
      }
      const weights = await Promise.all(adapters.map((a) => loadModuleWeights(a)));
      expect(weights[1]).toEqual(weights[0]);
      expect(weights[2]).toEqual(weights[0]);
      const dw = weights.map((ws) => ws.map(deltaW));
      expect(dw[1]).toEqual(dw[0]);
      expect(dw[2]).toEqual(dw[0]);
      // and the values are the ones written
      const original = data.find((d) => d.id === weights[0][0].id)!;
      expect(Array.from(weights[0][0].a)).toEqual(Array.from(original.a));
    } finally {
      for (const a of adapters) await a.source.close();
    }
  });
});
