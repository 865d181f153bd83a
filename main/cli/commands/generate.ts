// lora-audit generate [--out <dir>] [--names N] [--sizes 1,2,…] [--steps S] [--seed 42] [--json]:
// a custom mini LoRA-WiSE benchmark (real LoRA fine-tunes of the built-in small model). Without
// options it builds the demo configuration into ./mini-lorawise. JSON: out paths, rows, seconds,
// the effect table, the evidence adapters written. Exit 1 when the size effect is absent in what it
// made (the recipe is then too weak for DSiRe to mean anything on it).
import { resolve } from 'node:path';
import type { Command } from '../framework.ts';
import { usageError } from '../framework.ts';
import { generate, type GenerateResult } from '../../generator/benchmark.ts';
import { formatEffect } from '../../generator/effect.ts';
import { demoOptions } from '../../generator/presets.ts';

function positiveInt(values: Record<string, unknown>, name: string, fallback: number, max: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw usageError(`--${name} must be a whole number from 1 to ${max}, got "${String(v)}"`);
  }
  return n;
}

export const command: Command<GenerateResult> = {
  name: 'generate',
  summary: 'Build a mini LoRA-WiSE benchmark: pre-train the small SD-shaped model, fine-tune one LoRA per (name, size) with one recipe, write a LoRA-WiSE parquet shard, standalone evidence adapters (diffusers, PEFT, kohya, one non-applicable) and manifest.json.',
  usage: 'generate [--out <dir>] [--names N] [--sizes 1,2,…] [--steps S] [--seed 42] [--json]',
  options: {
    out: { type: 'string' }, names: { type: 'string' }, sizes: { type: 'string' }, steps: { type: 'string' }, seed: { type: 'string' },
  },
  async run(ctx, values) {
    const out = resolve(typeof values.out === 'string' ? values.out : 'mini-lorawise');
    const defaults = demoOptions(out);
    const names = positiveInt(values, 'names', defaults.names, 120);
    const steps = positiveInt(values, 'steps', defaults.lora.steps, 100000);
    const seed = values.seed === undefined ? defaults.seed : positiveInt(values, 'seed', 0, 2 ** 31);
    let sizes = defaults.sizes;
    if (typeof values.sizes === 'string') {
      const parts = values.sizes.split(',').map((s) => s.trim());
      if (parts.some((p) => !/^\d+$/.test(p) || Number(p) < 1 || Number(p) > 1000)) {
        throw usageError(`--sizes must be a comma-separated list of image counts from 1 to 1000, got "${values.sizes}"`);
      }
      sizes = [...new Set(parts.map(Number))].sort((a, b) => a - b);
    }
    const evidenceMax = Math.max(...sizes);
    const evidence = defaults.evidence.map((e) => ({ ...e, size: Math.min(e.size, evidenceMax) }));
    const result = await generate({ ...defaults, names, sizes, seed, evidence, lora: { ...defaults.lora, steps }, log: ctx.log });
    return { data: result, exitCode: result.effect.present ? 0 : 1 };
  },
  human(r) {
    return [
      formatEffect(r.effect), '',
      `reference shard: ${r.parquet} (${r.rows} rows)`,
      ...r.adapters.map((a) => `evidence ${a.family} ${a.name} (${a.size} images)${a.applicable ? '' : ', not applicable'}: ${a.file}`),
      `manifest: ${r.manifest}`,
      `seconds: pre-training ${r.seconds.pretrain.toFixed(1)}, fine-tuning ${r.seconds.finetune.toFixed(1)}, writing ${r.seconds.write.toFixed(1)}, total ${r.seconds.total.toFixed(1)}`,
    ].join('\n');
  },
};
