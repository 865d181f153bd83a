// Calibration: correctness against the reference first, then speed; dropped backends say why.
import { describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import type { BackendCandidate, ComputeBackend } from '../../../native/backend.ts';
import { createCpuBackend } from '../../../native/cpu.ts';
import { createFeatureEngine, fastestRun, PROBE_RUNS, PROBE_TIME_MS } from '../../../native/engine.ts';
import type { BackendName } from '../../../native/types.ts';
import { randomModule } from './helpers.ts';

/** A backend that computes, then perturbs σ(ΔW) by a relative `error`: a packing or precision bug in miniature. */
function skewed(name: BackendName, error: number): BackendCandidate {
  return {
    name,
    async create(): Promise<ComputeBackend> {
      const inner = createCpuBackend();
      return {
        name,
        async features(adapters) {
          const out = await inner.features(adapters);
          for (const mods of out) for (const m of mods) m.sigmaDW = m.sigmaDW.map((v) => v * (1 + error));
          return out;
        },
        dispose: () => inner.dispose(),
      };
    },
  };
}

describe('backend calibration', () => {
  it('drops a backend that disagrees with the float64 reference, says why, and never picks it', async () => {
    const lines: string[] = [];
    const engine = await createFeatureEngine({ candidates: ['cpu'], extraCandidates: [skewed('webgpu', 1e-3)], log: (l) => lines.push(l) });
    try {
      expect(engine.info.name).toBe('cpu');
      const bad = engine.info.candidates.find((c) => c.name === 'webgpu')!;
      expect(bad.ok).toBe(false);
      expect(bad.reason).toMatch(/disagrees with the float64 reference: max relative error 1\.00e-3 > 0\.0001/);
      expect(bad.maxRelError).toBeCloseTo(1e-3, 6);
      expect(lines.some((l) => /webgpu: dropped, disagrees/.test(l))).toBe(true);
      const good = engine.info.candidates.find((c) => c.name === 'cpu')!;
      expect(good.ok).toBe(true);
      expect(good.maxRelError).toBeLessThan(1e-12);
      expect(engine.info.reason).toMatch(/fastest of 1 backend that agreed/);
    } finally {
      engine.dispose();
    }
  });

  it('keeps a backend whose error is within tolerance', async () => {
    const engine = await createFeatureEngine({ candidates: [], extraCandidates: [skewed('gpujs-cpu', 2e-5)] });
    try {
      expect(engine.info.name).toBe('gpujs-cpu');
      expect(engine.info.candidates[0].ok).toBe(true);
    } finally {
      engine.dispose();
    }
  });

  it('drops a backend that throws on the probe or cannot start, and falls back to the reference when none agrees', async () => {
    const broken: BackendCandidate = {
      name: 'webasm',
      async create() {
        return { name: 'webasm', features: async () => { throw new Error('kernel compilation failed'); }, dispose: async () => {} };
      },
    };
    const missing: BackendCandidate = { name: 'headlessgl', create: async () => { throw new Error('no context'); } };
    const engine = await createFeatureEngine({ candidates: [], extraCandidates: [broken, missing, skewed('webgpu', 0.05)] });
    try {
      expect(engine.info.name).toBe('reference');
      expect(engine.info.candidates.map((c) => [c.name, c.ok])).toEqual([['webasm', false], ['headlessgl', false], ['webgpu', false]]);
      expect(engine.info.candidates[0].reason).toMatch(/failed on the probe: kernel compilation failed/);
      expect(engine.info.candidates[1].reason).toMatch(/unavailable: no context/);
      expect(engine.info.reason).toMatch(/no candidate agreed/);
      const [f] = await engine.compute([randomModule(1, 4, 16, 16)]);
      expect(f.sigmaDW[0]).toBeGreaterThan(0);
    } finally {
      engine.dispose();
    }
  });

  it('auto on this machine lists every backend it tried and picks one that agreed; the result is cached per process', async () => {
    const first = await createFeatureEngine();
    const second = await createFeatureEngine();
    try {
      const names = first.info.candidates.map((c) => c.name);
      expect(names).toEqual(expect.arrayContaining(['cpu', 'gpujs-cpu', 'webasm', 'headlessgl', 'webgpu']));
      const chosen = first.info.candidates.find((c) => c.name === first.info.name)!;
      expect(chosen.ok).toBe(true);
      for (const c of first.info.candidates.filter((x) => x.ok)) expect(chosen.ms!).toBeLessThanOrEqual(c.ms!);
      for (const c of first.info.candidates.filter((x) => !x.ok)) expect(c.reason).not.toBe('');
      expect(second.info).toBe(first.info);
    } finally {
      first.dispose();
      second.dispose();
    }
  });

  it('refuses an unknown backend name and a disposed engine', async () => {
    await expect(createFeatureEngine({ backend: 'cuda' as BackendName })).rejects.toSatisfy((e: unknown) => isAuditError(e, 'BAD_REQUEST'));
    const engine = await createFeatureEngine({ backend: 'cpu' });
    engine.dispose();
    await expect(engine.compute([randomModule(2, 4, 8, 8)])).rejects.toSatisfy((e: unknown) => isAuditError(e, 'BACKEND_FAILED'));
  });
});

describe('probe timing on a busy machine', () => {
  /** A run that advances a fake clock by the next of `durations` (the last one repeats). */
  function runsTaking(clock: { t: number }, durations: number[]): () => Promise<void> {
    let i = 0;
    return async () => { clock.t += durations[Math.min(i++, durations.length - 1)]; };
  }

  it('times a backend whose runs other processes stretched at its fastest run, so a slower steady one does not win', async () => {
    // A 2 ms backend whose runs mostly wait 10 ms for a core, against a steady 8 ms one: the best of
    // three runs said 12 against 8 and picked the slower backend.
    const clock = { t: 0 };
    const now = () => clock.t;
    const stretched = await fastestRun(runsTaking(clock, [12, 12, 12, 12, 2, 12]), now);
    const steady = await fastestRun(runsTaking(clock, [8]), now);
    expect(stretched).toEqual({ ms: 2, runs: 6 });
    expect(steady).toEqual({ ms: 8, runs: Math.ceil(PROBE_TIME_MS / 8) });
    expect(stretched.ms).toBeLessThan(steady.ms);
  });

  it('runs a slow probe PROBE_RUNS.min times and a very fast one at most PROBE_RUNS.max times', async () => {
    const clock = { t: 0 };
    const now = () => clock.t;
    expect(await fastestRun(runsTaking(clock, [500]), now)).toEqual({ ms: 500, runs: PROBE_RUNS.min });
    expect(await fastestRun(runsTaking(clock, [0.5]), now)).toEqual({ ms: 0.5, runs: PROBE_RUNS.max });
  });
});
