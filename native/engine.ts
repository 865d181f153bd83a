// The feature engine: picks a backend by calibration (agreement with the float64 reference on a
// probe batch, then speed), never by a fixed preference order, and says which one it picked and why.
// Calibration compiles every backend's kernels, seconds of work, so auto's verdict is kept per
// machine (calibration-cache.ts) and a later process rechecks only the backend it names. A
// backend's code is loaded when that backend is created: gpu.js only for the GPU.js backends.
import { AuditError } from '../main/errors.ts';
import type { ModuleWeights } from './types.ts';
import type { BackendCandidate, ComputeBackend } from './backend.ts';
import {
  calibrationKey, defaultCalibrationCache, readCalibration, writeCalibration,
  type CachedVerdict, type CalibrationCacheOptions, type CalibrationKey,
} from './calibration-cache.ts';
import { createCpuBackend } from './cpu.ts';
import type { GpujsBackendName } from './gpujs/backend.ts';
import { probeBatch } from './probe.ts';
import { createReferenceBackend, referenceFeatures } from './reference.ts';
import type { BackendInfo, BackendName, FeatureEngine, ModuleFeatures } from './types.ts';

/**
 * Agreement required with the float64 reference, per singular value (all r of them: the probe is
 * well-conditioned), relative. Float32 Gram products accumulated over up to 1,280 terms carry ~4e-5
 * relative error on their small entries; on the probe the float32 backends measured 2e-7 (webasm) and
 * 2e-8 (gpujs-cpu), the float64 CPU path 4e-15. 1e-4 passes every honest float32 backend with a wide
 * margin and still fails an indexing, packing or half-precision bug (those are ≥ 1e-3).
 */
export const AGREEMENT_TOLERANCE = 1e-4;

export const BACKEND_NAMES: readonly BackendName[] = ['reference', 'cpu', 'gpujs-cpu', 'webasm', 'headlessgl', 'webgpu', 'webgl2'];

export interface EngineOptions {
  backend?: 'auto' | BackendName;
  log?: (line: string) => void;
  /** Extra candidates calibrated after the built-in ones (tests inject a wrong backend here). A run with extras is not cached. */
  extraCandidates?: BackendCandidate[];
  /** Restrict auto's built-in candidates (default: all but the reference, which is the yardstick). */
  candidates?: BackendName[];
  /** Where auto keeps its verdict across processes; default: the process's (useCalibrationCache), null: none.
   *  Only the default candidate list is cached. */
  calibrationCache?: CalibrationCacheOptions | null;
}

export const AUTO_CANDIDATES: readonly BackendName[] = ['cpu', 'gpujs-cpu', 'webasm', 'headlessgl', 'webgpu', 'webgl2'];

export function builtinCandidate(name: BackendName): BackendCandidate {
  if (name === 'reference') return { name, create: async () => createReferenceBackend() };
  if (name === 'cpu') return { name, create: async () => createCpuBackend() };
  return { name, create: async () => (await import('./gpujs/backend.ts')).createGpujsBackend(name as GpujsBackendName) };
}

interface Calibration {
  name: BackendName;
  info: BackendInfo;
}

/** Auto's verdict, once per process (from the cache or a calibration). */
let verdict: Promise<Calibration> | null = null;

export async function createFeatureEngine(opts: EngineOptions = {}): Promise<FeatureEngine> {
  const log = opts.log ?? (() => undefined);
  const requested = opts.backend ?? 'auto';
  if (requested !== 'auto' && !BACKEND_NAMES.includes(requested)) {
    throw new AuditError('BAD_REQUEST', `unknown backend "${requested}"; use auto or one of ${BACKEND_NAMES.join(', ')}`);
  }
  let backend: ComputeBackend;
  let info: BackendInfo;
  if (requested === 'auto') {
    const custom = opts.extraCandidates !== undefined || opts.candidates !== undefined;
    let calibration: Calibration;
    if (custom) {
      calibration = await calibrate([...(opts.candidates ?? AUTO_CANDIDATES).map(builtinCandidate), ...(opts.extraCandidates ?? [])], log);
    } else {
      const cache = opts.calibrationCache === undefined ? defaultCalibrationCache() : opts.calibrationCache;
      calibration = await (verdict ??= autoCalibration(cache, log).catch((e) => { verdict = null; throw e; }));
    }
    log(`feature backend: ${calibration.name} (${calibration.info.reason})`);
    const candidate = [...(opts.extraCandidates ?? [])].find((c) => c.name === calibration.name) ?? builtinCandidate(calibration.name);
    backend = await candidate.create();
    info = calibration.info;
  } else {
    backend = await createNamed(requested);
    if (requested === 'reference') {
      info = { name: requested, reason: 'requested by name; the float64 reference itself', candidates: [{ name: requested, ok: true, reason: 'requested' }] };
    } else {
      // A named backend still has to agree with the reference: a forensic figure from a backend
      // that computes wrongly is worse than no figure.
      // One probe run is the check; its time would only matter for a choice, and there is none.
      const check = await agreement(backend);
      if (!check.ok) {
        await backend.dispose();
        throw new AuditError('BACKEND_FAILED', `${requested} ${check.reason}`);
      }
      info = { name: requested, reason: `requested by name; agrees with the float64 reference on the probe (max relative error ${check.maxRelError!.toExponential(1)})`, candidates: [{ name: requested, ...check }] };
    }
  }
  return engineOver(backend, info);
}

async function createNamed(name: BackendName): Promise<ComputeBackend> {
  try {
    return await builtinCandidate(name).create();
  } catch (e) {
    if (e instanceof AuditError) throw e;
    throw new AuditError('BACKEND_FAILED', `${name} unavailable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function engineOver(backend: ComputeBackend, info: BackendInfo): FeatureEngine {
  let disposed = false;
  return {
    info,
    async compute(modules: ModuleWeights[]): Promise<ModuleFeatures[]> {
      if (disposed) throw new AuditError('BACKEND_FAILED', 'the feature engine was disposed');
      return (await backend.features([modules]))[0];
    },
    async computeBatch(adapters: ModuleWeights[][]): Promise<ModuleFeatures[][]> {
      if (disposed) throw new AuditError('BACKEND_FAILED', 'the feature engine was disposed');
      return backend.features(adapters);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      void backend.dispose().catch(() => undefined);
    },
  };
}

type Measured = { ok: boolean; ms?: number; maxRelError?: number; reason: string };

let probe: { modules: ModuleWeights[]; reference: ModuleFeatures[] } | null = null;

function probeWithReference(): { modules: ModuleWeights[]; reference: ModuleFeatures[] } {
  if (!probe) {
    const modules = probeBatch();
    probe = { modules, reference: modules.map((m) => referenceFeatures(m)) };
  }
  return probe;
}

/** Largest relative deviation from the reference over σ(A), σ(B), σ(ΔW) of every module (NaN counts as infinite). */
export function maxRelativeError(got: ModuleFeatures[], want: ModuleFeatures[]): number {
  let worst = 0;
  if (got.length !== want.length) return Infinity;
  for (let i = 0; i < want.length; i++) {
    for (const key of ['sigmaA', 'sigmaB', 'sigmaDW'] as const) {
      const g = got[i][key];
      const w = want[i][key];
      if (!g || g.length !== w.length) return Infinity;
      for (let j = 0; j < w.length; j++) {
        const err = g[j] === w[j] ? 0 : Math.abs(g[j] - w[j]) / Math.abs(w[j]); // exact zeros agree
        if (!(err <= worst)) worst = Number.isNaN(err) ? Infinity : err;
      }
    }
  }
  return worst;
}

/** One probe run, compared with the reference (the run includes kernel compilation). */
async function agreement(backend: ComputeBackend): Promise<Measured> {
  const { modules, reference } = probeWithReference();
  let got: ModuleFeatures[];
  try {
    [got] = await backend.features([modules]);
  } catch (e) {
    return { ok: false, reason: `failed on the probe: ${e instanceof Error ? e.message : String(e)}` };
  }
  const maxRelError = maxRelativeError(got, reference);
  if (!(maxRelError <= AGREEMENT_TOLERANCE)) {
    return { ok: false, maxRelError, reason: `disagrees with the float64 reference: max relative error ${maxRelError.toExponential(2)} > ${AGREEMENT_TOLERANCE}` };
  }
  return { ok: true, maxRelError, reason: 'agrees with the float64 reference' };
}

/**
 * How a backend's probe is timed: at least PROBE_RUNS.min runs and PROBE_TIME_MS of runs in all (at
 * most PROBE_RUNS.max), and the fastest run counts. Other processes stretch a run by a wait for a
 * core; the fastest run is the least disturbed estimate of the backend's own cost, and it is
 * disturbed less the more runs there are. Best of three once picked gpujs-cpu (13–26 ms a probe)
 * over cpu (1.6–5 ms) on a machine at load 16, and the calibration cache kept that verdict.
 */
export const PROBE_RUNS = { min: 3, max: 40 };
export const PROBE_TIME_MS = 60;
const PROBE_TIMING = `fastest of ≥ ${PROBE_RUNS.min} runs and ≥ ${PROBE_TIME_MS} ms of runs (≤ ${PROBE_RUNS.max} runs)`;

/** The key auto's verdict is cached under on this machine for this app version. */
export function autoCalibrationKey(appVersion: string): CalibrationKey {
  return calibrationKey(appVersion, AUTO_CANDIDATES, AGREEMENT_TOLERANCE, PROBE_TIMING);
}

/** The fastest of repeated runs of `run`, timed by `now` (ms), as PROBE_RUNS and PROBE_TIME_MS say. */
export async function fastestRun(run: () => Promise<unknown>, now: () => number = () => performance.now()): Promise<{ ms: number; runs: number }> {
  let ms = Infinity;
  let spent = 0;
  let runs = 0;
  while (runs < PROBE_RUNS.min || (spent < PROBE_TIME_MS && runs < PROBE_RUNS.max)) {
    const t0 = now();
    await run();
    const took = now() - t0;
    ms = Math.min(ms, took);
    spent += took;
    runs++;
  }
  return { ms, runs };
}

/** Checks agreement on the probe, then times it. */
async function measure(backend: ComputeBackend, log: (line: string) => void): Promise<Measured> {
  const checked = await agreement(backend);
  if (!checked.ok) return checked;
  const { modules } = probeWithReference();
  let timed: { ms: number; runs: number };
  try {
    timed = await fastestRun(() => backend.features([modules]));
  } catch (e) {
    return { ok: false, maxRelError: checked.maxRelError, reason: `failed on a repeated probe run: ${e instanceof Error ? e.message : String(e)}` };
  }
  log(`  ${backend.name}: ${timed.ms.toFixed(1)} ms on the probe (fastest of ${timed.runs} runs), max relative error ${checked.maxRelError!.toExponential(1)}`);
  return { ...checked, ms: timed.ms };
}

/** Auto with the default candidates: the cached verdict when it still holds, else a calibration (then cached). */
async function autoCalibration(cache: CalibrationCacheOptions | null, log: (line: string) => void): Promise<Calibration> {
  const key = cache ? autoCalibrationKey(cache.appVersion) : null;
  if (cache && key) {
    const read = readCalibration(cache, key);
    if (read.kind === 'ignored') log(`calibration cache ignored (${read.reason}); calibrating`);
    if (read.kind === 'hit') {
      const rechecked = await recheck(read.verdict, log);
      if (rechecked) return rechecked;
    }
  }
  const fresh = await calibrate(AUTO_CANDIDATES.map(builtinCandidate), log);
  if (cache && key) {
    const failed = writeCalibration(cache, key, fresh.info);
    if (failed) log(`calibration not cached: ${failed}`);
  }
  return fresh;
}

/** The cached verdict, if its backend still starts and agrees with the reference on one probe run; else null (and why, logged). */
async function recheck(verdict: CachedVerdict, log: (line: string) => void): Promise<Calibration | null> {
  const { info, calibratedAt } = verdict;
  const cachedReason = (check: string) => `cached verdict of ${calibratedAt} (${check}): ${info.reason}`;
  if (info.name === 'reference') return { name: 'reference', info: { ...info, reason: cachedReason('the reference needs no check') } };
  let backend: ComputeBackend;
  try {
    backend = await builtinCandidate(info.name).create();
  } catch (e) {
    log(`cached verdict ${info.name} no longer starts (${e instanceof Error ? e.message : String(e)}); calibrating`);
    return null;
  }
  try {
    const check = await agreement(backend);
    if (!check.ok) {
      log(`cached verdict ${info.name} ${check.reason}; calibrating`);
      return null;
    }
    const reason = cachedReason(`rechecked on the probe: max relative error ${check.maxRelError!.toExponential(1)}`);
    return { name: info.name, info: { ...info, reason } };
  } finally {
    await backend.dispose().catch(() => undefined);
  }
}

/** The verdict cached for this machine, unchecked, for a report of state (`lora-audit version`); null when none holds. */
export function cachedCalibration(cache: CalibrationCacheOptions | null = defaultCalibrationCache()): CachedVerdict | null {
  if (!cache) return null;
  const read = readCalibration(cache, autoCalibrationKey(cache.appVersion));
  return read.kind === 'hit' ? read.verdict : null;
}

async function calibrate(candidates: BackendCandidate[], log: (line: string) => void): Promise<Calibration> {
  const results: BackendInfo['candidates'] = [];
  for (const c of candidates) {
    let backend: ComputeBackend;
    try {
      backend = await c.create();
    } catch (e) {
      const reason = e instanceof AuditError ? e.message.replace(new RegExp(`^${c.name} `), '') : `unavailable: ${e instanceof Error ? e.message : String(e)}`;
      results.push({ name: c.name, ok: false, reason });
      log(`  ${c.name}: dropped, ${reason}`);
      continue;
    }
    try {
      const m = await measure(backend, log);
      results.push({ name: c.name, ...m });
      if (!m.ok) log(`  ${c.name}: dropped, ${m.reason}`);
    } finally {
      await backend.dispose().catch(() => undefined);
    }
  }
  const agreed = results.filter((r) => r.ok).sort((a, b) => a.ms! - b.ms!);
  if (agreed.length === 0) {
    // The reference is always correct and always available; it is the floor, not a candidate.
    const reason = `no candidate agreed with the float64 reference on the probe (${results.map((r) => `${r.name}: ${r.reason}`).join('; ')}); using the reference itself`;
    return { name: 'reference', info: { name: 'reference', reason, candidates: results } };
  }
  const best = agreed[0];
  const next = agreed[1];
  const reason = `fastest of ${agreed.length} backend${agreed.length === 1 ? '' : 's'} that agreed with the float64 reference on the probe`
    + ` (${best.ms!.toFixed(1)} ms${next ? `; next ${next.name} ${next.ms!.toFixed(1)} ms` : ''})`;
  return { name: best.name, info: { name: best.name, reason, candidates: results } };
}
