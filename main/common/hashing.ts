// The hashes chain of custody rests on, in one place for every layer: SHA-256 of a file's bytes
// (streamed, so a multi-GB adapter never sits in memory; with progress and cancel for the long ones;
// optionally of a byte range, as kohya's sshs_model_hash covers the data buffer only), and SHA-256 of a
// canonical JSON text (keys sorted at every depth, no whitespace), so that the same record hashes the
// same on every machine and after a JSON round trip.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { AuditError } from '../errors.ts';

export interface FileHash { sha256: string; size: number }

export interface HashOptions {
  /** Bytes [start, end) only; the whole file by default. */
  start?: number;
  end?: number;
  signal?: AbortSignal;
  /** Called with the bytes hashed so far, once per chunk (1 MiB). */
  onProgress?(bytesDone: number): void;
}

export async function sha256File(path: string, options: HashOptions = {}): Promise<FileHash> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new AuditError('FILE_NOT_FOUND', 'no such file', path) : e;
  });
  if (st.isDirectory()) throw new AuditError('IS_DIRECTORY', 'is a folder, not a file', path);
  const hash = createHash('sha256');
  const { start = 0, end } = options;
  let size = 0;
  if (end !== undefined && end <= start) return { sha256: hash.digest('hex'), size };
  const stream = createReadStream(path, { start, ...(end !== undefined ? { end: end - 1 } : {}), highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream) {
      if (options.signal?.aborted) throw new AuditError('CANCELLED', 'hashing was cancelled', path);
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      options.onProgress?.(size);
    }
  } finally {
    stream.destroy();
  }
  return { sha256: hash.digest('hex'), size };
}

/** FNV-1a's 32-bit offset basis: the starting value for fnv1a(). */
export const FNV1A_OFFSET = 0x811c9dc5;

/** One step of FNV-1a (32-bit) over a 32-bit word: a fast, stable, non-cryptographic fingerprint, for
 *  seeds and cache keys only (never for custody: that is SHA-256). */
export function fnv1a(h: number, word: number): number {
  return Math.imul(h ^ word, 0x01000193) >>> 0;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number>);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}
