// Shared by the case-archive tests (and the case-archive fuzz target): what an attacker does to an
// exported archive (unpack, edit, recompute every SHA-256, repack in the format's order), a raw ustar
// writer for entries no honest writer makes, and a snapshot of a database and its store to show that a
// refused import changed nothing.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { create as tarCreate, extract as tarExtract } from 'tar';
import { sha256File } from '../../../main/common/hashing.ts';
import { storeRoot } from '../../../main/cases/store.ts';
import { rawSql } from './helpers.ts';

export interface Unpacked { dir: string; caseId: string }

export async function unpack(archive: string, dir: string): Promise<Unpacked> {
  mkdirSync(dir, { recursive: true });
  await tarExtract({ file: archive, cwd: dir });
  // the stored copies come out read-only: an attacker makes them writable first
  for (const f of walk(dir)) chmodSync(join(dir, f), 0o644);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { caseId: string };
  return { dir, caseId: manifest.caseId };
}

export function readJson<T = any>(path: string): T { // eslint-disable-line @typescript-eslint/no-explicit-any -- edited freely by the tests
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Edits case.json in place. */
export function editCaseJson(dir: string, edit: (rows: any) => void): void { // eslint-disable-line @typescript-eslint/no-explicit-any
  const rows = readJson(join(dir, 'case.json'));
  edit(rows);
  writeFileSync(join(dir, 'case.json'), JSON.stringify(rows));
}

/** What anyone can do to an unsigned archive: list every file that is there now, with its SHA-256, and
 *  the reports case.json holds. */
export async function rehash(dir: string): Promise<void> {
  const manifest = readJson(join(dir, 'manifest.json'));
  const files = ['case.json', ...walk(join(dir, 'store')).map((p) => `store/${p}`)];
  manifest.files = [];
  for (const path of files) manifest.files.push({ path, ...(await sha256File(join(dir, path))) });
  const rows = readJson(join(dir, 'case.json'));
  manifest.reports = rows.reports.map((r: { id: string; sha256: string }) => ({ id: r.id, sha256: r.sha256 }));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

/** Repacks in the format's order (manifest, its signature if present, case.json, store). */
export async function repack(dir: string, out: string, options: { gzip?: boolean } = {}): Promise<string> {
  const names = ['manifest.json', 'manifest.json.p7s', 'case.json', 'store'].filter((n) => existsSync(join(dir, n)));
  await tarCreate({ file: out, cwd: dir, portable: true, gzip: options.gzip ?? false }, names);
  return out;
}

export function walk(dir: string, base = dir): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const abs = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(abs, base));
    else out.push(relative(base, abs));
  }
  return out.sort();
}

/** Every row of every case table and every file (with its size) under the store: equal before and
 *  after a refused import means it wrote nothing. */
export async function snapshot(dbPath: string): Promise<string> {
  const tables: Record<string, unknown> = {};
  for (const t of ['cases', 'evidence', 'analyses', 'reports', 'notes', 'audit_log']) tables[t] = await rawSql(dbPath, `SELECT * FROM ${t} ORDER BY rowid`);
  const root = storeRoot(dbPath);
  const files = walk(root).map((f) => `${f} ${statSync(join(root, f)).size}`);
  return JSON.stringify({ tables, files });
}

// ---- a raw ustar writer -------------------------------------------------------------------------

/** One 512-byte ustar header (long paths split into prefix/name at a '/'). */
export function tarHeader(name: string, size: number, type: string, linkname = ''): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => Buffer.from(s, 'utf8').copy(h, at, 0, len);
  const cut = Buffer.byteLength(name) > 100 ? name.lastIndexOf('/', 155) : -1;
  put(cut > 0 ? name.slice(cut + 1) : name, 0, 100);
  if (cut > 0) put(name.slice(0, cut), 345, 155);
  put('0000644\0', 100, 8); put('0000000\0', 108, 8); put('0000000\0', 116, 8);
  put(`${size.toString(8).padStart(11, '0')}\0`, 124, 12);
  put('00000000000\0', 136, 12);
  put(type, 156, 1); put(linkname, 157, 100); put('ustar\0', 257, 6); put('00', 263, 2);
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

export interface TarEntry { name: string; type: string; data: Buffer; linkname?: string }

/** Header, data and padding of one entry. */
export function tarEntry(e: TarEntry): Buffer {
  return Buffer.concat([tarHeader(e.name, e.data.length, e.type, e.linkname), e.data, Buffer.alloc((512 - (e.data.length % 512)) % 512)]);
}

export const TAR_END = Buffer.alloc(1024);

export function writeTar(entries: TarEntry[]): Buffer {
  return Buffer.concat([...entries.map(tarEntry), TAR_END]);
}

/** The entries of an uncompressed ustar archive (as writeTar and the exporter write them). */
export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  for (let p = 0; p + 512 <= buf.length;) {
    const h = buf.subarray(p, p + 512);
    if (h.every((b) => b === 0)) break;
    const str = (at: number, len: number) => h.toString('utf8', at, at + len).replace(/\0.*$/s, '');
    const prefix = str(345, 155);
    const name = (prefix ? `${prefix}/` : '') + str(0, 100);
    const size = parseInt(str(124, 12).trim() || '0', 8);
    out.push({ name, type: str(156, 1) || '0', data: Buffer.from(buf.subarray(p + 512, p + 512 + size)) });
    p += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
