// Generator throughput: LoRA fine-tuning steps per second when K runs train side by side (stacked
// LoRA factors, one forward/backward for all) against one run at a time (the baseline, K = 1), and
// pre-training steps. Plain script: ./node_modules/.bin/node test/bench/generator.bench.ts
import { cpus } from 'node:os';
import { loadTf } from '../../main/generator/tf.ts';
import { finetune, pretrain } from '../../main/generator/training.ts';
import { conceptImage, conceptNames } from '../../main/generator/images.ts';
import { MODEL } from '../../main/generator/presets.ts';

const STEPS = Number(process.env.BENCH_STEPS ?? 5);
const tf = await loadTf();
const t0 = performance.now();
const base = pretrain(tf, MODEL, 1, { steps: STEPS, batchSize: 8, learningRate: 3e-3 });
const preMs = (performance.now() - t0) / STEPS;
const concepts = conceptNames(24);

function runs(k: number) {
  return Array.from({ length: k }, (_, i) => ({
    concept: concepts[i], seed: i, images: Array.from({ length: 1 + (i % 6) }, (_, j) => conceptImage(1, concepts[i], j)),
  }));
}

const rows: { label: string; msPerRunStep: number }[] = [];
for (const k of [1, 6, 24]) {
  const rs = runs(k);
  finetune(tf, base, rs.slice(0, 1), { rank: 4, steps: 1, learningRate: 3e-3, batchSize: 1, scale: 1 });   // warm-up
  const t = performance.now();
  finetune(tf, base, rs, { rank: 4, steps: STEPS, learningRate: 3e-3, batchSize: 1, scale: 1 });
  rows.push({ label: `fine-tune, K = ${k} runs side by side`, msPerRunStep: (performance.now() - t) / STEPS / k });
}
const baseline = rows[0].msPerRunStep;
console.log(`generator bench: ${cpus().length} cores, no GPU, Node ${process.versions.node}, TF.js ${tf.version_core} cpu backend, ${STEPS} steps each`);
console.log('| what | ms per run-step | speed-up vs K = 1 |');
console.log('|---|---|---|');
for (const r of rows) console.log(`| ${r.label} | ${r.msPerRunStep.toFixed(1)} | ${(baseline / r.msPerRunStep).toFixed(2)}× |`);
console.log(`| pre-training, batch 8 (ms per step) | ${preMs.toFixed(1)} | – |`);
