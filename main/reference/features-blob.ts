// One adapter's features as one BLOB: little-endian float64, module after module in the set's
// config.modules order, each [σA(r), σB(r), σΔW(r), ‖A‖, ‖B‖, ‖ΔW‖, effective rank]. Module ids and
// the rank live once in the set's config, not in every row.
import type { ModuleFeatures } from '../../native/types.ts';
import { AuditError } from '../errors.ts';

export function valuesPerModule(rank: number): number {
  return 3 * rank + 4;
}

export function packFeatures(features: ModuleFeatures[], moduleIds: string[], rank: number): Buffer {
  if (features.length !== moduleIds.length) {
    throw new AuditError('INTERNAL', `features for ${features.length} modules, the set has ${moduleIds.length}`);
  }
  const per = valuesPerModule(rank);
  const out = new Float64Array(per * features.length);
  features.forEach((f, i) => {
    if (f.id !== moduleIds[i]) throw new AuditError('INTERNAL', `features out of order: ${f.id} where ${moduleIds[i]} belongs`);
    if (f.sigmaA.length !== rank || f.sigmaB.length !== rank || f.sigmaDW.length !== rank) {
      throw new AuditError('INTERNAL', `${f.id}: features of rank ${f.sigmaA.length}, the set has rank ${rank}`);
    }
    const o = i * per;
    out.set(f.sigmaA, o);
    out.set(f.sigmaB, o + rank);
    out.set(f.sigmaDW, o + 2 * rank);
    out[o + 3 * rank] = f.normA;
    out[o + 3 * rank + 1] = f.normB;
    out[o + 3 * rank + 2] = f.normDW;
    out[o + 3 * rank + 3] = f.effectiveRank;
  });
  // Float64Array is platform-endian; every platform the app ships on is little-endian.
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export function unpackFeatures(blob: Uint8Array, moduleIds: string[], rank: number): ModuleFeatures[] {
  const per = valuesPerModule(rank);
  if (blob.byteLength !== per * moduleIds.length * 8) {
    throw new AuditError('DB_ERROR', `stored features hold ${blob.byteLength} bytes, expected ${per * moduleIds.length * 8} for ${moduleIds.length} modules of rank ${rank}`);
  }
  // Copy: a sqlite3 Buffer may sit at an offset that is not a multiple of 8.
  const all = new Float64Array(per * moduleIds.length);
  new Uint8Array(all.buffer).set(blob);
  return moduleIds.map((id, i) => {
    const o = i * per;
    return {
      id,
      rank,
      sigmaA: all.slice(o, o + rank),
      sigmaB: all.slice(o + rank, o + 2 * rank),
      sigmaDW: all.slice(o + 2 * rank, o + 3 * rank),
      normA: all[o + 3 * rank],
      normB: all[o + 3 * rank + 1],
      normDW: all[o + 3 * rank + 2],
      effectiveRank: all[o + 3 * rank + 3],
    };
  });
}
