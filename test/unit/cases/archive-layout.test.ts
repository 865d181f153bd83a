// An archive's files must lie in the store's own layout (issue 15 review): evidence/<SHA-256 of the
// file>/ and reports/<report id>/. An unsigned archive whose evidence folder was renamed
// ".partial-<pid of a dead process>-x" (rows, manifest and hashes made to agree) imported and verified,
// and the first `case verify` afterwards removed the evidence as the leftover of a killed import.
import { readdirSync, renameSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { openDatabase } from '../../../main/services/database.ts';
import type { Database } from '../../../main/db/database.ts';
import { editCaseJson, rehash, repack, snapshot, unpack } from './archive-helpers.ts';
import { plainInspector, tempDb } from './helpers.ts';
import { writeFileSync } from 'node:fs';

let t: Awaited<ReturnType<typeof tempDb>>;
let target: Database;
let targetPath: string;
beforeEach(async () => {
  t = await tempDb();
  targetPath = join(t.dir, 'target', 'cases.sqlite');
  target = await openDatabase(targetPath);
});
afterEach(async () => {
  await target.close();
  await t.cleanup();
});

describe('case archive import: the store layout', () => {
  it('refuses an evidence folder named like an unpacking folder, writing nothing', async () => {
    const caseId = (await createCase(t.db, { title: 'Layout', examiner: 'E' })).id;
    const file = join(t.dir, 'adapter.safetensors');
    writeFileSync(file, 'the evidence bytes');
    await addEvidence(t.db, caseId, file, { inspector: plainInspector });
    const archive = join(t.dir, 'case.tar');
    await exportCase(t.db, caseId, archive);

    const { dir } = await unpack(archive, join(t.dir, 'unpacked'));
    const evidenceDir = join(dir, 'store', caseId, 'evidence');
    const [folder] = readdirSync(evidenceDir);
    const deadPid = spawnSync('true').pid!;
    const partial = `.partial-${deadPid}-x`;
    renameSync(join(evidenceDir, folder), join(evidenceDir, partial));
    editCaseJson(dir, (rows) => { for (const e of rows.evidence) e.stored_path = e.stored_path.replace(folder, partial); });
    await rehash(dir);
    const edited = await repack(dir, join(t.dir, 'edited.tar'));

    const before = await snapshot(targetPath);
    await expect(importCase(target, edited)).rejects.toMatchObject({ code: 'BAD_ARCHIVE',
      message: expect.stringContaining(`records ${caseId}/evidence/${partial}/adapter.safetensors, not in its own folder ${caseId}/evidence/${folder}`) });
    expect(await snapshot(targetPath)).toBe(before);
    rmSync(dir, { recursive: true, force: true });
  });
});
