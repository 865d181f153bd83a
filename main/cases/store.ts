// The evidence store: byte-exact, read-only copies of every imported file, in
// <store root>/<caseId>/evidence/<sha256>/<original file name> (reports likewise under reports/).
//
// Crash safety: files are first copied into a staging folder named after the importing process
// (".partial-<pid>-<uuid>"), fsynced and made read-only; only then, inside the database transaction
// that inserts the row, is the staging folder renamed to its final name (an atomic rename on one file
// system) and the parent folder fsynced. A crash before the rename leaves only a staging folder of a
// dead process; a crash between the rename and the commit leaves a final folder without a row. Both are
// invisible to every reader (which go through the rows) and recoverStore() removes them, under the
// database's write lock so that it never races a live importer between its rename and its commit.
import { constants } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join, resolve, sep } from 'node:path';
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { syncPath } from '../common/fs.ts';
import { newId } from './ids.ts';

export const READ_ONLY = 0o444;
const PARTIAL = '.partial-';

/** The one rule for where case files live: the folder "cases" beside the database file, so the default
 *  database (<dataDir>/cases.sqlite) keeps its store in <dataDir>/cases and `--db x/y.sqlite` in x/cases. */
export function storeRoot(dbPath: string): string {
  return join(dirname(resolve(dbPath)), 'cases');
}

/** Absolute path of a path stored relative to the store root, refusing anything that would leave it. */
export function storedFile(root: string, relative: string): string {
  const abs = resolve(root, relative);
  if (abs !== root && !abs.startsWith(root + sep)) {
    throw new AuditError('BAD_REQUEST', `stored path "${relative}" points outside the evidence store`);
  }
  return abs;
}

export interface StagedFile {
  fileName: string;
  size: number;
  sha256: string;
}

/** A staging folder of this process, inside the case's evidence/ or reports/ folder. */
export async function newStaging(root: string, caseId: string, kind: 'evidence' | 'reports'): Promise<string> {
  const dir = join(root, caseId, kind, `${PARTIAL}${process.pid}-${newId()}`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Copies src into dir/fileName, hashing the bytes as they are copied, fsyncs and makes it read-only. */
export async function stageCopy(src: string, dir: string, fileName: string): Promise<StagedFile> {
  const info = await stat(src).catch((e: NodeJS.ErrnoException) => {
    throw new AuditError('FILE_NOT_FOUND', e.code === 'ENOENT' ? 'no such file' : e.message, src);
  });
  if (info.isDirectory()) throw new AuditError('IS_DIRECTORY', 'is a folder, not a file: give the adapter file itself', src);
  // non-blocking, and checked through the descriptor that is read: a FIFO (say, unpacked from someone's
  // tar under an adapter's or a companion's name) would wait for a writer, a device would never end
  const input = await open(src, constants.O_RDONLY | constants.O_NONBLOCK);
  if (!(await input.stat()).isFile()) {
    await input.close();
    throw new AuditError('IS_DIRECTORY', 'is not a regular file (a FIFO, socket or device): give the adapter file itself', src);
  }
  const target = join(dir, fileName);
  const output = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  const hash = createHash('sha256');
  let size = 0;
  try {
    const buffer = Buffer.allocUnsafe(1 << 20);
    for (;;) {
      const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      let written = 0;
      while (written < bytesRead) written += (await output.write(chunk, written, bytesRead - written)).bytesWritten;
      size += bytesRead;
    }
    await output.sync();
  } finally {
    await input.close();
    await output.close();
  }
  await chmod(target, READ_ONLY);
  return { fileName, size, sha256: hash.digest('hex') };
}

/** Moves a staging folder to its final place (an orphan left there by a crash is replaced). Call it
 *  inside the transaction that records it. */
export async function commitStaging(staging: string, finalDir: string): Promise<void> {
  await mkdir(dirname(finalDir), { recursive: true });
  await rm(finalDir, { recursive: true, force: true });
  await rename(staging, finalDir);
  await syncPath(dirname(finalDir));
}

export async function discardStaging(staging: string): Promise<void> {
  await rm(staging, { recursive: true, force: true });
}

export interface Recovery {
  /** Store-relative paths removed: staging folders of dead processes, and files no row records. */
  removed: string[];
}

/** Removes what crashed imports left behind, for one case or all. Holds the database's write lock
 *  while it looks, so a live importer (which renames and commits under that lock) is never touched. */
export async function recoverStore(db: Database, caseId?: string): Promise<Recovery> {
  const root = storeRoot(db.path);
  return db.transaction(async (tx) => {
    const removed: string[] = [];
    const caseIds = caseId ? [caseId] : await listDirs(root);
    if (!caseId) removed.push(...(await removeStalePartials(root)));
    for (const id of caseIds) {
      if (id.startsWith(PARTIAL)) continue;
      const known = await tx.get('SELECT 1 AS x FROM cases WHERE id = ?', [id]);
      const recorded = new Set<string>();
      for (const row of await tx.all<{ stored_path: string; companions: string }>(
        'SELECT stored_path, companions FROM evidence WHERE case_id = ?', [id])) {
        recorded.add(row.stored_path);
        for (const c of JSON.parse(row.companions) as { storedPath: string }[]) recorded.add(c.storedPath);
      }
      for (const r of await tx.all<{ stored_path: string }>('SELECT stored_path FROM reports WHERE case_id = ?', [id])) {
        recorded.add(r.stored_path);
      }
      for (const kind of ['evidence', 'reports']) {
        const kindDir = join(root, id, kind);
        removed.push(...(await removeStalePartials(kindDir)).map((name) => `${id}/${kind}/${name}`));
        for (const name of await listDirs(kindDir)) {
          const rel = `${id}/${kind}/${name}`;
          if (name.startsWith(PARTIAL)) continue;
          const files = await readdir(join(kindDir, name));
          const orphans = files.filter((f) => !recorded.has(`${rel}/${f}`));
          // a folder is one import: if its main file has no row, nothing in it does
          if (known && orphans.length < files.length) continue;
          await rm(join(kindDir, name), { recursive: true, force: true });
          removed.push(rel);
        }
      }
    }
    return { removed };
  });
}

/** The store root of a database, opened for an archive import: the unpacking folders of imports whose
 *  process is gone (killed mid-import) are removed first, so they do not stay forever. Needs no lock:
 *  a folder named after a dead process has no writer. */
export async function openStore(db: Database): Promise<string> {
  const root = storeRoot(db.path);
  await mkdir(root, { recursive: true });
  await removeStalePartials(root);
  return root;
}

/** Removes the ".partial-<pid>-…" folders in dir whose process is no longer alive; returns their names. */
async function removeStalePartials(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await listDirs(dir)) {
    if (!name.startsWith(PARTIAL) || processAlive(Number(name.slice(PARTIAL.length).split('-')[0]))) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
