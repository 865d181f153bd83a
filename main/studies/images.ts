// A study's subjects and their images: the sub-folders of --images (one concept each), or the built-in
// procedural concepts. Each subject's images get one seeded order; a run of size N takes its first N, so
// the sets are nested as in LoRA-WiSE. Inputs are bounded and path tricks refused: a symlink that leads
// out of the folder, a name with control characters, more images or bytes than a study can use.
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import { join, relative, sep } from 'node:path';
import { AuditError } from '../errors.ts';
import { Rng, seedOf } from '../generator/random.ts';
import { CHANNELS, conceptImage, conceptNames, IMAGE_SIZE } from '../generator/images.ts';
import { UNPRINTABLE } from '../common/text.ts';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.bmp']);

export const LIMITS = {
  subjects: 1000,
  /** Image files looked at per subject folder. */
  imagesPerSubject: 10_000,
  /** Bytes per image file. */
  imageBytes: 64 * 1024 * 1024,
  /** Entries listed per folder (sub-folders, captions, images together). */
  entriesPerFolder: 20_000,
  sizes: 32,
  maxSize: 10_000,
  runs: 10_000,
  /** Bytes of all the images a study copies into its bundle. */
  totalBytes: 32 * 1024 ** 3,
};

export interface SubjectImage {
  /** The file name as found (the subject's own sub-folder), or `builtin:<subject>/<index>`. */
  name: string;
  /** Absolute path to read it from; absent for built-in images (their bytes are in `png`). */
  file?: string;
  /** Its size when found (folder images). */
  bytes?: number;
  png?: Uint8Array;
  generated?: { seed: number; subject: string; index: number };
}

export interface Subject {
  name: string;
  /** Every usable image, in the subject's seeded order. */
  images: SubjectImage[];
}

function unsafe(message: string, file: string): AuditError {
  return new AuditError('BAD_REQUEST', message, file, { reason: 'UNSAFE_PATH' });
}

/** A name must be printable and an ordinary file name (no separators, not . or ..). */
function checkName(name: string, where: string): void {
  if (UNPRINTABLE.test(name)) throw unsafe(`the name ${JSON.stringify(name)} has control characters (a control, text-direction, zero-width or line-separator character); rename it`, where);
  if (name === '.' || name === '..' || name.includes('/') || name.includes('\\')) throw unsafe(`the name ${JSON.stringify(name)} is not a plain file name`, where);
  if (Buffer.byteLength(name) > 255) throw unsafe('the name is longer than 255 bytes', where);
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** lstat an entry; a symlink is followed only when it stays inside `root`. Returns the real path and its stat. */
async function resolveEntry(root: string, path: string): Promise<{ real: string; isDir: boolean; isFile: boolean; size: number }> {
  const l = await lstat(path);
  if (l.isSymbolicLink()) {
    const real = await realpath(path).catch(() => { throw unsafe('is a symlink that leads nowhere', path); });
    if (!inside(root, real)) throw unsafe(`is a symlink to ${real}, outside the images folder ${root}`, path);
    const s = await stat(real);
    return { real, isDir: s.isDirectory(), isFile: s.isFile(), size: s.size };
  }
  return { real: path, isDir: l.isDirectory(), isFile: l.isFile(), size: l.size };
}

/** Sorted by code point (not locale), so the order is the same on every machine. */
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The subject's images in its seeded order: a Fisher–Yates shuffle of the sorted names. */
export function seededOrder<T>(items: T[], seed: number, subject: string): T[] {
  const out = [...items];
  const rng = new Rng(seedOf(seed, 'order', subject));
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function listDir(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  if (names.length > LIMITS.entriesPerFolder) {
    throw new AuditError('LIMIT_EXCEEDED', `has ${names.length} entries; a study reads at most ${LIMITS.entriesPerFolder} per folder`, dir);
  }
  return names.sort(byCodePoint);
}

/**
 * The subjects under an images folder: each non-hidden sub-folder is one subject, holding its images
 * (other files, such as captions, are ignored). `count` takes the first subjects in name order.
 */
export async function folderSubjects(folder: string, seed: number, count?: number): Promise<Subject[]> {
  const st = await stat(folder).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new AuditError('FILE_NOT_FOUND', 'no such images folder', folder) : e;
  });
  if (!st.isDirectory()) throw new AuditError('BAD_REQUEST', 'is not a folder: --images takes a folder of sub-folders, one per subject, or "builtin"', folder);
  const root = await realpath(folder);
  const subjects: Subject[] = [];
  for (const name of await listDir(root)) {
    if (name.startsWith('.')) continue;
    const path = join(root, name);
    checkName(name, path);
    const entry = await resolveEntry(root, path);
    if (!entry.isDir) continue;
    if (subjects.length >= LIMITS.subjects) throw new AuditError('LIMIT_EXCEEDED', `has more than ${LIMITS.subjects} subject folders`, root);
    const images: SubjectImage[] = [];
    for (const file of await listDir(entry.real)) {
      if (file.startsWith('.')) continue;
      const dot = file.lastIndexOf('.');
      if (dot < 0 || !IMAGE_EXTENSIONS.has(file.slice(dot).toLowerCase())) continue;
      const p = join(entry.real, file);
      checkName(file, p);
      const e = await resolveEntry(root, p);
      if (!e.isFile) continue;
      if (e.size === 0) throw new AuditError('EMPTY_FILE', 'the image is empty (0 bytes)', p);
      if (e.size > LIMITS.imageBytes) throw new AuditError('LIMIT_EXCEEDED', `the image is ${e.size} bytes; a study takes images of at most ${LIMITS.imageBytes}`, p);
      if (images.length >= LIMITS.imagesPerSubject) throw new AuditError('LIMIT_EXCEEDED', `subject "${name}" has more than ${LIMITS.imagesPerSubject} images`, entry.real);
      images.push({ name: file, file: e.real, bytes: e.size });
    }
    subjects.push({ name, images: seededOrder(images, seed, name) });
  }
  if (subjects.length === 0) throw new AuditError('BAD_REQUEST', 'has no sub-folders: put each subject\'s images in its own sub-folder', root, { reason: 'NO_SUBJECTS' });
  return pick(subjects, count, root);
}

function pick(subjects: Subject[], count: number | undefined, where: string): Subject[] {
  if (count === undefined) return subjects;
  if (count > subjects.length) {
    throw new AuditError('BAD_REQUEST', `--subjects ${count}: only ${subjects.length} subjects are there (${subjects.map((s) => s.name).join(', ')})`, where, { reason: 'TOO_FEW_SUBJECTS' });
  }
  return subjects.slice(0, count);
}

/** How many built-in subjects a study takes when --subjects is not given. */
export const BUILTIN_DEFAULT_SUBJECTS = 10;

/**
 * Built-in subjects: the procedural generator's named concepts (main/generator/images.ts), each image
 * rendered as an 8-bit PNG so that any trainer can read it and its hash is what was trained on. The
 * study seed picks the images (the same seed and name give the same images as the generator).
 */
export function builtinSubjects(seed: number, count: number, imagesEach: number): Subject[] {
  const concepts = conceptNames(count);
  return concepts.map((concept) => {
    const images: SubjectImage[] = [];
    for (let index = 0; index < imagesEach; index++) {
      images.push({ name: `builtin:${concept.name}/${index}`, png: encodePng(conceptImage(seed, concept, index)), generated: { seed, subject: concept.name, index } });
    }
    // Generated images are already a prefix series in index order (conceptImage): kept in that order.
    return { name: concept.name, images };
  });
}

// --- a minimal PNG writer (8-bit RGB, one IDAT, filter 0) for the built-in images -----------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** A 16×16 RGB image in [-1, 1] (row-major HWC) → PNG bytes. */
export function encodePng(pixels: Float32Array, size = IMAGE_SIZE): Uint8Array {
  const rows = Buffer.alloc(size * (1 + size * CHANNELS));
  for (let y = 0; y < size; y++) {
    rows[y * (1 + size * CHANNELS)] = 0;
    for (let i = 0; i < size * CHANNELS; i++) {
      const v = pixels[y * size * CHANNELS + i];
      rows[y * (1 + size * CHANNELS) + 1 + i] = Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; ihdr[9] = 2; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

/** For messages: a path under the images folder as the examiner knows it. */
export function shown(root: string, p: string): string {
  const r = relative(root, p);
  return r && !r.startsWith('..') ? r : p;
}
