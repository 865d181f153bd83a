// Issue 18's measurement: classifiers weighted by, or restricted to the best by, their held-out
// accuracy on the reference names, against the existing variants and best mode, on the same splits
// (evaluate's protocol, seed 42). For each set: every ablation (the extra variants included), then
// best mode choosing among the candidates alone and with each group of extra variants offered.
//
//   ./node_modules/.bin/node test/bench/dsire-variants.ts [--db <path with the demo set imported as "demo">] [--json out.json]
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { evaluate } from '../../main/dsire/evaluate.ts';
import type { EvaluationResult, MeanStd, Variant } from '../../main/dsire/types.ts';
import { ACC_1, ACC_K3, ALL_K3, CANDIDATES, DW_ACC_K3, DW_K3, DW_ONLY, FAITHFUL, TOP25_K3, TOP50_1, TOP50_K3 } from '../../main/dsire/variants.ts';
import type { ReferenceSet } from '../../main/reference/types.ts';
import { syntheticSd1Adapter } from '../../native/probe.ts';
import { syntheticReference } from '../unit/dsire/synthetic.ts';

const { values } = parseArgs({ options: { db: { type: 'string' }, json: { type: 'string' } } });
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };

const sets: { label: string; ref: () => Promise<ReferenceSet>; trainNames: number }[] = [];
if (values.db) {
  sets.push({
    label: 'demo reference (assets/demo/reference: 10 names × sizes 1–6, rank 4, 128 modules), 5 reference names',
    trainNames: 5,
    ref: async () => {
      const { openDatabase } = await import('../../main/services/database.ts');
      const { loadReferenceSet } = await import('../../main/reference/store.ts');
      const db = await openDatabase(values.db!);
      return loadReferenceSet(db, 'demo').finally(() => db.close());
    },
  });
}
for (const [noise, nameNoise, label] of [[0.2, 0.12, 'medium'], [0.35, 0.15, 'high']] as const) {
  sets.push({ label: `synthetic ${label} noise (50 names × sizes 1–6, 16 modules, rank 16, noise ${noise}, name noise ${nameNoise}, seed 1), 15 reference names`, trainNames: 15, ref: async () => syntheticReference({ names: 50, modules: 16, rank: 16, noise, nameNoise, seed: 1 }) });
}
const layout = syntheticSd1Adapter(1).map((m) => ({ id: m.id, inFeatures: m.inFeatures, outFeatures: m.outFeatures }));
sets.push({ label: 'synthetic bench set (test/bench/dsire.bench.ts: 50 names × sizes 1–6, the 128 SD-1.x modules, rank 32, noise 0.15, name noise 0.1, seed 1), 15 reference names', trainNames: 15, ref: async () => syntheticReference({ names: 50, sizes: [1, 2, 3, 4, 5, 6], layout, rank: 32, noise: 0.15, nameNoise: 0.1, seed: 1 }) });

// Best mode's candidates before issue 18, and the groups offered beside them.
const BEFORE = [FAITHFUL, DW_ONLY, ALL_K3, DW_K3];
const ACCURACY = [ACC_1, ACC_K3, DW_ACC_K3];
const TOP = [TOP50_1, TOP50_K3, TOP25_K3];
const offered: { label: string; candidates: Variant[] }[] = [
  { label: 'the four candidates before issue 18', candidates: BEFORE },
  { label: '+ accuracy-weighted (1-NN, 3-NN, σ(ΔW) 3-NN)', candidates: [...BEFORE, ...ACCURACY] },
  { label: '+ top fraction (50 % 1-NN, 50 % 3-NN, 25 % 3-NN)', candidates: [...BEFORE, ...TOP] },
  { label: '+ both groups', candidates: [...BEFORE, ...ACCURACY, ...TOP] },
  { label: '+ 3-NN × held-out accuracy alone (CANDIDATES since issue 18)', candidates: [...BEFORE, ACC_K3] },
  { label: '+ 3-NN top 50 % alone', candidates: [...BEFORE, TOP50_K3] },
  { label: '+ 3-NN × accuracy and 3-NN top 50 %', candidates: [...BEFORE, ACC_K3, TOP50_K3] },
];

const pm = (x: MeanStd, digits = 3, scale = 1) => `${(x.mean * scale).toFixed(digits)} ± ${(x.std * scale).toFixed(digits)}`;
const out: unknown[] = [];
console.log(`# ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; CANDIDATES now: ${CANDIDATES.map((v) => v.name).join(' | ')}`);
for (const set of sets) {
  const ref = await set.ref();
  console.log(`\n## ${set.label}`);
  const runs: { label: string; r: EvaluationResult; wall: number; cpu: number }[] = [];
  for (const o of offered) {
    const w0 = performance.now();
    const c0 = cpuMs();
    // every run measures every variant (the ablation table is the same in each), and offers its group
    const r = evaluate(ref, { splits: 10, trainNames: set.trainNames, seed: 42, mode: 'best', extraVariants: [...ACCURACY, ...TOP], candidates: o.candidates });
    runs.push({ label: o.label, r, wall: performance.now() - w0, cpu: cpuMs() - c0 });
  }
  const all = runs[runs.length - 1].r;
  console.log('| variant (held-out names, same 10 splits) | accuracy % | MAE | MAPE % |\n|---|---:|---:|---:|');
  for (const v of all.ablations.variants) console.log(`| ${v.variant.name} | ${pm(v.accuracy, 1, 100)} | ${pm(v.mae)} | ${pm(v.mape, 1)} |`);
  console.log(`| regression (snapped) | ${pm(all.ablations.regression.accuracy, 1, 100)} | ${pm(all.ablations.regression.mae)} | ${pm(all.ablations.regression.mape, 1)} |`);
  console.log('\n| best mode, offered | accuracy % | MAE | MAPE % | Δ MAE vs the four before, paired (splits better / worse) | interval coverage % | chosen per split | wall / CPU ms |\n|---|---:|---:|---:|---:|---:|---|---:|');
  const base = runs[0].r.splits;
  for (const { label, r, wall, cpu } of runs) {
    const chosen = Object.entries(r.comparison!.chosen).map(([k, n]) => `${k} ×${n}`).join('; ');
    const d = r.splits.map((x, i) => x.mae - base[i].mae);
    const paired = `${(d.reduce((a, b) => a + b, 0) / d.length).toFixed(3)} (${d.filter((x) => x < 0).length} / ${d.filter((x) => x > 0).length})`;
    console.log(`| ${label} | ${pm(r.accuracy, 1, 100)} | ${pm(r.mae)} | ${pm(r.mape, 1)} | ${paired} | ${pm(r.interval!.coverage, 1, 100)} | ${chosen} | ${wall.toFixed(0)} / ${cpu.toFixed(0)} |`);
  }
  out.push({ set: set.label, runs: runs.map(({ label, r }) => ({ label, accuracy: r.accuracy, mae: r.mae, mape: r.mape, chosen: r.comparison!.chosen, coverage: r.interval!.coverage, ablations: r.ablations.variants.map((v) => ({ name: v.variant.name, accuracy: v.accuracy, mae: v.mae, mape: v.mape })) })) });
}
if (values.json) writeFileSync(values.json, JSON.stringify(out, null, 1));
