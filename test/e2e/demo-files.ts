// The generator's demo assets (assets/demo/, see its README) that the UI tests walk through.
import { join } from 'node:path';
import { demoAssets, realAdapters } from './ui.ts';

export const DEMO = {
  /** The mini LoRA-WiSE benchmark: one parquet shard of reference adapters with known sizes. */
  benchmark: join(demoAssets, 'mini-benchmark.parquet'),
  benchmarkName: 'mini-benchmark.parquet',
  /** Sizes present in the mini benchmark: the classifier can only name one of these. */
  sizes: [1, 2, 4, 8],
  /** An adapter trained like the benchmark's: analysable against it. */
  evidence: join(demoAssets, 'evidence.safetensors'),
  evidenceName: 'evidence.safetensors',
  /** A file the intake must refuse: a truncated download. */
  refused: join(realAdapters, 'diffusers-sdxl-attnproc-truncated-srikanth', 'pytorch_lora_weights.safetensors'),
  refusedName: 'pytorch_lora_weights.safetensors',
};
