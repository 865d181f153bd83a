// Provenance lookup against a lab-sized library: 10,000 stored adapters (a reference set of SD-1.x
// attention LoRAs at full width, 128 modules, rank 8: 1,000 image sets × 10 sizes), their rows inserted
// directly with synthetic σ(ΔW) spectra, plus one real adapter among them. Timed:
//   index    syncIndex builds the provenance index of the set once (fingerprint rows, module and
//            adapter R-trees, the near calibration over 45,000 same-name pairs)
//   file     fingerprintFile on a kohya conversion of the real adapter (read, σ(ΔW), probe sketches)
//   search   searchIndex with that fingerprint: R-tree pre-filters, candidates read back and compared
//            exactly, where-resolution; it must find the real adapter as the same update
// Target: search well under a second. Medians of RUNS, with the load average (a shared machine).
//
//   ./node_modules/.bin/node test/bench/provenance.bench.ts
//   PROVENANCE_BENCH_ADAPTERS=2000   a quick run
//   PROVENANCE_BENCH_RUNS=9          searches timed (default 7)
//   PROVENANCE_BENCH_SHAPES=same     the pre-filter's worst case: every stored module has the query's σ(ΔW)
//                                    shape (each scaled differently), so the module R-tree selects nothing
//                                    and the candidate bounds (MAX_HITS, MAX_CANDIDATES) do the work
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../main/services/database.ts';
import { writeStandalone } from '../../main/generator/adapters.ts';
import { packFeatures } from '../../main/reference/features-blob.ts';
import { fingerprintFile } from '../../main/provenance/file.ts';
import { searchIndex } from '../../main/provenance/search.ts';
import { syncIndex } from '../../main/provenance/sync.ts';
import { cpuFeatures } from '../../native/cpu.ts';
import type { ModuleFeatures } from '../../native/types.ts';
import { mulberry32 } from '../../native/prng.ts';
import { randomAdapter, sd1Modules } from '../unit/reference/fixture.ts';

const ADAPTERS = Number(process.env.PROVENANCE_BENCH_ADAPTERS ?? 10_000);
const RUNS = Number(process.env.PROVENANCE_BENCH_RUNS ?? 7);
const SAME_SHAPES = process.env.PROVENANCE_BENCH_SHAPES === 'same';
const RANK = 8;
const SIZES = [1, 5, 10, 20, 50, 100, 200, 300, 400, 500];
const layout = sd1Modules(1);
const ids = layout.map((m) => m.id);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number; value: T }> {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const u = process.cpuUsage(cpu);
  return { ms: performance.now() - t0, cpuMs: (u.user + u.system) / 1000, value };
}

/** A plausible trained spectrum per module: decaying, with per-adapter and per-module variation. */
function syntheticFeatures(seed: number): ModuleFeatures[] {
  const next = mulberry32(seed);
  const level = 0.5 + next();
  return ids.map((id) => {
    const sigmaDW = new Float64Array(RANK);
    const decay = 0.3 + 0.4 * next();
    for (let i = 0; i < RANK; i++) sigmaDW[i] = level * Math.exp(-decay * i) * (1 + 0.2 * next());
    sigmaDW.sort().reverse();
    const sigmaA = sigmaDW.map((v) => v * 3);
    const sigmaB = sigmaDW.map((v) => v / 2);
    const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    return { id, rank: RANK, sigmaA, sigmaB, sigmaDW, normA: norm(sigmaA), normB: norm(sigmaB), normDW: norm(sigmaDW), effectiveRank: 4 };
  });
}

/** The query's own spectra, each module scaled by its own factor: no module shape tells them apart. */
function sameShapes(features: ModuleFeatures[], k: number): ModuleFeatures[] {
  return features.map((f, m) => {
    const c = 1.5 + k / ADAPTERS + (m % 7) * 0.01;
    return { ...f, sigmaDW: f.sigmaDW.map((v) => v * c), normDW: f.normDW * c };
  });
}

const dir = mkdtempSync(join(tmpdir(), 'lora-audit-bench-provenance-'));
try {
  console.log(`provenance bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}, ` +
    `load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${ADAPTERS} stored adapters${SAME_SHAPES ? ', all of the query\'s σ(ΔW) shapes' : ''}`);
  const db = await openDatabase(join(dir, 'cases.sqlite'));
  // the real adapter: written as kohya (the query) and stored, by its features, among the synthetic ones
  const real = randomAdapter(layout, RANK, 7).map((m) => ({ ...m, a: Float32Array.from(m.a), b: Float32Array.from(m.b) }));
  const [query] = writeStandalone(dir, 'query', 'kohya', real, { name: 'q', size: 10, rank: RANK, steps: 1, learningRate: 1e-4, seed: 1, baseModel: 'sd15' });
  const realFeatures = real.map(cpuFeatures);
  const realAt = Math.floor(ADAPTERS / 2);

  const inserted = await timed(() => db.transaction(async (tx) => {
    const config = { rank: RANK, family: 'diffusers-lora', method: 'lora', scaleRule: 'one', scale: 1, baseModel: 'sd1',
      modules: layout, sizes: [], names: [] };
    const provenance = { source: 'generator', importerVersion: 'bench', createdAt: new Date().toISOString(), shards: [] };
    const set = await tx.run('INSERT INTO reference_sets (name, config, provenance, complete, created_at) VALUES (?, ?, ?, 1, ?)',
      ['bench-library', JSON.stringify(config), JSON.stringify(provenance), new Date().toISOString()]);
    for (let i = 0; i < ADAPTERS; i += 100) {
      const rows: unknown[] = [];
      const n = Math.min(100, ADAPTERS - i);
      for (let k = i; k < i + n; k++) {
        const features = k === realAt ? realFeatures : SAME_SHAPES ? sameShapes(realFeatures, k) : syntheticFeatures(k + 1);
        rows.push(set.lastID, `set-${Math.floor(k / SIZES.length)}`, SIZES[k % SIZES.length], `synthetic row ${k}`, packFeatures(features, ids, RANK));
      }
      await tx.run(`INSERT INTO reference_adapters (set_id, name, label, source, features) VALUES ${Array(n).fill('(?, ?, ?, ?, ?)').join(', ')}`, rows as never);
    }
  }));

  const index = await timed(() => syncIndex(db, { evidenceFile: () => { throw new Error('no evidence in this bench'); } }));
  const files: Awaited<ReturnType<typeof timed<Awaited<ReturnType<typeof fingerprintFile>>>>>[] = [];
  for (let i = 0; i < RUNS; i++) files.push(await timed(() => fingerprintFile(join(dir, query.file))));
  const fp = files[0].value;
  const searches: Awaited<ReturnType<typeof timed<Awaited<ReturnType<typeof searchIndex>>>>>[] = [];
  for (let i = 0; i < RUNS; i++) searches.push(await timed(() => searchIndex(db, { sha256: fp.sha256, fp: fp.fp, describe: { family: fp.family, dtypes: fp.dtypes } })));
  const result = searches[0].value;
  const found = result.matches.find((m) => m.kind === 'same-update' && m.where.source === 'reference' && m.where.name === `set-${Math.floor(realAt / SIZES.length)}`);
  if (!found) throw new Error(`the real adapter was not found: ${JSON.stringify(result.matches.slice(0, 3))}`);
  await db.close();

  console.log('| step | median ms | CPU ms | note |');
  console.log('|---|---:|---:|---|');
  console.log(`| insert ${ADAPTERS} reference rows (synthetic features, rank ${RANK}, 128 modules) | ${inserted.ms.toFixed(0)} | ${inserted.cpuMs.toFixed(0)} | setup, once |`);
  console.log(`| build the provenance index of the set | ${index.ms.toFixed(0)} | ${index.cpuMs.toFixed(0)} | once per set state; ${result.near.sets[0]?.pairs ?? 0} calibration pairs |`);
  console.log(`| fingerprint the query file (kohya, ${(fp.fp!.modules.length)} modules) | ${median(files.map((f) => f.ms)).toFixed(1)} | ${median(files.map((f) => f.cpuMs)).toFixed(1)} | read, σ(ΔW), probe sketches |`);
  console.log(`| **search ${result.searched.referenceAdapters} stored adapters** | **${median(searches.map((s) => s.ms)).toFixed(1)}** | ${median(searches.map((s) => s.cpuMs)).toFixed(1)} | ` +
    `${result.matches.length} match(es): ${result.matches.map((m) => m.kind).join(', ')}; runs ${searches.map((s) => s.ms.toFixed(0)).join(' ')}` +
    `${result.notes.length ? `; notes: ${result.notes.join('; ')}` : ''} |`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
