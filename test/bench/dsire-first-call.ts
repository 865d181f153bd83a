// One `evaluate` in a fresh process, as the CLI runs it: nothing compiled or warmed up beforehand,
// every page of memory new. Run by dsire.bench.ts; prints one JSON line.
//   ./node_modules/.bin/node test/bench/dsire-first-call.ts faithful|best [plain]
import { evaluate } from '../../main/dsire/evaluate.ts';
import { syntheticSd1Adapter } from '../../native/probe.ts';
import { syntheticReference } from '../unit/dsire/synthetic.ts';

const mode = process.argv[2] === 'best' ? 'best' : 'faithful';
const plainLoops = process.argv[3] === 'plain';
const layout = syntheticSd1Adapter(1).map((m) => ({ id: m.id, inFeatures: m.inFeatures, outFeatures: m.outFeatures }));
const ref = syntheticReference({ names: 50, sizes: [1, 2, 3, 4, 5, 6], layout, rank: 32, noise: 0.15, nameNoise: 0.1, seed: 1 });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const w0 = performance.now();
const c0 = cpu();
const result = evaluate(ref, { splits: 10, trainNames: 15, seed: 42, mode, plainLoops });
console.log(JSON.stringify({ wall: performance.now() - w0, cpu: cpu() - c0, accuracy: result.accuracy.mean }));
