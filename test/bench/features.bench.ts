// Features for one SD-1.x rank-32 adapter (128 modules, 6.4 M parameters), by every path, with
// ratios against the fast CPU path measured in the same run; then throughput for a batch of
// adapters. Wall-clock and process-CPU milliseconds are both printed: on a shared machine the wall
// clock includes other people's work, the CPU time (single-threaded paths) much less of it.
//
//   node test/bench/features.bench.ts [--backends cpu,webgpu,…] [--batch 20] [--json out.json]
import { parseArgs } from 'node:util';
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Matrix, SVD } from 'ml-matrix';
import { createCpuBackend } from '../../native/cpu.ts';
import { createFeatureEngine, maxRelativeError } from '../../native/engine.ts';
import { featuresFromGrams } from '../../native/spectrum.ts';
import { symmetricEigen } from '../../native/eigen.ts';
import { gramCols, gramRows } from '../../native/gram.ts';
import { syntheticSd1Adapter } from '../../native/probe.ts';
import { referenceFeatures } from '../../native/reference.ts';
import type { ModuleWeights } from '../../main/intake/model.ts';
import type { BackendName, ModuleFeatures } from '../../native/types.ts';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,cpu-loops,reference,naive,gpujs-cpu,webasm,headlessgl,webgpu' },
    batch: { type: 'string', default: '20' },
    json: { type: 'string' },
    repeats: { type: 'string', default: '7' },
  },
});
const wanted = String(values.backends).split(',');
const batchSize = Number(values.batch);
const repeats = Number(values.repeats);

const adapter = syntheticSd1Adapter(1);
const params = adapter.reduce((s, m) => s + m.a.length + m.b.length, 0);
console.log(`one SD-1.x attention adapter: ${adapter.length} modules, rank 32, ${(params / 1e6).toFixed(2)} M parameters (float32)`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.versions.node}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

interface Row { path: string; wallMs: number; cpuMs: number; maxRelError?: number; note?: string; adaptersPerSecond?: number }
const rows: Row[] = [];

async function time(fn: () => Promise<unknown> | unknown, n: number): Promise<{ wall: number; cpu: number }> {
  await fn(); // warm-up: JIT, kernel compilation
  const walls: number[] = [];
  const cpusUsed: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    await fn();
    walls.push(performance.now() - t0);
    cpusUsed.push(cpuMs() - c0);
  }
  const median = (v: number[]) => v.sort((a, b) => a - b)[Math.floor(v.length / 2)];
  return { wall: median(walls), cpu: median(cpusUsed) };
}

const reference = adapter.map(referenceFeatures);

for (const path of wanted) {
  if (path === 'cpu') {
    const be = createCpuBackend();
    let out: ModuleFeatures[] = [];
    const t = await time(async () => { [out] = await be.features([adapter]); }, repeats);
    rows.push({ path: 'cpu (WASM SIMD Gram + f64 eigen)', wallMs: t.wall, cpuMs: t.cpu, maxRelError: maxRelativeError(out, reference) });
  } else if (path === 'cpu-loops') {
    // the same path with the plain typed-array loops instead of the SIMD kernel
    const run = () => adapter.map((m) => featuresFromGrams(m.id, m.rank, m.scale,
      gramRows(m.a, m.rank, m.inFeatures, new Float64Array(m.rank * m.rank)),
      gramCols(m.b, m.outFeatures, m.rank, new Float64Array(m.rank * m.rank)), symmetricEigen));
    let out: ModuleFeatures[] = [];
    const t = await time(() => { out = run(); }, repeats);
    rows.push({ path: 'cpu, typed-array loops (no SIMD)', wallMs: t.wall, cpuMs: t.cpu, maxRelError: maxRelativeError(out, reference) });
  } else if (path === 'reference') {
    const t = await time(() => adapter.map(referenceFeatures), 2);
    rows.push({ path: 'float64 reference (compensated Grams, ml-matrix EVD)', wallMs: t.wall, cpuMs: t.cpu, maxRelError: 0 });
  } else if (path === 'naive') {
    rows.push(naiveDense(adapter));
  } else {
    const name = path as BackendName;
    let engine;
    try {
      engine = await createFeatureEngine({ backend: name });
    } catch (e) {
      rows.push({ path: name, wallMs: NaN, cpuMs: NaN, note: e instanceof Error ? e.message : String(e) });
      continue;
    }
    try {
      let out: ModuleFeatures[] = [];
      const t = await time(async () => { out = await engine.compute(adapter); }, Math.min(repeats, 3));
      rows.push({ path: `GPU.js ${name}`, wallMs: t.wall, cpuMs: t.cpu, maxRelError: maxRelativeError(out, reference), note: engine.info.reason });
    } finally {
      engine.dispose();
    }
  }
}

/**
 * What the official Python code effectively costs: form ΔW = scale·B·A (out×in) and decompose it
 * densely. ml-matrix's SVD of a 1280×1280 matrix takes minutes here, so one module of each of the
 * three smaller shapes is measured and the cost per module extrapolated by the dense SVD's
 * out·in·min(out,in) scaling to the adapter's shapes (marked "extrapolated").
 */
function naiveDense(mods: ModuleWeights[]): Row {
  const samples = new Map<string, ModuleWeights>();
  for (const m of mods) if (m.outFeatures <= 640 && m.inFeatures <= 768) samples.set(`${m.outFeatures}x${m.inFeatures}`, m);
  const measured: { flops: number; ms: number; cpu: number }[] = [];
  let worst = 0;
  for (const m of samples.values()) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const A = new Matrix(m.rank, m.inFeatures);
    const B = new Matrix(m.outFeatures, m.rank);
    for (let i = 0; i < m.rank; i++) for (let k = 0; k < m.inFeatures; k++) A.set(i, k, m.a[i * m.inFeatures + k]);
    for (let p = 0; p < m.outFeatures; p++) for (let j = 0; j < m.rank; j++) B.set(p, j, m.b[p * m.rank + j]);
    const dW = B.mmul(A).mul(m.scale);
    const s = new SVD(dW, { computeLeftSingularVectors: false, computeRightSingularVectors: false, autoTranspose: true }).diagonal;
    measured.push({ flops: m.outFeatures * m.inFeatures * Math.min(m.outFeatures, m.inFeatures), ms: performance.now() - t0, cpu: cpuMs() - c0 });
    const top = [...s].sort((x, y) => y - x).slice(0, m.rank);
    const ref = referenceFeatures(m).sigmaDW;
    for (let i = 0; i < m.rank; i++) worst = Math.max(worst, Math.abs(top[i] - ref[i]) / ref[i]);
  }
  const perFlopWall = measured.reduce((s, x) => s + x.ms, 0) / measured.reduce((s, x) => s + x.flops, 0);
  const perFlopCpu = measured.reduce((s, x) => s + x.cpu, 0) / measured.reduce((s, x) => s + x.flops, 0);
  const total = mods.reduce((s, m) => s + m.outFeatures * m.inFeatures * Math.min(m.outFeatures, m.inFeatures), 0);
  return {
    path: 'naive: form ΔW, dense SVD (ml-matrix)',
    wallMs: perFlopWall * total,
    cpuMs: perFlopCpu * total,
    maxRelError: worst,
    note: `extrapolated from ${measured.length} measured shapes (${[...samples.keys()].join(', ')}) by out·in·min(out,in)`,
  };
}

// Throughput: a batch of adapters through the engine's computeBatch, for the fast CPU path and each
// GPU.js backend that runs here.
const batch = Array.from({ length: batchSize }, (_, i) => syntheticSd1Adapter(100 + i));
for (const name of wanted.filter((p) => ['cpu', 'gpujs-cpu', 'webasm', 'headlessgl', 'webgpu'].includes(p)) as BackendName[]) {
  let engine;
  try {
    engine = await createFeatureEngine({ backend: name });
  } catch {
    continue;
  }
  try {
    await engine.computeBatch(batch.slice(0, 1)); // warm-up
    const c0 = cpuMs();
    const t0 = performance.now();
    await engine.computeBatch(batch);
    const wall = performance.now() - t0;
    const row = rows.find((r) => r.path.startsWith(name === 'cpu' ? 'cpu (' : `GPU.js ${name}`));
    if (row) row.adaptersPerSecond = batchSize / (wall / 1000);
    void c0;
  } finally {
    engine.dispose();
  }
}

const base = rows.find((r) => r.path.startsWith('cpu ('));
const pad = (s: string, n: number) => (s.length > n ? s.slice(0, n - 1) + '…' : s.padEnd(n));
const num = (v: number | undefined, d = 1) => (v === undefined || Number.isNaN(v) ? '—' : v.toFixed(d));
console.log('');
console.log(`${pad('path', 52)} ${'wall ms'.padStart(10)} ${'cpu ms'.padStart(10)} ${'× cpu path'.padStart(11)} ${'max rel err'.padStart(12)} ${`adapters/s (batch ${batchSize})`.padStart(24)}`);
for (const r of rows) {
  const ratio = base && Number.isFinite(r.wallMs) ? r.wallMs / base.wallMs : NaN;
  console.log(`${pad(r.path, 52)} ${num(r.wallMs).padStart(10)} ${num(r.cpuMs).padStart(10)} ${num(ratio, 2).padStart(11)} ${(r.maxRelError === undefined ? '—' : r.maxRelError.toExponential(1)).padStart(12)} ${num(r.adaptersPerSecond, 2).padStart(24)}`);
  if (r.note) console.log(`    ${r.note}`);
}
if (values.json) writeFileSync(String(values.json), JSON.stringify({ params, batchSize, loadavg: loadavg(), node: process.versions.node, rows }, null, 2));
// A GPU.js webgpu run leaves Dawn's instance behind; do not let it hold the process open.
process.exit(0);
