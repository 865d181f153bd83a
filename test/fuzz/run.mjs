// The fuzz harness: `npm run fuzz` (-- --seconds N | --minutes N, --seed S, --only "<target>",
// --rss-mb N, --watchdog-s N, --stall-s N, --out <file in test-results>). Each reader runs in its own
// forked process for its share of the time. Prints a table (inputs tried, accepted, refused with a
// typed error, findings, slowest input, peak RSS), writes test-results/fuzz.json, and exits 1 on any
// finding.
//
// Hang verdicts count the worker's CPU time, not the clock, so a machine busy with other work cannot
// turn a slow input into a "hang": a worker whose CPU time grows by --watchdog-s seconds with no
// progress report is killed as a hang (Linux: utime+stime from /proc/<pid>/stat). Starvation slows the
// CPU clock down with everything else. The one wall-clock verdict is a backstop for a worker that
// neither reports nor computes (waiting on I/O that never comes): --stall-s, far above any scheduling
// delay. Where /proc cannot be read the hang verdict falls back to wall time, and says so.
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
// CPU seconds without progress: far above the slowest legitimate input (a few s of CPU); the self-test lowers it
const WATCHDOG_S = Number(opt('watchdog-s') ?? 120);
// wall seconds with neither progress nor (under 1 s of) CPU: only a worker blocked on I/O gets there
const STALL_S = Number(opt('stall-s') ?? 600);
const outFile = opt('out') ?? 'fuzz.json';

const targets = TARGETS.filter((t) => !only || t.name === only);
if (!targets.length) { console.error(`no target named "${only}"; targets: ${TARGETS.map((t) => t.name).join(', ')}`); process.exit(2); }
const totalWeight = targets.reduce((s, t) => s + t.weight, 0);
console.log(`fuzz: ${targets.length} readers, ${seconds} s, seed ${seed}, RSS cap ${rssMb} MB, Node ${process.version}`);

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux ABI). */
const clockTicks = (() => {
  try { return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { return 100; }
})();

/** CPU seconds (user + system) a process has used, or null where /proc is not there to ask. */
function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name, which is in parentheses and may itself hold spaces or ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

const POLL_MS = 250;
/** A worker that used less CPU than this over --stall-s seconds was waiting, not starved. */
const STALL_CPU_S = 1;

function runTarget(target, ms) {
  return new Promise((resolvePromise) => {
    const started = Date.now();
    const child = fork(join(here, 'worker.ts'), [target.name, String(started + ms), String(seed), String(rssMb)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let last = { inputs: 0 };
    let result = null;
    let verdict = null;
    // at the last progress report: the worker's CPU seconds and the wall clock (read by the next poll)
    let progress = { cpu: 0, wall: Date.now() };
    let progressed = false;
    const watchdog = setInterval(() => {
      const cpu = cpuSeconds(child.pid);
      if (progressed) {
        progressed = false;
        progress = { cpu: cpu ?? 0, wall: Date.now() };
        return;
      }
      const idleWall = (Date.now() - progress.wall) / 1000;
      if (cpu !== null && cpu - progress.cpu > WATCHDOG_S) {
        verdict = `hang: no progress for ${WATCHDOG_S} s of CPU time after input ${last.inputs}`;
      } else if (cpu === null && idleWall > WATCHDOG_S) {
        verdict = `hang: no progress for ${WATCHDOG_S} s of wall time after input ${last.inputs} (the worker's CPU time is unreadable here: no /proc)`;
      } else if (idleWall > STALL_S && cpu - progress.cpu < STALL_CPU_S) {
        verdict = `stalled: no progress and under ${STALL_CPU_S} s of CPU in ${STALL_S} s of wall time after input ${last.inputs} (waiting on something that never comes?)`;
      }
      if (verdict) { clearInterval(watchdog); child.kill('SIGKILL'); }
    }, POLL_MS);
    child.on('message', (m) => {
      progressed = true;
      if (m.type === 'tick') last = m;
      if (m.type === 'done') result = m.stats;
    });
    child.on('exit', (code, signal) => {
      clearInterval(watchdog);
      const seconds = (Date.now() - started) / 1000;
      if (!result) {
        result = { inputs: last.inputs, accepted: 0, refused: 0, codes: {}, slowest: { cpuMs: 0, wallMs: 0, bytes: 0 }, largest: 0, peakRssMb: 0,
          findings: [verdict ? `${verdict} (replay: --only "${target.name}" --seed ${seed})`
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
