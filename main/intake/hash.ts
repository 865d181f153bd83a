// Evidence identity: the SHA-256 of a whole file, streamed so a multi-GB adapter never sits in memory.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { AuditError } from '../errors.ts';

export async function sha256File(path: string): Promise<string> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new AuditError('FILE_NOT_FOUND', 'no such file', path);
    throw e;
  });
  if (st.isDirectory()) throw new AuditError('IS_DIRECTORY', 'is a folder, not a file', path);
  return sha256Range(path, 0);
}

/** SHA-256 of bytes [start, end) of a file (kohya's sshs_model_hash covers the data buffer only). */
export async function sha256Range(path: string, start: number, end?: number): Promise<string> {
  const hash = createHash('sha256');
  if (end !== undefined && end <= start) return hash.digest('hex');
  const stream = createReadStream(path, { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 20 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
