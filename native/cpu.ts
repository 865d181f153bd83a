// The fast CPU path: Gram products by the WebAssembly SIMD kernel for float32 factors (exact f32×f32
// products, f64 accumulation), by tight typed-array loops for float64 factors or where SIMD is
// missing; then the flat-array float64 eigen solver. On a machine without a GPU this is what
// calibration picks.
import type { ModuleWeights } from './types.ts';
import type { ComputeBackend } from './backend.ts';
import { symmetricEigen } from './eigen.ts';
import { checkModuleShape, gramCols, gramRows } from './gram.ts';
import { simdGram } from './simd.ts';
import { featuresFromGrams } from './spectrum.ts';
import type { ModuleFeatures } from './types.ts';

export function cpuFeatures(m: ModuleWeights): ModuleFeatures {
  checkModuleShape(m);
  const r = m.rank;
  const simd = simdGram();
  const gA = new Float64Array(r * r);
  const gB = new Float64Array(r * r);
  if (simd && m.a instanceof Float32Array) simd.gramRows(m.a, r, m.inFeatures, gA);
  else gramRows(m.a, r, m.inFeatures, gA);
  if (simd && m.b instanceof Float32Array) simd.gramCols(m.b, m.outFeatures, r, gB);
  else gramCols(m.b, m.outFeatures, r, gB);
  return featuresFromGrams(m.id, r, m.scale, gA, gB, symmetricEigen);
}

export function createCpuBackend(): ComputeBackend {
  return {
    name: 'cpu',
    async features(adapters) {
      return adapters.map((mods) => mods.map(cpuFeatures));
    },
    async dispose() {},
  };
}
