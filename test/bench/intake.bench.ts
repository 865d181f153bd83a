// Intake benchmark: an SD-1.x rank-32 diffusers adapter (LoRA-WiSE shapes: 128 modules, ~25 MB F32)
// built in a temp folder. Times header parse + canonical model (the target: ≤ 2× reading the file's
// bytes), then reading every tensor, the evidence hash, and the full intake, each against a raw
// fs.readFile of the same bytes measured in this run. Median of several runs, page cache warm.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { loadModuleWeights, openAdapter } from '../../main/intake/open.ts';
import { readSafetensorsHeader } from '../../main/intake/safetensors.ts';
import { sha256File } from '../../main/common/hashing.ts';
import { diffusersKey } from '../../main/intake/naming.ts';
import { encodeSafetensors, type TensorToWrite } from '../../main/intake/safetensors-writer.ts';

const R = 32;
const BLOCKS: [string, number][] = [
  ...[[0, 320], [1, 640], [2, 1280]].flatMap(([b, c]) => [0, 1].map((a): [string, number] => [`down_blocks.${b}.attentions.${a}`, c])),
  ['mid_block.attentions.0', 1280],
  ...[[1, 1280], [2, 640], [3, 320]].flatMap(([b, c]) => [0, 1, 2].map((a): [string, number] => [`up_blocks.${b}.attentions.${a}`, c])),
];

function buildFile(path: string): { modules: number; values: number } {
  const tensors: TensorToWrite[] = [];
  let seed = 1;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32 - 0.5) / R;
  for (const [block, c] of BLOCKS) {
    for (const attn of ['attn1', 'attn2']) {
      for (const proj of ['to_q', 'to_k', 'to_v', 'to_out.0']) {
        const id = `unet.${block}.transformer_blocks.0.${attn}.${proj}`;
        const inF = attn === 'attn2' && (proj === 'to_k' || proj === 'to_v') ? 768 : c;
        tensors.push({ key: diffusersKey(id, 'A'), dtype: 'F32', shape: [R, inF], data: Float32Array.from({ length: R * inF }, rand) });
        tensors.push({ key: diffusersKey(id, 'B'), dtype: 'F32', shape: [c, R], data: Float32Array.from({ length: c * R }, rand) });
      }
    }
  }
  writeFileSync(path, encodeSafetensors(tensors, { format: 'pt' }));
  return { modules: tensors.length / 2, values: tensors.reduce((s, t) => s + t.data.length, 0) };
}

/** Steps run round-robin (one of each per round) so a load spike on this shared machine hits all of them alike; medians. */
async function medians(runs: number, steps: (() => Promise<unknown>)[]): Promise<number[]> {
  for (const fn of steps) await fn(); // warm-up (page cache, JIT)
  const times: number[][] = steps.map(() => []);
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of steps.entries()) {
      (globalThis as { gc?: () => void }).gc?.();
      const t0 = performance.now();
      await fn();
      times[k].push(performance.now() - t0);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
}

const dir = mkdtempSync(join(tmpdir(), 'intake-bench-'));
try {
  const file = join(dir, 'pytorch_lora_weights.safetensors');
  const { modules, values } = buildFile(file);
  const bytes = (await readFile(file)).length;
  const { sha256: sha } = await sha256File(file);
  const RUNS = 15;
  const steps: [string, () => Promise<unknown>][] = [
    ['raw fs.readFile of the file (baseline)', () => readFile(file)],
    ['header parse (bounded read + validation)', () => readSafetensorsHeader(file)],
    ['header parse + canonical model', async () => { const a = await openAdapter(file, { sha256: sha }); await a.source.close(); }],
    ['… + read all 256 tensors (loadModuleWeights)', async () => { const a = await openAdapter(file, { sha256: sha }); await loadModuleWeights(a); await a.source.close(); }],
    ['SHA-256 of the file (evidence identity)', () => sha256File(file)],
    ['full intake: hash + header + model', async () => { const a = await openAdapter(file); await a.source.close(); }],
  ];
  const ms = await medians(RUNS, steps.map(([, fn]) => fn));
  const raw = ms[0];
  const rows: [string, number][] = steps.map(([name], i) => [name, ms[i]]);
  console.log(`intake: SD-1.x rank-${R} diffusers adapter, ${modules} modules, ${values.toLocaleString('en')} F32 values, ${(bytes / 2 ** 20).toFixed(1)} MiB; ${cpus().length} cores, Node ${process.versions.node}; median of ${RUNS}`);
  console.log('| step | ms | × raw read |');
  console.log('|---|---:|---:|');
  for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(2)} | ${(ms / raw).toFixed(2)} |`);
  const model = rows[2][1];
  console.log(`target header + model ≤ 2× raw read: ${model / raw <= 2 ? 'met' : 'NOT met'} (${(model / raw).toFixed(2)}×)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
