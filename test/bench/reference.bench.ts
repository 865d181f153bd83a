// Reference import benchmark: a synthetic full-width LoRA-WiSE shard (SD-1.x shapes, rank 32, random
// float64 so it does not compress), then, each in its own process so peak RSS is its own:
//   scan    DuckDB streaming every weight column of the file, touching nothing (the baseline)
//   import  importReference: hash, decode, reshape, features, sqlite
// Target: import ≤ 3× scan, peak RSS ≤ 1.5 GB.
//
//   ./node_modules/.bin/node test/bench/reference.bench.ts            # ≥ 600 MB shard
//   REFERENCE_BENCH_MB=100 ./node_modules/.bin/node test/bench/reference.bench.ts   # quick run
//   REFERENCE_BENCH_ROW_GROUP=2  rows per row group (default 2, ~100 MB)
//   REFERENCE_BENCH_BACKENDS=cpu,auto  features backends to import with, one run each (default cpu,auto)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RANK = 32;
const VALUES_PER_RANK = 199_296;   // Σ (in + out) over the 128 SD-1.x attention modules
const ROW_MB = (VALUES_PER_RANK * RANK * 8) / 1e6;

async function child(mode: string, file: string): Promise<void> {
  const t0 = performance.now();
  let extra: Record<string, unknown> = {};
  if (mode === 'scan') {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
    const conn = await inst.connect();
    const cols = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS()
      .map((c) => String(c.column_name)).filter((c) => c.endsWith('.weight'));
    const start = performance.now();
    const result = await conn.stream(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM read_parquet('${file}')`);
    let rows = 0;
    for (;;) {
      const chunk = await result.fetchChunk();
      if (!chunk || chunk.rowCount === 0) break;
      rows += chunk.rowCount;
    }
    extra = { rows, columns: cols.length, seconds: (performance.now() - start) / 1000 };
    conn.closeSync();
    inst.closeSync();
  } else {
    const { openDatabase } = await import('../../main/db/open.ts');
    const { importReference } = await import('../../main/reference/import-parquet.ts');
    const { createFeatureEngine } = await import('../../native/engine.ts');
    const backend = (process.argv[process.argv.indexOf('--child') + 3] ?? 'auto') as 'auto';
    const engine = await createFeatureEngine({ backend });
    const db = await openDatabase(join(tmpdir(), `reference-bench-${process.pid}.sqlite`));
    const phases: Record<string, number> = {};
    let last = performance.now();
    let lastPhase = 'start';
    const start = performance.now();
    const report = await importReference(db, { name: 'bench', paths: [file], engine, onProgress: (p) => {
      const now = performance.now();
      phases[lastPhase] = (phases[lastPhase] ?? 0) + (now - last) / 1000;
      last = now;
      lastPhase = p.phase;
    } });
    const seconds = (performance.now() - start) / 1000;
    await db.close();
    for (const s of ['', '-wal', '-shm']) rmSync(join(tmpdir(), `reference-bench-${process.pid}.sqlite${s}`), { force: true });
    extra = { seconds, adapters: report.imported[0]?.adapters, errors: report.errors, backend: engine.info.name,
      phases: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Number(v.toFixed(2))])) };
    engine.dispose();
  }
  process.stdout.write(JSON.stringify({ mode, total: (performance.now() - t0) / 1000, maxRssMB: process.resourceUsage().maxRSS / 1024, ...extra }) + '\n');
}

async function main(): Promise<void> {
  const targetMB = Number(process.env.REFERENCE_BENCH_MB ?? 600);
  const rowGroup = Number(process.env.REFERENCE_BENCH_ROW_GROUP ?? 2);
  const rows = Math.max(1, Math.ceil(targetMB / ROW_MB));
  const dir = mkdtempSync(join(tmpdir(), 'reference-bench-'));
  const file = join(dir, 'train-00000-of-00001.parquet');
  try {
    const { writeLoraWiseParquet } = await import('../../main/reference/lorawise-writer.ts');
    const { sd1Modules } = await import('../unit/reference/fixture.ts');
    const layout = sd1Modules(1);
    const names = ['plushie_panda', 'cat_statue', 'robot_toy', 'red_cartoon', 'wolf_plushie', 'teapot'];
    const t0 = performance.now();
    const data = Array.from({ length: rows }, (_, i) => ({
      name: names[i % names.length], label: [1, 10, 100, 500, 1000][Math.floor(i / names.length) % 5] + Math.floor(i / 30),
      modules: layout.map((m) => ({
        id: m.id, rank: RANK, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: 1,
        a: Float64Array.from({ length: RANK * m.inFeatures }, () => (Math.random() - 0.5) / RANK),
        b: Float64Array.from({ length: m.outFeatures * RANK }, () => (Math.random() - 0.5) * 1e-3),
      })),
    }));
    await writeLoraWiseParquet(file, data, { compression: 'snappy', rowGroupSize: rowGroup });
    data.length = 0;
    const size = statSync(file).size;
    console.log(`shard: ${rows} rows × ${ROW_MB.toFixed(1)} MB (rank ${RANK}, SD-1.x shapes, random float64, snappy, ${rowGroup} rows/row group): ` +
      `${(size / 1e6).toFixed(0)} MB on disk, written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const self = fileURLToPath(import.meta.url);
    const run = (mode: string, backend = 'auto') => {
      const r = spawnSync(process.execPath, [self, '--child', mode, file, backend], { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (r.status !== 0) throw new Error(`${mode} failed:\n${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { seconds: number; maxRssMB: number; [k: string]: unknown };
    };
    const scan = run('scan');
    const imports = (process.env.REFERENCE_BENCH_BACKENDS ?? 'cpu,auto').split(',').map((b) => run('import', b.trim()));
    const mbps = (s: number) => (size / 1e6 / s).toFixed(0);
    console.log('\n| step | seconds | MB/s | peak RSS | × scan |');
    console.log('|---|---|---|---|---|');
    console.log(`| DuckDB scan of all 256 weight columns (baseline) | ${scan.seconds.toFixed(2)} | ${mbps(scan.seconds)} | ${scan.maxRssMB.toFixed(0)} MB | 1.00 |`);
    for (const imp of imports) {
      console.log(`| importReference (hash, decode, features [${imp.backend}], sqlite) | ${imp.seconds.toFixed(2)} | ${mbps(imp.seconds)} | ${imp.maxRssMB.toFixed(0)} MB | ${(imp.seconds / scan.seconds).toFixed(2)} |`);
    }
    console.log('');
    for (const imp of imports) {
      console.log(`[${imp.backend}] time after each progress phase began (s): ${JSON.stringify(imp.phases)}; adapters ${imp.adapters}; errors ${JSON.stringify(imp.errors)}`);
      console.log(`[${imp.backend}] targets: import ≤ 3× scan: ${imp.seconds <= 3 * scan.seconds ? 'met' : 'NOT met'}; peak RSS ≤ 1.5 GB: ${imp.maxRssMB <= 1536 ? 'met' : 'NOT met'}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const i = process.argv.indexOf('--child');
if (i >= 0) await child(process.argv[i + 1], process.argv[i + 2]);
else await main();
