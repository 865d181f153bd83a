// One fuzz target in its own process (forked by run.mjs, which kills it if its CPU time grows without
// a progress report: a synchronous infinite loop cannot be caught from inside). Feeds fast-check's inputs to the reader
// until the deadline and reports counts, the slowest input and the peak RSS. A finding is any
// exception that is not a typed AuditError, an unhandled rejection, CPU time above 1 s per MB
// (1 s minimum) for one input, or RSS above the cap.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditError } from '../../main/errors.ts';
import { TARGETS } from './targets.ts';

const [name, deadlineArg, seedArg, rssCapArg] = process.argv.slice(2);
const target = TARGETS.find((t) => t.name === name);
if (!target || !process.send) {
  console.error(`worker: unknown target "${name}" or not forked by run.mjs`);
  process.exit(2);
}
const send = (m: unknown) => process.send!(m);
const deadline = Number(deadlineArg);
const seed = Number(seedArg);
const rssCap = Number(rssCapArg) * 1024 * 1024;
/** How long an input still running at the time limit may take to finish (it may be waiting on I/O). */
const STUCK_MS = 60_000;

const stats = {
  inputs: 0, accepted: 0, refused: 0, codes: {} as Record<string, number>, findings: [] as string[],
  slowest: { cpuMs: 0, wallMs: 0, bytes: 0 }, largest: 0, peakRssMb: 0,
};
const finding = (what: string) => {
  if (stats.findings.length < 5) stats.findings.push(what.slice(0, 4000));
};

// A rejection nobody awaited would be lost inside a property: it is a finding of its own.
process.on('unhandledRejection', (e) => { finding(`unhandled rejection: ${(e as Error)?.stack ?? String(e)}`); });

const dir = mkdtempSync(join(tmpdir(), 'lora-audit-fuzz-'));
try {
  const prepared = await target.prepare(dir);
  let cpuMs = 0;
  let wallMs = 0;
  let bytes = 0;
  const time = async <R>(size: number, work: () => Promise<R> | R): Promise<R> => {
    bytes += size;
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    try {
      return await work();
    } finally {
      const c = process.cpuUsage(c0);
      cpuMs += (c.user + c.system) / 1000;
      wallMs += performance.now() - w0;
    }
  };
  let lastTick = 0;
  // fast-check's time limit races the property: an input still running when it fires must finish
  // before the folder is removed under it (it would end in a spurious FILE_NOT_FOUND)
  let running = 0;
  const property = fc.asyncProperty(prepared.arbitrary, async (input) => {
    running++;
    try {
      await one(input);
    } finally {
      running--;
    }
  });
  const one = async (input: unknown) => {
    cpuMs = 0; wallMs = 0; bytes = 0;
    stats.inputs++;
    if (stats.inputs % 10 === 1 || Date.now() - lastTick > 1000) {
      lastTick = Date.now();
      send({ type: 'tick', inputs: stats.inputs });
      // a pure-CPU target never leaves the microtask queue; Node reports unhandled rejections only between macrotasks
      await new Promise((r) => setImmediate(r));
    }
    try {
      await prepared.run(input, time);
      stats.accepted++;
    } catch (e) {
      if (!(e instanceof AuditError)) throw new Error(`not a typed AuditError: ${(e as Error)?.stack ?? String(e)}`);
      stats.refused++;
      stats.codes[e.code] = (stats.codes[e.code] ?? 0) + 1;
    }
    const rss = process.memoryUsage.rss();
    stats.peakRssMb = Math.max(stats.peakRssMb, Math.round(rss / 2 ** 20));
    stats.largest = Math.max(stats.largest, bytes);
    if (cpuMs > stats.slowest.cpuMs) stats.slowest = { cpuMs: Math.round(cpuMs), wallMs: Math.round(wallMs), bytes };
    const limitMs = Math.max(1000, (bytes / 1e6) * 1000);
    if (cpuMs > limitMs) throw new Error(`too slow: ${Math.round(cpuMs)} ms of CPU for ${bytes} bytes (limit ${Math.round(limitMs)} ms)`);
    if (rss > rssCap) throw new Error(`memory: RSS ${Math.round(rss / 2 ** 20)} MB, over the ${rssCap / 2 ** 20} MB cap`);
  };
  const budget = Math.max(1000, deadline - Date.now());
  const details = await fc.check(property, { seed, numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: budget, markInterruptAsFailure: false });
  for (let waited = 0; running > 0 && waited < STUCK_MS; waited += 50) await new Promise((r) => setTimeout(r, 50));
  // waiting without computing: the CPU watchdog in run.mjs cannot see it, so it is said here
  if (running > 0) finding(`an input never finished: still waiting ${STUCK_MS / 1000} s after the time limit (input ${stats.inputs}; replay: --only "${name}" --seed ${seed})`);
  if (details.failed) {
    const why = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
    const example = JSON.stringify(details.counterexample, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? `<${v.length} bytes>` : v))?.slice(0, 1500);
    finding(`${why}\n  replay: --only "${name}" --seed ${seed} (fast-check path ${details.counterexamplePath})\n  input: ${example}`);
  }
  await prepared.close?.();
} catch (e) {
  finding(`the target itself failed: ${(e as Error)?.stack ?? String(e)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
await new Promise((r) => setTimeout(r, 50)); // let the last inputs' unhandled rejections surface
send({ type: 'done', stats });
process.disconnect?.();
