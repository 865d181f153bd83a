// The spectra chart's data: from stored reference features and the evidence's own features, and never
// from bytes other than the evidence.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine, ModuleFeatures } from '../../../native/types.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { extractFeatures } from '../../../main/features/extract.ts';
import type { ReferenceSet } from '../../../main/reference/types.ts';
import { evidenceSpectra, spectraFromFeatures } from '../../../main/reports/spectra.ts';
import { haveRealAdapters, realAdapter } from '../../fixtures.ts';

const ADAPTER = realAdapter('diffusers-sd15-peft-faithsang/pytorch_lora_weights.safetensors');

const feat = (id: string, s: number): ModuleFeatures => ({
  id, rank: 2, sigmaA: Float64Array.of(s, s / 2), sigmaB: Float64Array.of(s, s / 3), sigmaDW: Float64Array.of(s, s / 4),
  normA: s, normB: s, normDW: s, effectiveRank: 1.5,
});

function referenceOf(modules: ModuleFeatures[], scaleBySize: Record<number, number[]>): ReferenceSet {
  const sizes = Object.keys(scaleBySize).map(Number).sort((a, b) => a - b);
  let id = 0;
  return {
    id: 1, name: 'test-set',
    config: { rank: 2, family: 'diffusers-lora', method: 'lora', scaleRule: 'one', scale: 1, baseModel: 'sd1',
      modules: modules.map((m) => ({ id: m.id, inFeatures: 4, outFeatures: 4 })), sizes, names: ['a'] },
    provenance: { source: 'labelled-folder', importerVersion: 't', createdAt: 't', shards: [] },
    adapters: sizes.flatMap((size) => scaleBySize[size].map((k) => ({
      id: ++id, name: `n${id}`, label: size, source: 's',
      features: modules.map((m) => ({ ...m, sigmaDW: m.sigmaDW.map((v) => v * k) })),
    }))),
  };
}

describe('spectraFromFeatures', () => {
  it("puts the adapter's σ₁(ΔW) per module beside each size's mean, in the reference set's module order", () => {
    const modules = [feat('m.a', 1), feat('m.b', 2), feat('m.c', 3)];
    const ref = referenceOf(modules, { 1: [1, 3], 10: [10] });
    const query = [feat('m.c', 30), feat('m.a', 10), feat('m.zzz', 99)];   // another order, one unknown module
    const s = spectraFromFeatures(ref, query);
    expect(s.statistic).toBe('σ₁(ΔW)');
    expect(s.modules).toEqual(['m.a', 'm.c']);
    expect(s.query).toEqual([10, 30]);
    expect(s.bySize).toEqual([{ size: 1, mean: [2, 6] }, { size: 10, mean: [10, 30] }]);
  });
});

describe.skipIf(!haveRealAdapters)('evidenceSpectra', () => {
  let engine: FeatureEngine;
  let features: ModuleFeatures[];
  let sha256: string;
  beforeAll(async () => {
    engine = await createFeatureEngine({ backend: 'cpu' });
    const adapter = await openAdapter(ADAPTER);
    try {
      sha256 = adapter.identity.sha256;
      features = (await extractFeatures(adapter, engine)).modules;
    } finally {
      await adapter.source.close();
    }
  }, 60_000);
  afterAll(() => engine?.dispose());

  it('recomputes the query side from the evidence file', async () => {
    const ref = referenceOf(features.slice(0, 8), { 5: [0.5], 50: [2] });
    const s = await evidenceSpectra(ADAPTER, sha256, ref, engine);
    expect(s).not.toBeNull();
    expect(s!.modules).toEqual(features.slice(0, 8).map((m) => m.id));
    expect(s!.query).toEqual(features.slice(0, 8).map((m) => m.sigmaDW[0]));
    expect(s!.bySize.map((b) => b.size)).toEqual([5, 50]);
    expect(s!.bySize[1].mean[0]).toBeCloseTo(features[0].sigmaDW[0] * 2, 10);
  });

  it('refuses to draw from a file whose hash is not the recorded one', async () => {
    const ref = referenceOf(features.slice(0, 8), { 5: [1] });
    expect(await evidenceSpectra(ADAPTER, '0'.repeat(64), ref, engine)).toBeNull();
  });
});
