// The fuzz harness finds what it claims to find: run over planted faults (test/fuzz/selftest-targets.ts)
// it reports an untyped exception, an unhandled rejection, a slow input and a hang (killing the
// worker), stays quiet for a reader that only answers with typed errors, and exits non-zero.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

describe('npm run fuzz on planted faults', () => {
  it('reports each kind of finding, names the reader, and exits 1', () => {
    const r = spawnSync(process.execPath, [join(root, 'test/fuzz/run.mjs'), '--seconds', '20', '--watchdog-s', '5', '--seed', '42', '--out', 'fuzz-selftest.json'],
      { cwd: root, encoding: 'utf8', timeout: 110_000, env: { ...process.env, LORA_AUDIT_FUZZ_SELFTEST: '1' } });
    const out = r.stdout + r.stderr;
    expect(r.status, out).toBe(1);
    expect(out).toMatch(/FINDING in selftest crash: not a typed AuditError: TypeError/);
    expect(out).toMatch(/FINDING in selftest rejection: unhandled rejection: Error: nobody awaited this/);
    expect(out).toMatch(/FINDING in selftest slow: too slow: \d+ ms of CPU for \d+ bytes/);
    expect(out).toMatch(/FINDING in selftest hang: hang: no progress for 5 s/);
    expect(out).not.toMatch(/FINDING in selftest clean/);
    const summary = JSON.parse(readFileSync(join(root, 'test-results', 'fuzz-selftest.json'), 'utf8')) as { results: { name: string; inputs: number; refused: number; findings: string[] }[] };
    const clean = summary.results.find((x) => x.name === 'selftest clean')!;
    expect(clean.findings).toEqual([]);
    expect(clean.inputs).toBeGreaterThan(10);
    expect(clean.refused).toBeGreaterThan(0);
  });
});
