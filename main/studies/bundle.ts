// Reading a study bundle back (`study run`, `study import`, `study status`). A bundle may have travelled
// to a cluster and back, or come from anyone: plan.json is size-bounded and checked field by field, every
// path in it must stay inside the bundle (relative, no `..`, no symlink leading out), files are read
// through a non-blocking descriptor checked to be a regular file (a FIFO never blocks), and outputs are
// written under a temporary name and renamed, so a cancelled or killed run leaves no half-written file.
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, sep } from 'node:path';
import { sha256Hex } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import { PLAN_FILE } from './plan.ts';
import { PLAN_FORMAT, PLAN_VERSION, type Plan, type PlanRun } from './types.ts';
import { UNPRINTABLE } from '../common/text.ts';

export const BUNDLE_LIMITS = {
  planBytes: 64 * 1024 * 1024,
  runs: 10_000,
  imagesPerRun: 10_000,
  imageBytes: 64 * 1024 * 1024,
  /** An adapter output read back by status (hashing) or import. */
  outputBytes: 4 * 1024 * 1024 * 1024,
  /** A run's done.json. */
  recordBytes: 64 * 1024,
  pathChars: 1024,
};

/** The recipe fields plan.json holds and the kind of value each takes (null: nothing stated it). */
const RECIPE_KINDS: Record<string, 'string' | 'number' | 'boolean' | 'strings'> = {
  tool: 'string', family: 'string', method: 'string', baseModelFamily: 'string', baseModel: 'string', baseModelHash: 'string',
  rank: 'number', alpha: 'number', scaleRule: 'string', targetModules: 'strings', trainTextEncoder: 'boolean',
  learningRate: 'number', maxTrainSteps: 'number', optimizer: 'string', optimizerArgs: 'strings', lrScheduler: 'string',
  lrWarmupSteps: 'number', resolution: 'number', batchSize: 'number', repeats: 'number', mixedPrecision: 'string',
  seed: 'number', instancePrompt: 'string',
};
const OPTIONAL_RECIPE = new Set(['optimizerArgs']);

/** Every recipe field present as { value, source } with a value of its kind (finite numbers; JSON reads 1e400 as Infinity). */
function checkRecipe(recipe: unknown, assumed: unknown, planFile: string): void {
  if (!recipe || typeof recipe !== 'object' || Array.isArray(recipe)) throw bad('has no recipe', planFile);
  const r = recipe as Record<string, unknown>;
  for (const key of Object.keys(r)) if (!Object.hasOwn(RECIPE_KINDS, key)) throw bad(`recipe.${JSON.stringify(key.slice(0, 60))} is not a recipe field`, planFile);
  for (const [key, kind] of Object.entries(RECIPE_KINDS)) {
    const f = r[key] as { value?: unknown; source?: unknown } | undefined;
    if (f === undefined && OPTIONAL_RECIPE.has(key)) continue;
    if (!f || typeof f !== 'object' || Array.isArray(f) || typeof f.source !== 'string' || f.source.length > 1000) {
      throw bad(`recipe.${key} is not a field of the recipe ({ value, source } with a source of at most 1000 characters)`, planFile);
    }
    const v = f.value;
    const ok = v === null || (kind === 'number' ? typeof v === 'number' && Number.isFinite(v)
      : kind === 'strings' ? Array.isArray(v) && v.length <= 10_000 && v.every((x) => typeof x === 'string' && x.length <= 1000)
        : kind === 'string' ? typeof v === 'string' && v.length <= 10_000 : typeof v === 'boolean');
    if (!ok) throw bad(`recipe.${key}.value is not ${kind === 'strings' ? 'a list of strings' : kind === 'number' ? 'a finite number' : `a ${kind}`} or null`, planFile);
  }
  if (!Array.isArray(assumed)) throw bad('assumed is not a list', planFile);
  assumed.forEach((a: unknown, i) => {
    if (!a || typeof a !== 'object' || !Object.hasOwn(RECIPE_KINDS, (a as { field?: unknown }).field as string)) throw bad(`assumed[${i}] names no recipe field`, planFile);
  });
}
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function bad(message: string, file?: string): AuditError {
  return new AuditError('BAD_CONFIG', message, file);
}

/** A bundle-relative path as plan.json may hold it: '/'-separated, no `..`, `.`, empty or absolute parts. */
export function checkRelPath(rel: unknown, what: string, planFile: string): string {
  if (typeof rel !== 'string' || rel.length === 0 || rel.length > BUNDLE_LIMITS.pathChars) throw bad(`${what}: not a path (a non-empty string of at most ${BUNDLE_LIMITS.pathChars} characters)`, planFile);
  if (UNPRINTABLE.test(rel) || rel.includes('\\')) throw bad(`${what}: ${JSON.stringify(rel.slice(0, 200))} holds an unprintable character or a backslash`, planFile);
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel)) throw bad(`${what}: ${JSON.stringify(rel.slice(0, 200))} is absolute; plan paths are relative to the bundle`, planFile);
  if (rel.split('/').some((p) => p === '' || p === '.' || p === '..')) throw bad(`${what}: ${JSON.stringify(rel.slice(0, 200))} leaves the bundle or has empty parts`, planFile);
  return rel;
}

const inside = (root: string, p: string) => p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

export interface Bundle {
  /** The bundle folder's real path. */
  root: string;
  plan: Plan;
  /** SHA-256 of plan.json's bytes: what the imported set's provenance records. */
  planSha256: string;
}

/** Reads and checks plan.json of a bundle folder. */
export async function readBundle(dir: string): Promise<Bundle> {
  const st = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new AuditError('FILE_NOT_FOUND', 'no such study bundle folder', dir) : e;
  });
  if (!st.isDirectory()) throw new AuditError('BAD_REQUEST', 'is not a folder: give the study bundle folder (the one holding plan.json)', dir);
  const root = await realpath(dir);
  const bytes = await readInside(root, PLAN_FILE, BUNDLE_LIMITS.planBytes);
  if (!bytes) throw new AuditError('FILE_NOT_FOUND', `has no ${PLAN_FILE}: not a study bundle (write one with lora-audit study plan)`, root);
  const planFile = join(root, PLAN_FILE);
  let json: unknown;
  try { json = JSON.parse(bytes.toString('utf8')); } catch (e) { throw bad(`is not JSON (${(e as Error).message.slice(0, 200)})`, planFile); }
  return { root, plan: checkPlan(json, planFile), planSha256: sha256Hex(bytes) };
}

function checkPlan(json: unknown, planFile: string): Plan {
  const p = json as Plan;
  if (!p || typeof p !== 'object' || p.format !== PLAN_FORMAT || p.version !== PLAN_VERSION) {
    throw bad(`is not a ${PLAN_FORMAT} version ${PLAN_VERSION} plan`, planFile);
  }
  if (typeof p.studyId !== 'string' || !/^study-[0-9a-f]{16}$/.test(p.studyId)) throw bad('studyId is not study-<16 hex>', planFile);
  if (!['kohya', 'diffusers', 'builtin'].includes(p.trainer)) throw bad(`trainer ${JSON.stringify(String(p.trainer).slice(0, 40))} is not kohya, diffusers or builtin`, planFile);
  checkRecipe(p.recipe, p.assumed, planFile);
  if (!p.evidence || typeof p.evidence !== 'object' || typeof p.evidence.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(p.evidence.sha256)) throw bad('evidence.sha256 is not a SHA-256', planFile);
  if (typeof p.evidence.file !== 'string' || p.evidence.file.length > 4096 || (p.evidence.family !== undefined && typeof p.evidence.family !== 'string')) throw bad('evidence.file or evidence.family is not a string', planFile);
  if (!Array.isArray(p.runs) || p.runs.length === 0 || p.runs.length > BUNDLE_LIMITS.runs) throw bad(`runs must be a list of 1 to ${BUNDLE_LIMITS.runs} runs`, planFile);
  const ids = new Set<string>(), outputs = new Set<string>(), trained = new Map<string, string>();
  p.runs.forEach((r: PlanRun, i) => {
    const at = `runs[${i}]`;
    if (!r || typeof r !== 'object') throw bad(`${at} is not a run`, planFile);
    if (typeof r.runId !== 'string' || !RUN_ID.test(r.runId)) throw bad(`${at}.runId ${JSON.stringify(String(r.runId).slice(0, 60))} is not a plain run id`, planFile);
    if (ids.has(r.runId)) throw bad(`run id ${r.runId} is listed twice`, planFile);
    ids.add(r.runId);
    if (typeof r.subject !== 'string' || r.subject.length === 0 || r.subject.length > 255 || UNPRINTABLE.test(r.subject)) throw bad(`${at}.subject is not a printable name (no control, bidirectional or zero-width characters)`, planFile);
    if (!Number.isSafeInteger(r.size) || r.size < 1) throw bad(`${at}.size is not a whole number ≥ 1`, planFile);
    if (!Number.isSafeInteger(r.seed) || r.seed < 0) throw bad(`${at}.seed is not a whole number ≥ 0`, planFile);
    // A reference set holds one adapter per (name, size): a second run of both could only be left out,
    // or be recorded against the first run's adapter.
    const trainedKey = JSON.stringify([r.subject, r.size]);
    const twin = trained.get(trainedKey);
    if (twin !== undefined) throw bad(`runs ${twin} and ${r.runId} both train subject ${r.subject} at size ${r.size}; a reference set holds one adapter per subject and size`, planFile);
    trained.set(trainedKey, r.runId);
    checkRelPath(r.output, `${at}.output`, planFile);
    checkRelPath(r.dir, `${at}.dir`, planFile);
    if (outputs.has(r.output)) throw bad(`${at}.output ${r.output} is another run's output too`, planFile);
    outputs.add(r.output);
    if (!Array.isArray(r.images) || r.images.length !== r.size || r.images.length > BUNDLE_LIMITS.imagesPerRun) throw bad(`${at}.images must list its ${r.size} images`, planFile);
    r.images.forEach((im, j) => {
      checkRelPath(im?.path, `${at}.images[${j}].path`, planFile);
      if (typeof im.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(im.sha256)) throw bad(`${at}.images[${j}].sha256 is not a SHA-256`, planFile);
    });
    if (!Array.isArray(r.command) || r.command.some((a) => typeof a !== 'string')) throw bad(`${at}.command is not a list of arguments`, planFile);
  });
  return p;
}

/** The absolute path of a bundle-relative path (checked with checkRelPath first). */
export function bundlePath(b: Bundle, rel: string): string {
  return join(b.root, ...checkRelPath(rel, 'path', join(b.root, PLAN_FILE)).split('/'));
}

/**
 * A regular file inside the bundle, read whole; null when it does not exist. Refused: a symlink (at the
 * file or leading out through a folder), anything but a regular file, more than maxBytes.
 */
export async function readInside(root: string, rel: string, maxBytes: number): Promise<Buffer | null> {
  const path = join(root, ...rel.split('/'));
  const l = await lstat(path).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null; throw e; });
  if (!l) return null;
  if (l.isSymbolicLink()) throw new AuditError('BAD_REQUEST', 'is a symlink; a study bundle holds its files itself', path, { reason: 'UNSAFE_PATH' });
  const real = await realpath(path);
  if (!inside(root, real)) throw new AuditError('BAD_REQUEST', `leads out of the bundle (to ${real})`, path, { reason: 'UNSAFE_PATH' });
  const fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOFOLLOW ?? 0));
  try {
    const s = await fh.stat();
    if (!s.isFile()) throw new AuditError('BAD_REQUEST', 'is not a regular file', path, { reason: 'UNSAFE_PATH' });
    if (s.size > maxBytes) throw new AuditError('LIMIT_EXCEEDED', `is ${s.size} bytes, more than the ${maxBytes} a study reads here`, path);
    const buf = Buffer.alloc(s.size);
    let off = 0;
    while (off < s.size) {
      const { bytesRead } = await fh.read(buf, off, s.size - off, off);
      if (bytesRead === 0) break;
      off += bytesRead;
    }
    if (off !== s.size) throw new AuditError('TRUNCATED', 'changed size while being read', path);
    return buf;
  } finally {
    await fh.close();
  }
}

/** The file's real path when it is a regular file inside the bundle (no symlink), else null (absent). */
export async function fileInside(b: Bundle, rel: string): Promise<{ path: string; size: number } | null> {
  const path = bundlePath(b, rel);
  const l = await lstat(path).catch((e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null; throw e; });
  if (!l) return null;
  if (l.isSymbolicLink()) throw new AuditError('BAD_REQUEST', 'is a symlink; a study bundle holds its outputs itself', path, { reason: 'UNSAFE_PATH' });
  if (!l.isFile()) throw new AuditError('BAD_REQUEST', 'is not a regular file', path, { reason: 'UNSAFE_PATH' });
  const real = await realpath(path);
  if (!inside(b.root, real)) throw new AuditError('BAD_REQUEST', `leads out of the bundle (to ${real})`, path, { reason: 'UNSAFE_PATH' });
  if (l.size > BUNDLE_LIMITS.outputBytes) throw new AuditError('LIMIT_EXCEEDED', `is ${l.size} bytes, more than ${BUNDLE_LIMITS.outputBytes}`, path);
  return { path: real, size: l.size };
}

/**
 * Writes bytes at a bundle-relative path: the folders are made inside the bundle, the bytes go to a
 * fresh temporary name (created exclusively) and are renamed over the target, so the target is either
 * the old file or the whole new one.
 */
export async function writeInside(b: Bundle, rel: string, bytes: Uint8Array): Promise<string> {
  const path = bundlePath(b, rel);
  const parent = dirname(path);
  // The deepest folder that exists already must lie inside the bundle before any is made below it: a
  // folder that is a symlink leading out would otherwise have mkdir make folders outside the bundle.
  let existing = parent;
  while (existing !== b.root && !(await lstat(existing).then(() => true, (e: NodeJS.ErrnoException) => { if (e.code === 'ENOENT') return false; throw e; }))) existing = dirname(existing);
  const realExisting = await realpath(existing).catch(() => { throw new AuditError('BAD_REQUEST', 'its folder is a link that leads nowhere', path, { reason: 'UNSAFE_PATH' }); });
  if (!inside(b.root, realExisting)) throw new AuditError('BAD_REQUEST', `its folder leads out of the bundle (to ${realExisting})`, path, { reason: 'UNSAFE_PATH' });
  await mkdir(parent, { recursive: true });
  const realParent = await realpath(parent);
  if (!inside(b.root, realParent)) throw new AuditError('BAD_REQUEST', `its folder leads out of the bundle (to ${realParent})`, path, { reason: 'UNSAFE_PATH' });
  const tmp = join(realParent, `.${randomBytes(8).toString('hex')}.partial`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, join(realParent, path.slice(parent.length + 1)));
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return path;
}
