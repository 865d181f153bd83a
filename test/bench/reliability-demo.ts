// The reliability protocol (main/dsire/reliability.ts: 10 seeded splits by name, a quarter of the names
// held out) on the shipped demo reference, as an import or a first analysis pays it: the set's content
// hash and the protocol, first call and then more calls in the same process, wall and CPU, per mode.
//   ./node_modules/.bin/node test/bench/reliability-demo.ts [calls]
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { importReference } from '../../main/reference/import-parquet.ts';
import { loadReferenceSet } from '../../main/reference/store.ts';
import { measureReliability, setContentHash } from '../../main/dsire/reliability.ts';
import { openDatabase } from '../../main/services/database.ts';
import { createFeatureEngine } from '../../native/engine.ts';

const calls = Math.max(1, Number(process.argv[2] ?? 5));
const dir = mkdtempSync(join(tmpdir(), 'reliability-bench-'));
const db = await openDatabase(join(dir, 'cases.sqlite'));
const engine = await createFeatureEngine({ backend: 'cpu' });
await importReference(db, { name: 'demo', paths: [join(import.meta.dirname, '../../assets/demo/reference/train-00000-of-00001.parquet')], rank: 4, engine });
engine.dispose();
const ref = await loadReferenceSet(db, 'demo');
await db.close();
rmSync(dir, { recursive: true, force: true });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (const mode of ['best', 'faithful'] as const) {
  const runs: { hash: number; wall: number; cpu: number }[] = [];
  let figures = '';
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const hash = setContentHash(ref);
    const t1 = performance.now();
    const c0 = cpu();
    const out = measureReliability(ref, mode, hash);
    runs.push({ hash: t1 - t0, wall: performance.now() - t1, cpu: cpu() - c0 });
    if ('record' in out) {
      const r = out.record;
      figures = `accuracy ${(100 * r.accuracy.mean).toFixed(1)} %, within one ${(100 * r.withinOne).toFixed(1)} %, MAE ${r.mae.mean.toFixed(3)}, MAPE ${r.mape.mean.toFixed(1)} %`
        + (r.interval ? `, coverage ${(100 * r.interval.coverage.mean).toFixed(1)} %, width ${r.interval.meanWidth.mean.toFixed(2)} sizes` : '');
    }
  }
  const later = runs.slice(1).sort((a, b) => a.wall - b.wall);
  const median = later[Math.floor(later.length / 2)] ?? runs[0];
  console.log(JSON.stringify({ mode, first: runs[0], median, figures }));
}
