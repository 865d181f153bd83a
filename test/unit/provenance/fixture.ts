// One trained-looking LoRA and the copies that circulate under new names, written by the project's own
// writers: the diffusers original, kohya and PEFT conversions (writeStandalone), a float16 re-save,
// B scaled by 2, half the modules dropped, another factorisation (B·G, G⁻¹·A), and unrelated adapters.
// SD-1.x attention modules (128) at 1/16 of their widths, rank 4: fast, and every code path real.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeStandalone, type StandaloneFamily, type TrainingFacts } from '../../../main/generator/adapters.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors, type TensorToWrite } from '../../../main/intake/safetensors-writer.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { mulberry32 } from '../../../native/prng.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';

export const RANK = 4;
export const LAYOUT = sd1Modules(16);

/** Seeded factors, rounded to float32 first so every writer stores exactly these values. */
export function adapterWeights(seed: number): ModuleWeights[] {
  return randomAdapter(LAYOUT, RANK, seed).map((m) => ({ ...m, a: Float32Array.from(m.a), b: Float32Array.from(m.b) }));
}

const facts = (name: string, size: number): TrainingFacts => ({ name, size, rank: RANK, steps: 100, learningRate: 1e-4, seed: 1, baseModel: 'runwayml/stable-diffusion-v1-5' });

/** Writes `modules` in a family's layout under dir/rel and returns the path to hand to intake (PEFT: its folder). */
export function writeAs(dir: string, rel: string, family: StandaloneFamily, modules: ModuleWeights[]): string {
  const files = writeStandalone(dir, rel, family, modules, facts(rel, 10));
  return family === 'peft' ? join(dir, rel) : join(dir, files[0].file);
}

/** A diffusers-layout file with its factors in another dtype (a re-save in half precision). */
export function writeDtype(path: string, modules: ModuleWeights[], dtype: TensorToWrite['dtype']): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, encodeSafetensors(modules.flatMap((m) => [
    { key: diffusersKey(m.id, 'A'), dtype, shape: [m.rank, m.inFeatures], data: m.a },
    { key: diffusersKey(m.id, 'B'), dtype, shape: [m.outFeatures, m.rank], data: m.b },
  ])));
  return path;
}

export function scaleB(modules: ModuleWeights[], factor: number): ModuleWeights[] {
  return modules.map((m) => ({ ...m, b: m.b.map((v) => v * factor) }));
}

/** B nudged by up to ±`fraction` of each value: a copy trained a little further, not the same update. */
export function perturbB(modules: ModuleWeights[], fraction: number, seed: number): ModuleWeights[] {
  const next = mulberry32(seed);
  return modules.map((m) => ({ ...m, b: m.b.map((v) => v * (1 + fraction * (2 * next() - 1))) }));
}

/** Every other module (sorted by id): half the layers pruned. */
export function halfModules(modules: ModuleWeights[]): ModuleWeights[] {
  return modules.filter((_, i) => i % 2 === 0);
}

/** The same ΔW = B·A in another gauge: B·G and G⁻¹·A for a random invertible r×r G (one per module). */
export function regauge(modules: ModuleWeights[], seed: number): ModuleWeights[] {
  const next = mulberry32(seed);
  return modules.map((m) => {
    const r = m.rank;
    // I + a random perturbation: invertible and decently conditioned (checked below)
    const g = Array.from({ length: r * r }, (_, k) => (k % (r + 1) === 0 ? 1 : 0) + (next() - 0.5) * 1.2);
    const gi = invert(g, r);
    const b = new Float64Array(m.outFeatures * r);
    for (let o = 0; o < m.outFeatures; o++) for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += m.b[o * r + k] * g[k * r + j];
      b[o * r + j] = s;
    }
    const a = new Float64Array(r * m.inFeatures);
    for (let i = 0; i < r; i++) for (let c = 0; c < m.inFeatures; c++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += gi[i * r + k] * m.a[k * m.inFeatures + c];
      a[i * m.inFeatures + c] = s;
    }
    return { ...m, a, b };
  });
}

/** Gauss–Jordan with partial pivoting (r ≤ 8 here). */
function invert(m: number[], r: number): number[] {
  const a = m.slice();
  const inv: number[] = Array.from({ length: r * r }, (_, k) => (k % (r + 1) === 0 ? 1 : 0));
  for (let col = 0; col < r; col++) {
    let p = col;
    for (let i = col + 1; i < r; i++) if (Math.abs(a[i * r + col]) > Math.abs(a[p * r + col])) p = i;
    if (Math.abs(a[p * r + col]) < 1e-3) throw new Error('G is too close to singular for this fixture');
    for (let k = 0; k < r; k++) {
      [a[col * r + k], a[p * r + k]] = [a[p * r + k], a[col * r + k]];
      [inv[col * r + k], inv[p * r + k]] = [inv[p * r + k], inv[col * r + k]];
    }
    const d = a[col * r + col];
    for (let k = 0; k < r; k++) { a[col * r + k] /= d; inv[col * r + k] /= d; }
    for (let i = 0; i < r; i++) {
      if (i === col) continue;
      const f = a[i * r + col];
      for (let k = 0; k < r; k++) { a[i * r + k] -= f * a[col * r + k]; inv[i * r + k] -= f * inv[col * r + k]; }
    }
  }
  return inv;
}

/** A labelled-folder reference set (labels.csv: file,name,size) of diffusers files. */
export function writeReferenceFolder(dir: string, entries: { file: string; name: string; size: number; modules: ModuleWeights[] }[]): string {
  mkdirSync(dir, { recursive: true });
  for (const e of entries) writeDtype(join(dir, e.file), e.modules, 'F32');
  writeFileSync(join(dir, 'labels.csv'), `file,name,size\n${entries.map((e) => `${e.file},${e.name},${e.size}`).join('\n')}\n`);
  return dir;
}
