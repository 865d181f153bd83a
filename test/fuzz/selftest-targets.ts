// Planted faults, used only by test/unit/hardening/fuzz-harness.test.ts (LORA_AUDIT_FUZZ_SELFTEST=1)
// to prove the harness reports each kind of finding: an untyped exception, an unhandled rejection,
// a slow input, a hang, and nothing for a reader that only ever answers with typed errors.
import fc from 'fast-check';
import { AuditError } from '../../main/errors.ts';
import type { Target } from './target.ts';

const simple = (name: string, run: (n: number) => void | Promise<void>): Target => ({
  name, weight: 1,
  async prepare() {
    return { arbitrary: fc.integer({ min: 0, max: 1000 }), async run(n, time) { await time(n, () => run(n)); } };
  },
});

export const SELFTEST_TARGETS: Target[] = [
  simple('selftest clean', (n) => { if (n % 2) throw new AuditError('BAD_HEADER', `odd ${n}`, 'x'); }),
  simple('selftest crash', (n) => { (null as unknown as { x: number }).x = n; }),
  simple('selftest rejection', () => { void Promise.reject(new Error('nobody awaited this')); }),
  simple('selftest slow', () => { const end = process.cpuUsage().user + 1_500_000; while (process.cpuUsage().user < end); }),
  simple('selftest hang', () => { for (;;); }),
];
