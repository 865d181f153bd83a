// The fuzz harness: `npm run fuzz` (-- --seconds N | --minutes N, --seed S, --only "<target>",
// --rss-mb N, --watchdog-s N, --out <file in test-results>). Each reader runs in its own forked process for its share of the time; a process that
// stops reporting for WATCHDOG_MS is killed and counted as a hang. Prints a table (inputs tried,
// accepted, refused with a typed error, findings, slowest input, peak RSS), writes
// test-results/fuzz.json, and exits 1 on any finding.
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TARGETS } from './targets.ts';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '../..');
const args = process.argv.slice(2);
const opt = (name) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : undefined; };
const seconds = opt('minutes') ? Number(opt('minutes')) * 60 : Number(opt('seconds') ?? 60);
const seed = Number(opt('seed') ?? Date.now() % 2 ** 31);
const rssMb = Number(opt('rss-mb') ?? 1536);
const only = opt('only');
// far above the slowest legitimate input (a few s of CPU) even on a loaded machine; the self-test lowers it
const WATCHDOG_MS = Number(opt('watchdog-s') ?? 120) * 1000;
const outFile = opt('out') ?? 'fuzz.json';

const targets = TARGETS.filter((t) => !only || t.name === only);
if (!targets.length) { console.error(`no target named "${only}"; targets: ${TARGETS.map((t) => t.name).join(', ')}`); process.exit(2); }
const totalWeight = targets.reduce((s, t) => s + t.weight, 0);
console.log(`fuzz: ${targets.length} readers, ${seconds} s, seed ${seed}, RSS cap ${rssMb} MB, Node ${process.version}`);

function runTarget(target, ms) {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const child = fork(join(here, 'worker.ts'), [target.name, String(started + ms), String(seed), String(rssMb)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let last = { inputs: 0 };
    let result = null;
    let hung = false;
    let timer;
    const arm = () => { clearTimeout(timer); timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, WATCHDOG_MS); };
    arm();
    child.on('message', (m) => {
      arm();
      if (m.type === 'tick') last = m;
      if (m.type === 'done') result = m.stats;
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      if (!result) {
        result = { inputs: last.inputs, accepted: 0, refused: 0, codes: {}, slowest: { cpuMs: 0, wallMs: 0, bytes: 0 }, largest: 0, peakRssMb: 0,
          findings: [hung ? `hang: no progress for ${WATCHDOG_MS / 1000} s after input ${last.inputs} (replay: --only "${target.name}" --seed ${seed})`
            : `the worker died (exit ${code}, signal ${signal}) after input ${last.inputs}`] };
      }
      resolvePromise({ name: target.name, seconds, ...result });
    });
  });
}

const results = [];
for (const t of targets) results.push(await runTarget(t, (seconds * 1000 * t.weight) / totalWeight));

const pad = (s, n) => String(s).padEnd(n);
const lpad = (s, n) => String(s).padStart(n);
console.log(`\n${pad('reader', 20)}${lpad('s', 6)}${lpad('inputs', 9)}${lpad('accepted', 10)}${lpad('refused', 9)}${lpad('findings', 10)}  ${pad('slowest (CPU ms / bytes)', 26)}${lpad('peak RSS MB', 12)}`);
for (const r of results) {
  console.log(`${pad(r.name, 20)}${lpad(r.seconds.toFixed(0), 6)}${lpad(r.inputs, 9)}${lpad(r.accepted, 10)}${lpad(r.refused, 9)}${lpad(r.findings.length, 10)}  ${pad(`${r.slowest.cpuMs} / ${r.slowest.bytes}`, 26)}${lpad(r.peakRssMb, 12)}`);
}
const total = results.reduce((s, r) => ({ inputs: s.inputs + r.inputs, findings: s.findings + r.findings.length }), { inputs: 0, findings: 0 });
console.log(`\n${total.inputs} inputs, ${total.findings} findings`);
for (const r of results) for (const f of r.findings) console.log(`\nFINDING in ${r.name}: ${f}`);
for (const r of results) console.log(`${r.name}: refusals by code ${JSON.stringify(r.codes)}`);
mkdirSync(join(root, 'test-results'), { recursive: true });
writeFileSync(join(root, 'test-results', outFile), JSON.stringify({ seconds, seed, node: process.version, results, ...total }, null, 2));
process.exit(total.findings ? 1 : 0);
