// SHA-256 of a shard on a worker thread, so the hash runs beside DuckDB's decoding and the features
// instead of taking turns with them on the importing thread (it was a tenth of that thread's time).
// The worker is a few lines of plain JavaScript given as source, so it runs the same from the source
// tree, the CLI and the bundled Electron main process, where no separate worker file exists.
//
// The worker also reports the file's identity (device, inode, size, modification and change times) as
// its descriptor saw it when opened and when the hash was done: the importer compares both with the
// path's identity before and after DuckDB's reads (sameFile), so a shard written to, truncated or
// renamed while it was imported is refused instead of being stored under a hash of other bytes.
import { Worker } from 'node:worker_threads';
import type { BigIntStats } from 'node:fs';
import { AuditError } from '../errors.ts';

export interface FileIdentity { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint }

export interface ShardHash {
  sha256: string;
  bytes: number;
  /** CPU time of the worker thread. */
  cpuMs: number;
  opened: FileIdentity;
  hashed: FileIdentity;
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, fstatSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const identity = (s) => ({ dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs });
let fd;
try {
  fd = openSync(workerData.file, 'r');
  const opened = identity(fstatSync(fd, { bigint: true }));
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 << 20);
  let done = 0;
  let reported = 0;
  for (;;) {
    const n = readSync(fd, buffer, 0, buffer.length, null);
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    done += n;
    if (done - reported >= workerData.progressBytes) { reported = done; parentPort.postMessage({ progress: done }); }
  }
  const cpu = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  parentPort.postMessage({ sha256: hash.digest('hex'), bytes: done, cpuMs: (cpu.user + cpu.system) / 1000,
    opened, hashed: identity(fstatSync(fd, { bigint: true })) });
} catch (err) {
  parentPort.postMessage({ error: { code: err && err.code, message: err && err.message ? err.message : String(err) } });
} finally {
  if (fd !== undefined) closeSync(fd);
}
`;

export function identityOf(s: BigIntStats): FileIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

/** What differs between two identities of a file, in words; null when they are the same file, unchanged. */
export function fileChange(a: FileIdentity, b: FileIdentity): string | null {
  if (a.dev !== b.dev || a.ino !== b.ino) return 'the name now leads to another file';
  if (a.size !== b.size) return `its size changed from ${a.size} to ${b.size} bytes`;
  if (a.mtimeNs !== b.mtimeNs) return 'it was written to';
  if (a.ctimeNs !== b.ctimeNs) return 'it was renamed, linked or had its attributes changed';
  return null;
}

export interface HashJob {
  done: Promise<ShardHash>;
  /** Stops the worker (on cancel or when the shard failed); `done` then rejects with CANCELLED. */
  stop(): void;
}

/** Starts hashing `file` on a worker thread; `onProgress` gets the bytes hashed so far every `progressBytes`. */
export function hashShard(file: string, onProgress: (bytes: number) => void, progressBytes = 64 << 20): HashJob {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, progressBytes } });
  let stopped = false;
  const done = new Promise<ShardHash>((resolve, reject) => {
    worker.on('message', (m: { progress?: number; error?: { code?: string; message: string } } & Partial<ShardHash>) => {
      if (m.progress !== undefined) { onProgress(m.progress); return; }
      if (m.error) {
        // The fs error keeps its code, so toApiError names ENOENT as FILE_NOT_FOUND like any other read.
        reject(Object.assign(new Error(`hashing the shard failed: ${m.error.message}`), { code: m.error.code }));
        return;
      }
      resolve(m as ShardHash);
    });
    worker.on('error', reject);
    worker.on('exit', () => reject(stopped
      ? new AuditError('CANCELLED', 'the import was cancelled', file)
      : new AuditError('INTERNAL', 'the hashing worker stopped without a result', file)));
  });
  done.catch(() => undefined);   // awaited by the importer; never an unhandled rejection meanwhile
  return {
    done,
    stop() {
      stopped = true;
      void worker.terminate();
    },
  };
}
