// Output folders a person names are created by makeFolders (main/common/fs.ts), never by Node's
// recursive mkdir, which never settles for a path under /proc: `cases.export` to /proc/x/case.zip hung
// the app. Each refusal names the level at fault.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeFolders } from '../../../main/common/fs.ts';
import { isAuditError } from '../../../main/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'make-folders-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(path: string): Promise<{ code: string; file: string | undefined; message: string }> {
  const err = await makeFolders(path).then(() => null, (e: unknown) => e);
  if (!isAuditError(err)) throw new Error(`expected an AuditError, got ${String(err)}`);
  return { code: err.code, file: err.file, message: err.message };
}

describe('makeFolders', () => {
  it('creates every missing level, and is a no-op on a folder that exists', async () => {
    await makeFolders(join(dir, 'a', 'b', 'c'));
    expect(statSync(join(dir, 'a', 'b', 'c')).isDirectory()).toBe(true);
    await makeFolders(join(dir, 'a', 'b', 'c'));
    await makeFolders(dir);
  });

  it('refuses a path that runs through a file, naming the file', async () => {
    writeFileSync(join(dir, 'report.pdf'), 'x');
    expect(await refusal(join(dir, 'report.pdf', 'inside', 'deeper'))).toEqual({
      code: 'BAD_REQUEST', file: join(dir, 'report.pdf'), message: `${join(dir, 'report.pdf')}: is a file, not a folder: nothing can be written inside it`,
    });
  });

  it.runIf(process.platform === 'linux')('answers at once under /proc, where Node\'s recursive mkdir never settles', async () => {
    expect(await refusal('/proc/lora-audit-no-such/out')).toEqual({
      code: 'BAD_REQUEST', file: '/proc/lora-audit-no-such', message: '/proc/lora-audit-no-such: cannot create this folder (ENOENT)',
    });
  });
});

describe.runIf(process.platform === 'linux')('an export named under /proc', () => {
  it('is refused at once, with nothing left behind', async () => {
    const { createCase } = await import('../../../main/cases/cases.ts');
    const { exportCase } = await import('../../../main/cases/archive.ts');
    const { openDatabase } = await import('../../../main/services/database.ts');
    const db = await openDatabase(join(dir, 'cases.sqlite'));
    try {
      const kase = await createCase(db, { title: 'to /proc', examiner: 'E' });
      const err = await exportCase(db, kase.id, '/proc/lora-audit-no-such/case.tar').then(() => null, (e: unknown) => e);
      expect(isAuditError(err, 'BAD_REQUEST') && err.message).toBe('/proc/lora-audit-no-such: cannot create this folder (ENOENT)');
      // neither the export's work folder nor an audit entry for an export that did not happen
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith(`lora-audit-export-${process.pid}-`))).toEqual([]);
      expect(await db.all("SELECT action FROM audit_log WHERE case_id = ? AND action = 'export'", [kase.id])).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
