// Reads a (possibly gzipped) tar one entry at a time, asking a planner what to do with each entry from
// its header alone, before any of its bytes are read: keep it in memory (small metadata), stream it to
// a file while hashing it, or pass over an empty folder entry. Entries are handled strictly in order:
// the next header is not looked at until the previous entry's plan, including its checks, has finished,
// and the tar parser's backpressure stops reading the file meanwhile. Any tar warning (bad checksum,
// truncation, an unknown entry type, a zlib error, node-tar's own decompression-ratio limit) refuses
// the archive, and the first refusal stops reading, closes what is open and rejects.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { Parser, type ReadEntry } from 'tar';
import type { AuditError } from '../../errors.ts';
import { READ_ONLY } from '../store.ts';

export interface EntryHeader { path: string; type: string; size: number }

export type EntryPlan =
  /** An entry without bytes (a folder) that needs nothing done. */
  | { kind: 'skip' }
  /** Read into memory (the planner has bounded the size from the header), then handed over. */
  | { kind: 'memory'; done(bytes: Buffer): Promise<void> | void }
  /** Streamed to `target` (created, never overwritten), fsynced, made read-only; refused when its
   *  SHA-256 is not `sha256`. */
  | { kind: 'file'; target: string; sha256: string };

export interface ReadOptions {
  /** Bytes per read of the archive: with gzip each read may expand ~1000× in the parser at once. */
  readSize: number;
  bad: (message: string) => AuditError;
}

/** Reads the whole archive through `plan`; resolves with the archive's own SHA-256 and size. */
export function readArchive(file: string, plan: (h: EntryHeader) => Promise<EntryPlan> | EntryPlan, options: ReadOptions): Promise<{ sha256: string; size: number }> {
  const { bad } = options;
  return new Promise((resolve, reject) => {
    const input = createReadStream(file, { highWaterMark: options.readSize });
    const parser = new Parser({ strict: true, brotli: false, zstd: false, maxMetaEntrySize: 64 << 10 });
    const archiveHash = createHash('sha256');
    let archiveSize = 0;
    const open = new Set<WriteStream>();
    let failed = false;
    let chain: Promise<void> = Promise.resolve();

    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      input.unpipe(parser);
      input.destroy();
      // a refused file is closed (and its fd released) before the caller removes the folder
      void Promise.all([...open].map((s) => new Promise<void>((done) => {
        if (s.closed) return done();
        s.once('close', () => done());
        s.destroy();
      }))).then(() => reject(err));
    };

    const handle = async (entry: ReadEntry): Promise<void> => {
      if (failed) {
        entry.resume();
        return;
      }
      const p = await plan({ path: entry.path, type: entry.type, size: entry.size });
      if (failed) return;
      if (p.kind === 'skip') {
        entry.resume();
        await ended(entry);
      } else if (p.kind === 'memory') {
        const chunks: Buffer[] = [];
        entry.on('data', (c: Buffer) => chunks.push(c));
        await ended(entry);
        if (!failed) await p.done(Buffer.concat(chunks));
      } else {
        await writeEntry(entry, p.target, p.sha256);
      }
    };

    const writeEntry = async (entry: ReadEntry, target: string, sha256: string): Promise<void> => {
      const out = createWriteStream(target, { flags: 'wx', mode: 0o600, flush: true });
      open.add(out);
      let writeError: Error | null = null;
      out.on('error', (e) => { writeError ??= e; });
      const closed = new Promise<void>((done) => out.once('close', () => done()));
      const hash = createHash('sha256');
      entry.on('data', (c: Buffer) => {
        if (failed || writeError) return;
        hash.update(c);
        if (!out.write(c)) entry.pause();
      });
      out.on('drain', () => entry.resume());
      await ended(entry);
      out.end();
      await closed;
      open.delete(out);
      if (failed) return;
      if (writeError) throw writeError; // the disk's problem (ENOSPC …), not the archive's
      const got = hash.digest('hex');
      if (got !== sha256) throw bad(`${entry.path} does not match the manifest (SHA-256 ${got}, manifest says ${sha256}): the archive was altered`);
      await chmod(target, READ_ONLY);
    };

    parser.on('entry', (entry: ReadEntry) => {
      chain = chain.then(() => handle(entry)).catch(fail);
    });
    parser.on('ignoredEntry', (entry: ReadEntry) => fail(bad(`the archive holds ${entry.path} of type ${entry.type}: a case archive holds only files and folders`)));
    parser.on('error', (e: Error) => fail(bad(`not a readable case archive (${e.message})`)));
    parser.on('end', () => {
      void chain.then(() => {
        if (!failed) resolve({ sha256: archiveHash.digest('hex'), size: archiveSize });
      });
    });
    input.on('data', (c) => {
      archiveHash.update(c as Buffer);
      archiveSize += (c as Buffer).length;
    });
    input.on('error', (e) => fail(bad(`the archive cannot be read (${e.message})`)));
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** Resolves when an entry's bytes have all been consumed. */
function ended(entry: ReadEntry): Promise<void> {
  return entry.emittedEnd ? Promise.resolve() : new Promise((done) => entry.once('end', () => done()));
}
