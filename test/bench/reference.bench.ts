// Reference import benchmark, measured against the floor: DuckDB decoding every value of the same
// shard inside DuckDB (`SELECT sum(list_sum(c1)) + … + sum(list_sum(c256)) FROM read_parquet(file)`,
// DuckDB's default threads). The shard is LoRA-WiSE-shaped: the 256 SD-1.x attention weight columns at
// full width, rank 32, float32 values stored as double (as LoRA-WiSE's are), snappy, 2 rows per row
// group (LoRA-WiSE's own row-group size is not known here; the floor is slower on larger ones). Each
// step runs in its own process (peak RSS is its own), floor and import alternating, RUNS times;
// medians are printed with the load average.
// Target: import ≤ 2× the floor, peak RSS ≤ 1.5 GB.
//
//   ./node_modules/.bin/node test/bench/reference.bench.ts                  # ≈ 650 MB shard, 3 runs
//   REFERENCE_BENCH_MB=100        a quick run
//   REFERENCE_BENCH_RUNS=5        floor/import pairs (default 3)
//   REFERENCE_BENCH_VALUES=float64   random float64 values instead (the engine's float64 path)
//   REFERENCE_BENCH_ROW_GROUP=2   rows per parquet row group (default 2)
//   REFERENCE_BENCH_BACKEND=auto  features backend (default cpu)
//   REFERENCE_BENCH_SHARD=path    measure an existing shard instead of writing one
import { spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RANK = 32;
const VALUES_PER_RANK = 199_296;   // Σ (in + out) over the 128 SD-1.x attention modules
/** On-disk MB per row with snappy, measured: float32 values stored as double compress to ~76 %, random float64 not at all. */
const DISK_MB_PER_ROW = { float32: 39, float64: 51 };

interface Measured { wall: number; cpu: number; maxRssMB: number; [k: string]: unknown }

/** This process's peak RSS in MB. Linux's VmHWM belongs to the program itself; getrusage's maxRSS
 *  also counts the parent's pages at fork, which made every child look as large as the writer. */
function peakRssMB(): number {
  try {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function floorChild(file: string): Promise<Measured> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const source = `read_parquet('${file.replaceAll("'", "''")}')`;
  const cols = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJS()
    .map((c) => String(c.column_name)).filter((c) => c.endsWith('.weight'));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const sum = (await conn.runAndReadAll(`SELECT ${cols.map((c) => `sum(list_sum("${c}"))`).join(' + ')} AS s FROM ${source}`)).getRowObjectsJS()[0].s;
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  conn.closeSync();
  inst.closeSync();
  return { wall, cpu, maxRssMB: peakRssMB(), columns: cols.length, sum: Number(sum) };
}

async function importChild(file: string, backend: string): Promise<Measured> {
  const { openDatabase } = await import('../../main/services/database.ts');
  const { importReference } = await import('../../main/reference/import-parquet.ts');
  const { threadCpuMs } = await import('../../main/reference/import-run.ts');
  const { createFeatureEngine } = await import('../../native/engine.ts');
  const engine = await createFeatureEngine({ backend: backend as 'auto' });
  const dbFile = join(tmpdir(), `reference-bench-${process.pid}.sqlite`);
  const db = await openDatabase(dbFile);
  const profile = {};
  const cpu0 = process.cpuUsage();
  const main0 = threadCpuMs();
  const t0 = performance.now();
  const report = await importReference(db, { name: 'bench', paths: [file], engine, profile });
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(cpu0);
  const mainCpu = (threadCpuMs() - main0) / 1000;
  await db.close();
  for (const s of ['', '-wal', '-shm']) rmSync(dbFile + s, { force: true });
  engine.dispose();
  return { wall, cpu, mainCpu, maxRssMB: peakRssMB(), profile, backend: engine.info.name,
    adapters: report.imported[0]?.adapters, errors: report.errors };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function writeShard(file: string, targetMB: number, values: 'float32' | 'float64', rowGroupSize: number): Promise<number> {
  const { writeLoraWiseParquet } = await import('../../main/reference/lorawise-writer.ts');
  const { sd1Modules } = await import('../unit/reference/fixture.ts');
  const rows = Math.max(1, Math.ceil(targetMB / DISK_MB_PER_ROW[values]));
  const round = values === 'float32' ? Math.fround : (x: number) => x;
  const names = ['plushie_panda', 'cat_statue', 'robot_toy', 'red_cartoon', 'wolf_plushie', 'teapot'];
  const data = Array.from({ length: rows }, (_, i) => ({
    name: names[i % names.length], label: [1, 10, 100, 500, 1000][Math.floor(i / names.length) % 5] + Math.floor(i / 30),
    modules: sd1Modules(1).map((m) => ({
      id: m.id, rank: RANK, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: 1,
      a: Float64Array.from({ length: RANK * m.inFeatures }, () => round((Math.random() - 0.5) / RANK)),
      b: Float64Array.from({ length: m.outFeatures * RANK }, () => round((Math.random() - 0.5) * 1e-3)),
    })),
  }));
  await writeLoraWiseParquet(file, data, { compression: 'snappy', rowGroupSize });
  return rows;
}

async function main(): Promise<void> {
  const targetMB = Number(process.env.REFERENCE_BENCH_MB ?? 650);
  const runs = Math.max(1, Number(process.env.REFERENCE_BENCH_RUNS ?? 3));
  const values = process.env.REFERENCE_BENCH_VALUES === 'float64' ? 'float64' : 'float32';
  // cpu: what auto picks on a machine without a GPU when its probe timings are not disturbed; under
  // load auto's calibration has picked gpujs-cpu (2.5× the import time), which is not the importer's cost.
  const backend = process.env.REFERENCE_BENCH_BACKEND ?? 'cpu';
  const rowGroup = Math.max(1, Number(process.env.REFERENCE_BENCH_ROW_GROUP ?? 2));
  const dir = mkdtempSync(join(tmpdir(), 'reference-bench-'));
  try {
    let file = process.env.REFERENCE_BENCH_SHARD;
    if (file) {
      console.log(`shard: ${file}, ${(statSync(file).size / 1e6).toFixed(0)} MB`);
    } else {
      file = join(dir, 'train-00000-of-00001.parquet');
      const t0 = performance.now();
      // Written by a child process, so this one stays small for the children it starts.
      const written = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', 'write', file, String(targetMB), values, String(rowGroup)],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (written.status !== 0) throw new Error('writing the shard failed');
      const rows = Number(written.stdout.trim());
      console.log(`shard: ${rows} rows × ${(VALUES_PER_RANK * RANK * 8 / 1e6).toFixed(1)} MB of values (rank ${RANK}, SD-1.x shapes, ` +
        `${values === 'float32' ? 'float32 values stored as double, like LoRA-WiSE' : 'random float64'}, snappy, ${rowGroup} rows/row group): ` +
        `${(statSync(file).size / 1e6).toFixed(0)} MB on disk, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const size = statSync(file).size;
    // Read once, so the first floor run does not pay for the disk while the others read the page cache.
    for await (const _ of createReadStream(file, { highWaterMark: 8 << 20 })) { /* warm the page cache */ }

    const self = fileURLToPath(import.meta.url);
    const child = (mode: string) => {
      const r = spawnSync(process.execPath, [self, '--child', mode, file, backend], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`${mode} failed:\n${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Measured;
    };
    const pairs: { load: number; floor: Measured; imp: Measured }[] = [];
    console.log('\n| run | load avg (1 min) | floor s (CPU s) | import s (CPU s) | import ÷ floor | import peak RSS |');
    console.log('|---|---|---|---|---|---|');
    for (let i = 0; i < runs; i++) {
      const load = loadavg()[0];
      const floor = child('floor');
      const imp = child('import');
      if ((imp.errors as unknown[]).length) throw new Error(`the import failed: ${JSON.stringify(imp.errors)}`);
      pairs.push({ load, floor, imp });
      console.log(`| ${i + 1} | ${load.toFixed(1)} | ${floor.wall.toFixed(2)} (${floor.cpu.toFixed(2)}) | ${imp.wall.toFixed(2)} (${imp.cpu.toFixed(2)}) | ` +
        `${(imp.wall / floor.wall).toFixed(2)} | ${imp.maxRssMB.toFixed(0)} MB |`);
    }
    const m = (f: (p: (typeof pairs)[number]) => number) => median(pairs.map(f));
    const ratio = m((p) => p.imp.wall / p.floor.wall);
    const rss = Math.max(...pairs.map((p) => p.imp.maxRssMB));
    console.log(`| median | ${m((p) => p.load).toFixed(1)} | ${m((p) => p.floor.wall).toFixed(2)} (${m((p) => p.floor.cpu).toFixed(2)}) | ` +
      `${m((p) => p.imp.wall).toFixed(2)} (${m((p) => p.imp.cpu).toFixed(2)}) | **${ratio.toFixed(2)}** | ${rss.toFixed(0)} MB (max) |`);
    console.log(`\nfloor ${(size / 1e6 / m((p) => p.floor.wall)).toFixed(0)} MB/s, import ${(size / 1e6 / m((p) => p.imp.wall)).toFixed(0)} MB/s; ` +
      `CPU ratio ${m((p) => p.imp.cpu / p.floor.cpu).toFixed(2)}; floor peak RSS ${Math.max(...pairs.map((p) => p.floor.maxRssMB)).toFixed(0)} MB; ` +
      `features backend ${String(pairs[0].imp.backend)}; ${String(pairs[0].imp.adapters)} adapters`);

    // Where the import's time went (medians): the importing thread's stages do not overlap; its wall
    // time outside them is waiting for DuckDB. The hash runs on its own thread; the rest of the CPU is
    // DuckDB's decoding (and V8's helper threads).
    type Stage = { wallMs: number; cpuMs: number };
    const stage = (p: (typeof pairs)[number], s: string): Stage => (p.imp.profile as Record<string, Stage>)[s] ?? { wallMs: 0, cpuMs: 0 };
    const stages = ['footer', 'transfer', 'check', 'features', 'names', 'hash-wait', 'sqlite', 'close'];
    console.log('\n| stage (median of runs) | wall s | CPU s |');
    console.log('|---|---|---|');
    const words: Record<string, string> = {
      footer: 'open DuckDB, read the footer', transfer: 'copy chunks out of DuckDB', check: 'check rows, narrow float32 factors',
      features: 'features (engine)', names: 'names and labels', 'hash-wait': 'wait for the hash', sqlite: 'sqlite transaction',
      close: 'close DuckDB',
    };
    for (const s of stages) {
      console.log(`| importing thread: ${words[s]} | ${m((p) => stage(p, s).wallMs / 1000).toFixed(2)} | ${m((p) => stage(p, s).cpuMs / 1000).toFixed(2)} |`);
    }
    const waiting = (p: (typeof pairs)[number]) => p.imp.wall - stages.reduce((sum, s) => sum + stage(p, s).wallMs / 1000, 0);
    console.log(`| importing thread: waiting for DuckDB's next chunk | ${m(waiting).toFixed(2)} | — |`);
    console.log(`| hash worker thread: SHA-256 | — | ${m((p) => stage(p, 'hash-worker').cpuMs / 1000).toFixed(2)} |`);
    console.log(`| other threads: DuckDB decoding, V8 helpers | — | ${m((p) => p.imp.cpu - (p.imp.mainCpu as number) - stage(p, 'hash-worker').cpuMs / 1000).toFixed(2)} |`);
    console.log(`\ntargets: import ≤ 2× the floor: ${ratio <= 2 ? 'met' : 'NOT met'} (median ${ratio.toFixed(2)}); ` +
      `peak RSS ≤ 1.5 GB: ${rss <= 1536 ? 'met' : 'NOT met'} (${rss.toFixed(0)} MB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) {
  const [mode, file, arg, values, rowGroup] = process.argv.slice(i + 1);
  if (mode === 'write') {
    process.stdout.write(`${await writeShard(file, Number(arg), values === 'float64' ? 'float64' : 'float32', Number(rowGroup))}\n`);
  } else {
    const result = mode === 'floor' ? await floorChild(file) : await importChild(file, arg);
    process.stdout.write(JSON.stringify(result) + '\n');
  }
} else {
  await main();
}
