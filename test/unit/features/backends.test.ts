// Every backend that runs here agrees with the float64 reference; those that cannot run say why.
import { afterAll, describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { AGREEMENT_TOLERANCE, createFeatureEngine, maxRelativeError } from '../../../native/engine.ts';
import { seededRandom, wellConditionedModule } from '../../../native/probe.ts';
import { referenceFeatures } from '../../../native/reference.ts';
import type { BackendName, FeatureEngine } from '../../../native/types.ts';
import { isDescending } from './helpers.ts';

// Well-conditioned modules of several shapes (odd rank, F64 factors, the widest SD-1.x width) spread
// over three adapters, so batching across modules and adapters is exercised.
const rand = seededRandom(2024);
const adapters: ModuleWeights[][] = [
  [
    wellConditionedModule(rand, { id: 'a.q', rank: 8, inFeatures: 320, outFeatures: 320, scale: 1 }),
    wellConditionedModule(rand, { id: 'a.k', rank: 8, inFeatures: 768, outFeatures: 320, scale: 1 }),
    wellConditionedModule(rand, { id: 'a.ff', rank: 8, inFeatures: 1280, outFeatures: 640, scale: 0.25 }),
  ],
  [
    wellConditionedModule(rand, { id: 'b.q', rank: 8, inFeatures: 320, outFeatures: 320, scale: 2 }),
    wellConditionedModule(rand, { id: 'b.odd', rank: 5, inFeatures: 100, outFeatures: 60, scale: -1, dtype: 'F64' }),
  ],
  [wellConditionedModule(rand, { id: 'c.q', rank: 8, inFeatures: 320, outFeatures: 320, scale: 1 })],
];
const reference = adapters.map((mods) => mods.map(referenceFeatures));

const engines: FeatureEngine[] = [];
afterAll(() => engines.forEach((e) => e.dispose()));

async function tryEngine(name: BackendName): Promise<FeatureEngine | { error: unknown }> {
  try {
    const e = await createFeatureEngine({ backend: name });
    engines.push(e);
    return e;
  } catch (error) {
    return { error };
  }
}

describe('backends against the float64 reference', () => {
  for (const name of ['cpu', 'gpujs-cpu', 'webasm', 'headlessgl', 'webgpu'] as BackendName[]) {
    it(`${name}: agrees to ≤ ${AGREEMENT_TOLERANCE} relative on every singular value, batched across adapters, or says why it cannot run`, async () => {
      const e = await tryEngine(name);
      if ('error' in e) {
        // Only the GPU-side backends may be missing; the CPU-side ones always run in Node.
        expect(['headlessgl', 'webgpu']).toContain(name);
        expect(isAuditError(e.error, 'BACKEND_FAILED')).toBe(true);
        expect(String((e.error as Error).message)).toMatch(name === 'headlessgl' ? /unavailable: gl (not installed|is installed but)/ : /unavailable: (no adapter|Dawn)/);
        return;
      }
      expect(e.info.name).toBe(name);
      const got = await e.computeBatch(adapters);
      expect(got.map((a) => a.map((m) => m.id))).toEqual(adapters.map((a) => a.map((m) => m.id)));
      for (let i = 0; i < adapters.length; i++) {
        expect(maxRelativeError(got[i], reference[i])).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
        for (const f of got[i]) {
          expect(isDescending(f.sigmaDW) && isDescending(f.sigmaA) && isDescending(f.sigmaB)).toBe(true);
          expect(Math.abs(f.normDW - reference[i].find((r) => r.id === f.id)!.normDW)).toBeLessThan(1e-4 * f.normDW);
        }
      }
      // one adapter alone gives the same as within the batch
      const single = await e.compute(adapters[1]);
      expect(maxRelativeError(single, got[1])).toBeLessThan(1e-12);
    });
  }

  it('the reference backend is the reference', async () => {
    const e = await createFeatureEngine({ backend: 'reference' });
    engines.push(e);
    const got = await e.compute(adapters[0]);
    expect(maxRelativeError(got, reference[0])).toBe(0);
    expect(e.info.reason).toMatch(/float64 reference/);
  });

  it('webgl2 is refused in Node with the reason', async () => {
    const e = await tryEngine('webgl2');
    expect('error' in e && isAuditError(e.error, 'BACKEND_FAILED')).toBe(true);
    expect(String((e as { error: Error }).error.message)).toMatch(/only inside a browser renderer/);
  });
});
