// Named configurations. DEMO is what `npm run generate:demo` ships in assets/demo/ (a few MB, minutes
// on 2 cores); SMALL is what the tests use (seconds). Both share the model shape and recipe style so
// a test exercises the same code paths as the shipped data.
import type { EvidencePlan, GenerateOptions } from './benchmark.ts';
import type { ModelConfig } from './unet.ts';

/** Widths 8/16/32 stand in for SD's 320/640/1280, 24 for the 768-wide text context. */
export const MODEL: ModelConfig = { widths: [8, 16, 32], contextWidth: 24 };

/** One adapter per family, and one with another rank that no rank-4 reference can answer for. */
export const DEMO_EVIDENCE: EvidencePlan[] = [
  { family: 'diffusers', name: 0, size: 2 },
  { family: 'peft', name: 1, size: 5 },
  { family: 'kohya', name: 2, size: 3 },
  { family: 'diffusers', name: 1, size: 1 },
  { family: 'diffusers', name: 0, size: 4, rank: 8 },
];

export function demoOptions(out: string): GenerateOptions {
  return {
    out, seed: 42, names: 10, sizes: [1, 2, 3, 4, 5, 6], model: MODEL,
    pretrain: { steps: 100, batchSize: 8, learningRate: 3e-3 },
    lora: { rank: 4, steps: 100, learningRate: 3e-3, batchSize: 2, scale: 1 },
    evidence: DEMO_EVIDENCE, group: 24,
  };
}

/** A seconds-scale configuration for tests: same shapes and code paths, fewer names and steps (too few for the effect). */
export function smallOptions(out: string, over: Partial<GenerateOptions> = {}): GenerateOptions {
  return {
    out, seed: 7, names: 3, sizes: [1, 3, 6], model: MODEL,
    pretrain: { steps: 4, batchSize: 4, learningRate: 3e-3 },
    lora: { rank: 4, steps: 4, learningRate: 3e-3, batchSize: 1, scale: 1 },
    evidence: [{ family: 'diffusers', name: 0, size: 2 }, { family: 'peft', name: 0, size: 3 }, { family: 'kohya', name: 1, size: 1 }],
    group: 12, ...over,
  };
}

/** The smallest run in which the size effect shows (2 names, sizes 1 and 6): for the effect test. */
export function effectOptions(out: string): GenerateOptions {
  return {
    ...smallOptions(out), names: 2, sizes: [1, 6], evidence: [],
    pretrain: { steps: 16, batchSize: 4, learningRate: 3e-3 },
    lora: { rank: 4, steps: 20, learningRate: 3e-3, batchSize: 2, scale: 1 },
  };
}
