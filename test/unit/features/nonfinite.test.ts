// Features that are not numbers survive a trip through JSON as "not a number": JSON writes NaN and
// ±Inf as null, and reading null back as 0 (Float64Array.from) or as a bare null (which compares as 0)
// would turn a refusal into a measurement.
import { describe, expect, it } from 'vitest';
import { moduleFeaturesFromJson, moduleFeaturesToJson } from '../../../main/features/json.ts';
import type { ModuleFeatures } from '../../../native/types.ts';

describe('features JSON', () => {
  it('reads back NaN and ±Inf, written as null, as NaN: never as 0', () => {
    const f: ModuleFeatures = {
      id: 'unet.m', rank: 2,
      sigmaA: Float64Array.from([Number.NaN, 1]), sigmaB: Float64Array.from([Infinity, 0.5]), sigmaDW: Float64Array.from([2, -Infinity]),
      normA: Number.NaN, normB: Infinity, normDW: 2, effectiveRank: Number.NaN,
    };
    const wire = JSON.parse(JSON.stringify(moduleFeaturesToJson(f)));
    expect(wire.sigmaA).toEqual([null, 1]);
    const back = moduleFeaturesFromJson(wire);
    expect(Array.from(back.sigmaA)).toEqual([Number.NaN, 1]);
    expect(Array.from(back.sigmaB)).toEqual([Number.NaN, 0.5]);
    expect(Array.from(back.sigmaDW)).toEqual([2, Number.NaN]);
    expect(back.normA).toBeNaN();
    expect(back.normB).toBeNaN();
    expect(back.normDW).toBe(2);
    expect(back.effectiveRank).toBeNaN();
  });
});
