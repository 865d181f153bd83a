// The calibration verdict kept per machine, so a process need not compile every backend's kernels
// to learn what the last one learnt. One small JSON file in the data folder, keyed by what decides
// the verdict (app version, runtime, CPU and GPU identity, the backend list, the tolerance, how the
// probe is timed). The file
// is input like any other: anyone who can write the data folder can write it, so it is read with a
// size bound, checked field by field and rebuilt from the checked fields only; anything else is
// ignored (with the reason) and rewritten after a fresh calibration. Even a well-formed verdict is
// only a hint: the engine rechecks the named backend against the float64 reference before use.
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import type { BackendInfo, BackendName } from './types.ts';

export const CALIBRATION_FILE = 'calibration.json';
const FORMAT = 1;
/** A verdict with every candidate's reason is a few KiB; anything far larger is not ours. */
const MAX_FILE_BYTES = 64 * 1024;
const MAX_REASON_CHARS = 2000;

export interface CalibrationCacheOptions {
  /** The data folder (LORA_AUDIT_HOME or the platform's user-data folder). */
  dir: string;
  appVersion: string;
}

export interface CalibrationKey {
  app: string;
  runtime: string;
  platform: string;
  cpu: string;
  gpu: string[];
  backends: BackendName[];
  tolerance: number;
  /** How each backend's probe was timed: a verdict reached by another rule is made again. */
  timing: string;
}

export interface CachedVerdict {
  info: BackendInfo;
  calibratedAt: string;
}

export type CacheRead = { kind: 'hit'; verdict: CachedVerdict } | { kind: 'absent' } | { kind: 'ignored'; reason: string };

let processDefault: CalibrationCacheOptions | null = null;

/** Where engines of this process keep auto's verdict when their caller names no cache (the CLI sets it; tests and embedders leave it off). */
export function useCalibrationCache(options: CalibrationCacheOptions | null): void {
  processDefault = options;
}

export function defaultCalibrationCache(): CalibrationCacheOptions | null {
  return processDefault;
}

/** Display devices as the kernel names them (PCI vendor:device, NVIDIA's model line): cheap reads, no driver loaded. */
function gpuIdentity(): string[] {
  if (process.platform !== 'linux') return [];
  const ids: string[] = [];
  const read = (path: string) => { try { return readFileSync(path, 'utf8').trim(); } catch { return ''; } };
  const list = (dir: string) => { try { return readdirSync(dir).sort(); } catch { return []; } };
  for (const card of list('/sys/class/drm').filter((n) => /^card\d+$/.test(n))) {
    const vendor = read(`/sys/class/drm/${card}/device/vendor`);
    const device = read(`/sys/class/drm/${card}/device/device`);
    if (vendor || device) ids.push(`${vendor}:${device}`);
  }
  for (const bus of list('/proc/driver/nvidia/gpus')) {
    const model = /^Model:\s*(.+)$/m.exec(read(`/proc/driver/nvidia/gpus/${bus}/information`))?.[1];
    if (model) ids.push(`nvidia ${model.trim()}`);
  }
  return ids;
}

export function calibrationKey(appVersion: string, backends: readonly BackendName[], tolerance: number, timing: string): CalibrationKey {
  const cores = cpus();
  return {
    app: appVersion,
    runtime: `node ${process.versions.node}${process.versions.electron ? ` electron ${process.versions.electron}` : ''} v8 ${process.versions.v8}`,
    platform: `${platform()} ${arch()}`,
    cpu: `${cores[0]?.model?.trim() ?? 'unknown'} ×${cores.length}`,
    gpu: gpuIdentity(),
    backends: [...backends],
    tolerance,
    timing,
  };
}

function fileOf(options: CalibrationCacheOptions): string {
  return join(options.dir, CALIBRATION_FILE);
}

/** The cached verdict for `key`, or why there is none to use. Never throws. */
export function readCalibration(options: CalibrationCacheOptions, key: CalibrationKey): CacheRead {
  let text: string;
  try {
    const bytes = readBounded(fileOf(options));
    if (bytes === null) return { kind: 'absent' };
    text = bytes.toString('utf8');
  } catch (e) {
    return { kind: 'ignored', reason: e instanceof Error ? e.message : String(e) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { kind: 'ignored', reason: 'not JSON' };
  }
  try {
    return { kind: 'hit', verdict: checkVerdict(parsed, key) };
  } catch (e) {
    return { kind: 'ignored', reason: (e as Error).message };
  }
}

/** Reads a regular file (no symlink followed) of at most MAX_FILE_BYTES; null when there is none. */
function readBounded(path: string): Buffer | null {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new Error(code === 'ELOOP' ? 'a symbolic link, not a file' : `unreadable (${code ?? String(e)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_FILE_BYTES) throw new Error(`${st.size} bytes, over the ${MAX_FILE_BYTES}-byte bound`);
    const buf = Buffer.alloc(st.size);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Printable text of bounded length: a reason is shown to a person and printed to a terminal. */
function checkText(v: unknown, what: string): string {
  // eslint-disable-next-line no-control-regex
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_REASON_CHARS || /[\u0000-\u001f\u007f-\u009f]/.test(v)) {
    throw new Error(`${what} is not a short printable text`);
  }
  return v;
}

function checkMeasure(v: unknown, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${what} is not a finite non-negative number`);
  return v;
}

/** Rebuilds the verdict from checked fields only; throws with what is wrong. */
function checkVerdict(doc: unknown, key: CalibrationKey): CachedVerdict {
  if (!isObject(doc) || doc.format !== FORMAT) throw new Error(`not a calibration file of format ${FORMAT}`);
  if (JSON.stringify(doc.key) !== JSON.stringify(key)) throw new Error('made for another app version, runtime, machine, backend list or timing rule');
  const calibratedAt = doc.calibratedAt;
  if (typeof calibratedAt !== 'string' || !/^\d{4}-\d\d-\d\dT[\d:.]+Z$/.test(calibratedAt) || !Number.isFinite(Date.parse(calibratedAt))) {
    throw new Error('calibratedAt is not a date');
  }
  const v = doc.verdict;
  if (!isObject(v)) throw new Error('no verdict');
  const allowed = new Set<string>(key.backends);
  const name = v.name;
  if (typeof name !== 'string' || (name !== 'reference' && !allowed.has(name))) throw new Error('the verdict names no backend of the list');
  const reason = checkText(v.reason, 'the verdict reason');
  if (!Array.isArray(v.candidates) || v.candidates.length > key.backends.length) throw new Error('the candidate list is not a list of the backends');
  const seen = new Set<string>();
  const candidates: BackendInfo['candidates'] = v.candidates.map((c: unknown, i: number) => {
    if (!isObject(c) || typeof c.name !== 'string' || !allowed.has(c.name) || seen.has(c.name)) throw new Error(`candidate ${i} is not one of the backends, once`);
    seen.add(c.name);
    if (typeof c.ok !== 'boolean') throw new Error(`candidate ${c.name} has no ok flag`);
    const ms = checkMeasure(c.ms, `candidate ${c.name}'s time`);
    const maxRelError = checkMeasure(c.maxRelError, `candidate ${c.name}'s error`);
    const entry: BackendInfo['candidates'][number] = { name: c.name as BackendName, ok: c.ok, reason: checkText(c.reason, `candidate ${c.name}'s reason`) };
    if (ms !== undefined) entry.ms = ms;
    if (maxRelError !== undefined) entry.maxRelError = maxRelError;
    return entry;
  });
  if (name !== 'reference') {
    const chosen = candidates.find((c) => c.name === name);
    if (!chosen || !chosen.ok || chosen.ms === undefined) throw new Error(`the verdict ${name} is not a candidate that agreed`);
    // The verdict must follow from its own figures: the fastest of the candidates that agreed.
    const faster = candidates.find((c) => c.ok && c.ms !== undefined && c.ms < chosen.ms!);
    if (faster) throw new Error(`the verdict ${name} (${chosen.ms} ms) is not the fastest candidate that agreed (${faster.name}: ${faster.ms} ms)`);
  }
  return { info: { name: name as BackendName, reason, candidates }, calibratedAt };
}

/** Writes the verdict whole or not at all (a temporary file renamed over the old one); returns why it could not, or null. */
export function writeCalibration(options: CalibrationCacheOptions, key: CalibrationKey, info: BackendInfo, calibratedAt = new Date().toISOString()): string | null {
  const target = fileOf(options);
  const temp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const doc = { format: FORMAT, key, calibratedAt, verdict: { name: info.name, reason: info.reason, candidates: info.candidates } };
  try {
    mkdirSync(options.dir, { recursive: true });
    writeFileSync(temp, JSON.stringify(doc, null, 2) + '\n', { flag: 'wx', mode: 0o600 });
    renameSync(temp, target);
    return null;
  } catch (e) {
    rmSync(temp, { force: true });
    return e instanceof Error ? e.message : String(e);
  }
}
