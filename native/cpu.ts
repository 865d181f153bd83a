// The fast CPU path: tight typed-array Gram loops (float64 accumulation) and the flat-array eigen
// solver. On a machine without a GPU this is what calibration picks.
import type { ModuleWeights } from '../main/intake/model.ts';
import type { ComputeBackend } from './backend.ts';
import { symmetricEigen } from './eigen.ts';
import { checkModuleShape, gramCols, gramRows, type Weights } from './gram.ts';
import { featuresFromGrams } from './spectrum.ts';
import type { ModuleFeatures } from './types.ts';

export function cpuFeatures(m: ModuleWeights, scratch?: { f32: Float32Array; f64: Float64Array }): ModuleFeatures {
  checkModuleShape(m);
  const r = m.rank;
  const gA = gramRows(m.a, r, m.inFeatures, new Float64Array(r * r));
  const s: Weights | undefined = scratch ? (m.b instanceof Float64Array ? scratch.f64 : scratch.f32) : undefined;
  const gB = gramCols(m.b, m.outFeatures, r, new Float64Array(r * r), s);
  return featuresFromGrams(m.id, r, m.scale, gA, gB, symmetricEigen);
}

export function createCpuBackend(): ComputeBackend {
  // One transpose buffer reused across modules, grown to the largest B seen.
  let f32 = new Float32Array(0);
  let f64 = new Float64Array(0);
  return {
    name: 'cpu',
    async features(adapters) {
      return adapters.map((mods) => mods.map((m) => {
        const need = m.outFeatures * m.rank;
        if (m.b instanceof Float64Array && f64.length < need) f64 = new Float64Array(need);
        if (m.b instanceof Float32Array && f32.length < need) f32 = new Float32Array(need);
        return cpuFeatures(m, { f32, f64 });
      }));
    },
    async dispose() {},
  };
}
