// A case export was written to "<out>.partial-<pid>" and renamed (issue 15 review): a link planted at
// that guessable name (a shared output folder; the CLI's pid is easy to guess) sent the archive into
// the link's target. The temporary name is now unpredictable and created exclusively.
import { lstatSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportCase } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { tempDb } from './helpers.ts';

let t: Awaited<ReturnType<typeof tempDb>>;
beforeEach(async () => { t = await tempDb(); });
afterEach(async () => { await t.cleanup(); });

describe('case export and links at its names', () => {
  it('a link at <out>.partial-<pid> is not written through; the archive is a regular file of its own', async () => {
    const caseId = (await createCase(t.db, { title: 'Links', examiner: 'E' })).id;
    const victim = join(t.dir, 'victim.txt');
    writeFileSync(victim, 'the victim\'s own content');
    const out = join(t.dir, 'case.tar');
    symlinkSync(victim, `${out}.partial-${process.pid}`);
    await exportCase(t.db, caseId, out);
    expect(readFileSync(victim, 'utf8')).toBe('the victim\'s own content');
    expect(lstatSync(out).isFile()).toBe(true);
  });
});
