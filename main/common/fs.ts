// File-system steps every layer shares.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

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
