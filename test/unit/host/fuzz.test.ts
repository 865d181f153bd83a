// The "host request" fuzz target's property on a fixed sample, so CI checks it on every run (the
// fuzz harness, `npm run fuzz -- --only "host request"`, searches further): every damaged raw request
// gets well-formed HTTP, a status under 500, and a 4xx in the one error shape.
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { AuditError } from '../../../main/errors.ts';
import { hostRequest } from '../../fuzz/host-targets.ts';

it('answers 400 fixed damaged requests within the property', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-host-fuzz-'));
  const prepared = await hostRequest.prepare(dir);
  const codes: Record<string, number> = {};
  const findings: string[] = [];
  try {
    for (const input of fc.sample(prepared.arbitrary, { numRuns: 400, seed: 20240611 })) {
      try {
        await prepared.run(input, async (_bytes, work) => work());
        codes.answered = (codes.answered ?? 0) + 1;
      } catch (e) {
        if (e instanceof AuditError) codes[e.code] = (codes[e.code] ?? 0) + 1;
        else findings.push((e as Error).message);
      }
    }
  } finally {
    await prepared.close?.();
    rmSync(dir, { recursive: true, force: true });
  }
  expect(findings).toEqual([]);
  // the sample reaches each kind of answer: served, refused as malformed, unauthorised, over the limit
  expect(codes.answered).toBeGreaterThan(20);
  expect(codes.BAD_REQUEST).toBeGreaterThan(20);
  expect(codes.UNAUTHORIZED).toBeGreaterThan(5);
  expect(codes.LIMIT_EXCEEDED).toBeGreaterThan(0);
});
