// File-system steps every layer shares.
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AuditError } from '../errors.ts';

/** fsync of a file or a folder (a folder's entry list: a rename is durable only once its folder is
 *  synced), so what was written survives a power cut before anything says it was written. */
export async function syncPath(path: string): Promise<void> {
  const handle = await open(path, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Folder levels a path may need created at once: far more than any real output path. */
const MAX_NEW_LEVELS = 64;

/**
 * `mkdir -p` for a folder a person named, that cannot hang: Node's recursive mkdir never settles for a
 * path under /proc (measured: `mkdir('/proc/nope/x', { recursive: true })` still pending after 10 s).
 * Walks up to the deepest level that exists, which must be a folder, then creates each missing level;
 * any refusal is a BAD_REQUEST naming the level and the reason.
 */
export async function makeFolders(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    const found = await stat(at).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;   // a file on the way is found further up
      throw new AuditError('BAD_REQUEST', `cannot look at this folder (${e.code ?? e.message})`, at);
    });
    if (found) {
      if (!found.isDirectory()) throw new AuditError('BAD_REQUEST', 'is a file, not a folder: nothing can be written inside it', at);
      break;
    }
    if (missing.length === MAX_NEW_LEVELS || dirname(at) === at) {
      throw new AuditError('BAD_REQUEST', `more than ${MAX_NEW_LEVELS} folder levels to create, or no existing folder above it`, dir);
    }
    missing.push(at);
  }
  for (const level of missing.reverse()) {
    await mkdir(level).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw new AuditError('BAD_REQUEST', `cannot create this folder (${e.code ?? e.message})`, level);
    });
  }
}
