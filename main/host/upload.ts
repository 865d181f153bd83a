// Files dropped on the page: the browser cannot tell the host their paths, so their bytes are
// streamed into the staging folder (never held whole in memory) and the staged path stands in as
// evidence source. Each upload gets its own folder `<staging>/<16 hex>/<name>`.
//
// Lifetime ("its job"): an upload lives until an invoke whose request names its staged path (as a
// field, or an element of an array field, e.g. evidence.add's `paths`) completes or fails; then its
// folder is removed (after the last such invoke, when several run at once). Uploads nobody claims are
// removed when the host closes, and folders left by an earlier run (a crash, a kill) when it starts.
// A partial upload (client gone, body over the limit, disk error) is removed at once.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { boundedBody } from './request.ts';

const UPLOAD_FOLDER = /^[0-9a-f]{16}$/;

export class StagingArea {
  private readonly root: string;
  /** Upload folders named by a running invoke, with how many invokes name each. */
  private readonly claims = new Map<string, number>();

  /** Creates the folder and removes upload folders an earlier run left (nothing else in it). */
  constructor(root: string) {
    this.root = resolve(root);
    mkdirSync(this.root, { recursive: true });
    this.removeAll();
  }

  /** Streams the request body to a new staged file of at most `limit` bytes; returns its path. */
  async receive(req: IncomingMessage, requestedName: string | undefined, limit: number): Promise<string> {
    const folder = join(this.root, randomBytes(8).toString('hex'));
    const path = join(folder, safeName(requestedName));
    await mkdir(folder);
    try {
      await pipeline(boundedBody(req, limit), createWriteStream(path, { flags: 'wx' }));
      return path;
    } catch (err) {
      await rm(folder, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Marks the uploads a request names as in use for the duration of `work`, then removes those no
   * other running invoke still names.
   */
  async using<T>(request: unknown, work: () => Promise<T>): Promise<T> {
    const folders = this.named(request);
    for (const f of folders) this.claims.set(f, (this.claims.get(f) ?? 0) + 1);
    try {
      return await work();
    } finally {
      for (const f of folders) {
        const left = (this.claims.get(f) ?? 1) - 1;
        if (left > 0) this.claims.set(f, left);
        else {
          this.claims.delete(f);
          await rm(join(this.root, f), { recursive: true, force: true });
        }
      }
    }
  }

  /** Removes every upload folder (host start and close). */
  removeAll(): void {
    for (const entry of readdirSync(this.root)) {
      if (UPLOAD_FOLDER.test(entry)) rmSync(join(this.root, entry), { recursive: true, force: true });
    }
  }

  /** The upload folders a request names: strings among its fields and its array fields' elements. */
  private named(request: unknown): Set<string> {
    const found = new Set<string>();
    if (request === null || typeof request !== 'object') return found;
    const prefix = this.root + sep;
    const consider = (value: unknown) => {
      // the prefix test first: a request may hold millions of strings, none of them ours
      if (typeof value !== 'string' || !value.startsWith(prefix)) return;
      const parts = relative(this.root, resolve(value)).split(sep);
      if (parts.length === 2 && UPLOAD_FOLDER.test(parts[0])) found.add(parts[0]);
    };
    for (const value of Object.values(request)) {
      if (Array.isArray(value)) value.forEach(consider);
      else consider(value);
    }
    return found;
  }
}

/** Long enough for any real file name, short enough for every file system's 255-byte limit. */
const MAX_NAME = 120;

/** The dropped file's own name, reduced to ASCII characters safe in any file system (extension kept). */
function safeName(requested: string | undefined): string {
  const name = basename(requested || 'upload.bin').replace(/[^\w.+-]/g, '_').replace(/^\.+$/, '_') || 'upload.bin';
  if (name.length <= MAX_NAME) return name;
  const ext = extname(name).slice(0, 20);
  return name.slice(0, MAX_NAME - ext.length) + ext;
}
