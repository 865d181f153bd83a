// Writing into a study bundle someone else handed over (security review of issue 19): a folder of the
// bundle that is a symlink leading out is refused before anything is made through it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readBundle, writeInside } from '../../../main/studies/bundle.ts';
import { writeBundle } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-write-'));
const good = join(tmp, 'good');
beforeAll(async () => { await writeBundle(good, { subjects: 1, sizes: [1], steps: 1 }); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('writing into a bundle', () => {
  it('a folder of the bundle that is a symlink leading out: refused, and no folder is made outside the bundle', async () => {
    const outside = join(tmp, 'outside');
    mkdirSync(outside);
    mkdirSync(join(good, 'runs'), { recursive: true });
    symlinkSync(outside, join(good, 'runs', 'escape'));
    const b = await readBundle(good);
    await expect(writeInside(b, 'runs/escape/output/deep/x.safetensors', Buffer.from('x'))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(existsSync(join(outside, 'output'))).toBe(false);
    // a link to a folder outside that does not exist yet: refused, and it is not made
    symlinkSync(join(outside, 'missing'), join(good, 'runs', 'dangling'));
    await expect(writeInside(b, 'runs/dangling/output/x.safetensors', Buffer.from('x'))).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(existsSync(join(outside, 'missing'))).toBe(false);
  });
});
