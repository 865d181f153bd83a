// study run's resume check on a bundle someone else handed over (security review of issue 19): a run's
// done.json makes study run hash its output, which may be up to 4 GiB (a sparse file costs nothing to
// make). It is hashed as a stream, never read whole into memory (before: one Buffer of the output's size).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, ftruncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readBundle } from '../../../main/studies/bundle.ts';
import { finishedRun } from '../../../main/studies/run.ts';
import type { Plan } from '../../../main/studies/types.ts';
import { writeBundle } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-resume-'));
const bundle = join(tmp, 'bundle');
let plan: Plan;
beforeAll(async () => { plan = await writeBundle(bundle, { subjects: 1, sizes: [1], steps: 1 }); });
afterAll(() => { vi.restoreAllMocks(); rmSync(tmp, { recursive: true, force: true }); });

describe('a run\'s done.json beside a huge output', () => {
  it('hashes the output without holding it in memory, and does not take it as done', async () => {
    const run = plan.runs[0];
    const out = join(bundle, run.output);
    mkdirSync(dirname(out), { recursive: true });
    const fd = openSync(out, 'w');
    ftruncateSync(fd, 256 * 1024 * 1024);       // sparse: 256 MiB of zeros, no disk used
    closeSync(fd);
    writeFileSync(join(bundle, run.dir, 'done.json'), JSON.stringify({ runId: run.runId, output: run.output, sha256: '0'.repeat(64) }));
    const b = await readBundle(bundle);
    const alloc = vi.spyOn(Buffer, 'alloc');
    const allocUnsafe = vi.spyOn(Buffer, 'allocUnsafe');
    try {
      expect(await finishedRun(b, run)).toBeNull();
      const sizes = [...alloc.mock.calls, ...allocUnsafe.mock.calls].map((c) => Number(c[0]));
      expect(Math.max(0, ...sizes)).toBeLessThan(64 * 1024 * 1024);
    } finally { alloc.mockRestore(); allocUnsafe.mockRestore(); }
  });
});
