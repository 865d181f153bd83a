// The fuzz harness finds what it claims to find: run over planted faults (test/fuzz/selftest-targets.ts)
// it reports an untyped exception, an unhandled rejection, a slow input and a hang (killing the
// worker), stays quiet for a reader that only answers with typed errors, and exits non-zero.
// Its verdicts count the worker's CPU time, so this passes on a machine busy with other work (checked
// with two CPU-bound processes beside it); only the stall backstop reads the clock.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

// Generous: the verdicts count CPU seconds, which a busy machine hands out slowly; nothing is asserted about the clock.
const RUN_LIMIT_MS = 280_000;

function fuzz(selftest: string, args: string[]) {
  const r = spawnSync(process.execPath, [join(root, 'test/fuzz/run.mjs'), ...args],
    { cwd: root, encoding: 'utf8', timeout: RUN_LIMIT_MS, env: { ...process.env, LORA_AUDIT_FUZZ_SELFTEST: selftest } });
  return { status: r.status, out: r.stdout + r.stderr };
}

describe('npm run fuzz on planted faults', () => {
  it('reports each kind of finding, names the reader, and exits 1', () => {
    const { status, out } = fuzz('1', ['--seconds', '10', '--watchdog-s', '5', '--seed', '42', '--out', 'fuzz-selftest.json']);
    expect(status, out).toBe(1);
    expect(out).toMatch(/FINDING in selftest crash: not a typed AuditError: TypeError/);
    expect(out).toMatch(/FINDING in selftest rejection: unhandled rejection: Error: nobody awaited this/);
    expect(out).toMatch(/FINDING in selftest slow: too slow: \d+ ms of CPU for \d+ bytes/);
    expect(out).toMatch(/FINDING in selftest hang: hang: no progress for 5 s of CPU time after input \d+/);
    expect(out).not.toMatch(/FINDING in selftest clean/);
    const summary = JSON.parse(readFileSync(join(root, 'test-results', 'fuzz-selftest.json'), 'utf8')) as { results: { name: string; inputs: number; refused: number; findings: string[] }[] };
    const clean = summary.results.find((x) => x.name === 'selftest clean')!;
    expect(clean.findings).toEqual([]);
    expect(clean.inputs).toBeGreaterThan(10);
    expect(clean.refused).toBeGreaterThan(0);
  }, RUN_LIMIT_MS + 10_000);

  it('reports an input that waits forever without computing as stalled, after --stall-s of wall time', () => {
    const { status, out } = fuzz('stall', ['--seconds', '2', '--stall-s', '3', '--seed', '42', '--out', 'fuzz-selftest-stall.json']);
    expect(status, out).toBe(1);
    expect(out).toMatch(/FINDING in selftest stall: stalled: no progress and under 1 s of CPU in 3 s of wall time/);
  }, RUN_LIMIT_MS + 10_000);
});
