// A command that answers at once (issue 17): `lora-audit features` on three SD-1.x rank-32 adapters
// as a user runs it, a whole process each time, with the default `--backend auto` (first run on a
// machine: calibration; later runs: the cached verdict and one probe) against `--backend cpu`, and
// against the official feature path (torch.svd_lowrank on A, B and BA: test/bench/official-features.py,
// skipped with a note where Debian's python3-torch is not installed). Steps run round-robin so a load
// spike on this shared machine hits all of them alike; medians of wall time, and user+system CPU of
// the child from /usr/bin/time where it exists. The official path runs once, after the rounds.
//
//   node test/bench/cli.bench.ts [--runs 5]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { diffusersKey } from '../../main/intake/naming.ts';
import { encodeSafetensors, type TensorToWrite } from '../../main/intake/safetensors-writer.ts';
import { syntheticSd1Adapter } from '../../native/probe.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const runs = Number(values.runs);
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const cli = join(root, 'bin/lora-audit.mjs');
const TIME = '/usr/bin/time';
const PYTHON = '/usr/bin/python3'; // Debian's, where python3-torch installs

const work = mkdtempSync(join(tmpdir(), 'cli-bench-'));
const files = [1, 2, 3].map((seed) => {
  const tensors: TensorToWrite[] = syntheticSd1Adapter(seed).flatMap((m) => [
    { key: diffusersKey(m.id, 'A'), dtype: 'F32' as const, shape: [m.rank, m.inFeatures], data: m.a },
    { key: diffusersKey(m.id, 'B'), dtype: 'F32' as const, shape: [m.outFeatures, m.rank], data: m.b },
  ]);
  const path = join(work, `adapter-${seed}.safetensors`);
  writeFileSync(path, encodeSafetensors(tensors, { format: 'pt' }));
  return path;
});

interface Sample { wall: number; cpu: number }
/** One whole process: wall ms, and the child's user+system CPU ms (NaN without /usr/bin/time). */
function run(argv: string[], env: Record<string, string> = {}): Sample {
  const timed = existsSync(TIME);
  const cmd = timed ? TIME : argv[0];
  const args = timed ? ['-f', '@@cpu %U %S', ...argv] : argv.slice(1);
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 });
  const wall = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  const m = /@@cpu ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { wall, cpu: m ? (Number(m[1]) + Number(m[2])) * 1000 : Number.NaN };
}

const node = process.execPath;
const warmHome = join(work, 'home-warm');
mkdirSync(warmHome);
let cold = 0;
const haveTorch = spawnSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
const steps: { name: string; fn: () => Sample }[] = [
  { name: '`features` × 3 files, `--backend cpu`', fn: () => run([node, cli, 'features', ...files, '--backend', 'cpu', '--json'], { LORA_AUDIT_HOME: warmHome }) },
  { name: '`features` × 3 files, `--backend auto`, verdict cached (every run after the first)', fn: () => run([node, cli, 'features', ...files, '--json'], { LORA_AUDIT_HOME: warmHome }) },
  { name: '`features` × 3 files, `--backend auto`, first run on the machine (calibrates)', fn: () => {
    const home = join(work, `home-cold-${cold++}`);
    try { return run([node, cli, 'features', ...files, '--json'], { LORA_AUDIT_HOME: home }); } finally { rmSync(home, { recursive: true, force: true }); }
  } },
  { name: '`features` × 1 file, `--backend auto`, verdict cached', fn: () => run([node, cli, 'features', files[0], '--json'], { LORA_AUDIT_HOME: warmHome }) },
  { name: '`--help`', fn: () => run([node, cli, '--help']) },
];
// The official path takes minutes (1,152 svd_lowrank calls, three on each module): once, after the rounds.
const OFFICIAL = 'official path: torch.svd_lowrank on A, B, BA × 3 files (python3, whole process, one run)';

console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.versions.node}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log(`3 synthetic SD-1.x attention adapters, rank 32, 128 modules, ${files.length} files; ${runs} rounds, medians`);
try {
  run([node, cli, 'features', files[0], '--json'], { LORA_AUDIT_HOME: warmHome }); // fills the warm cache, pages the files in
  const samples: Sample[][] = steps.map(() => []);
  for (let i = 0; i < runs; i++) for (const [k, s] of steps.entries()) samples[k].push(s.fn());
  const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
  const med = samples.map((xs) => ({ wall: median(xs.map((x) => x.wall)), cpu: median(xs.map((x) => x.cpu)) }));
  const cpuStep = med[0];
  console.log('\n| whole process | wall ms (median) | CPU ms (median) | × `--backend cpu` (wall) | × `--backend cpu` (CPU) |\n|---|---:|---:|---:|---:|');
  for (const [k, s] of steps.entries()) {
    console.log(`| ${s.name} | ${med[k].wall.toFixed(0)} | ${med[k].cpu.toFixed(0)} | ${(med[k].wall / cpuStep.wall).toFixed(2)} | ${(med[k].cpu / cpuStep.cpu).toFixed(2)} |`);
  }
  if (haveTorch) {
    const official = run([PYTHON, join(here, 'official-features.py'), ...files]);
    console.log(`| ${OFFICIAL} | ${official.wall.toFixed(0)} | ${official.cpu.toFixed(0)} | ${(official.wall / cpuStep.wall).toFixed(2)} | ${(official.cpu / cpuStep.cpu).toFixed(2)} |`);
    console.log(`\n\`features --backend auto\` (cached) is ${(official.wall / med[1].wall).toFixed(1)}× faster than the official path by wall time, ${(official.cpu / med[1].cpu).toFixed(1)}× by CPU time`);
  } else {
    console.log(`\nofficial path skipped: ${PYTHON} cannot import torch (apt install python3-torch)`);
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
