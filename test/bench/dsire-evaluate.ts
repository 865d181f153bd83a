// `evaluate` in a fresh process, as the CLI runs it: the first call (nothing compiled or warmed up
// beforehand, every page of memory new) and then the best of a few more calls in the same process.
// Run by dsire.bench.ts, which keeps these apart from its own heap; prints one JSON line.
//   ./node_modules/.bin/node test/bench/dsire-evaluate.ts faithful|best kernel|plain [calls]
import { evaluate } from '../../main/dsire/evaluate.ts';
import { syntheticSd1Adapter } from '../../native/probe.ts';
import { syntheticReference } from '../unit/dsire/synthetic.ts';

const mode = process.argv[2] === 'best' ? 'best' : 'faithful';
const plainLoops = process.argv[3] === 'plain';
const calls = Math.max(1, Number(process.argv[4] ?? 4));
const layout = syntheticSd1Adapter(1).map((m) => ({ id: m.id, inFeatures: m.inFeatures, outFeatures: m.outFeatures }));
const ref = syntheticReference({ names: 50, sizes: [1, 2, 3, 4, 5, 6], layout, rank: 32, noise: 0.15, nameNoise: 0.1, seed: 1 });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const runs: { wall: number; cpu: number }[] = [];
let accuracy = 0;
for (let i = 0; i < calls; i++) {
  const w0 = performance.now();
  const c0 = cpu();
  accuracy = evaluate(ref, { splits: 10, trainNames: 15, seed: 42, mode, plainLoops }).accuracy.mean;
  runs.push({ wall: performance.now() - w0, cpu: cpu() - c0 });
}
const rest = runs.slice(1);
const warm = rest.length > 0 ? rest.reduce((a, b) => (b.wall < a.wall ? b : a)) : runs[0];
console.log(JSON.stringify({ first: runs[0], warm, accuracy }));
