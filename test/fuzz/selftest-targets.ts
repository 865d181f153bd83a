// Planted faults, used only by test/unit/hardening/fuzz-harness.test.ts (LORA_AUDIT_FUZZ_SELFTEST=1)
// to prove the harness reports each kind of finding: an untyped exception, an unhandled rejection,
// a slow input, a hang (CPU burnt without progress), and nothing for a reader that only ever answers
// with typed errors. LORA_AUDIT_FUZZ_SELFTEST=stall plants, alone, an input that waits forever
// without computing (run alone: its verdict is the one that reads the wall clock).
import fc from 'fast-check';
import { AuditError } from '../../main/errors.ts';
import type { Target } from './target.ts';

const simple = (name: string, run: (n: number) => void | Promise<void>): Target => ({
  name, weight: 1,
  async prepare() {
    return { arbitrary: fc.integer({ min: 0, max: 1000 }), async run(n, time) { await time(n, () => run(n)); } };
  },
});

/** Computes for `seconds` of CPU time; asks the clock rarely (asking is a system call, and would be most of the work). */
function burnCpu(seconds: number): void {
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
  const end = cpu() + seconds;
  let x = 0;
  while (cpu() < end) for (let i = 0; i < 1e6; i++) x = (x * 31 + i) % 1_000_003;
  if (x < 0) throw new Error('unreachable');
}

const PLANTED: Target[] = [
  simple('selftest clean', (n) => { if (n % 2) throw new AuditError('BAD_HEADER', `odd ${n}`, 'x'); }),
  simple('selftest crash', (n) => { (null as unknown as { x: number }).x = n; }),
  simple('selftest rejection', () => { void Promise.reject(new Error('nobody awaited this')); }),
  simple('selftest slow', () => burnCpu(1.5)),
  simple('selftest hang', () => { for (;;); }),
];

const STALL: Target[] = [simple('selftest stall', () => new Promise<void>(() => undefined))];

export const SELFTEST_TARGETS: Target[] = process.env.LORA_AUDIT_FUZZ_SELFTEST === 'stall' ? STALL : PLANTED;
