// An adapter's exact fingerprint: per module, σ(ΔW) (the scale included), how far rounding the factors
// to their dtype can move ΔW, and the probe sketch of ΔW (probes.ts). All of it depends on ΔW = s·B·A
// only, so a re-upload, a format conversion (diffusers ↔ kohya ↔ PEFT), a dtype change or a
// re-factorisation (B·G, G⁻¹·A) of one update has the same fingerprint within the stated tolerance.
//
// Bounds come first: the module count, each rank and the total eigen/Gram work are checked against the
// header before a tensor is read, and a factor, singular value or sketch that is not a finite number of
// sane magnitude refuses the fingerprint (no match is ever claimed from NaN).
import { AuditError } from '../errors.ts';
import { GROUP_VALUES, groupModules } from '../features/extract.ts';
import type { CanonicalAdapter, DType } from '../intake/model.ts';
import { loadModuleWeights } from '../intake/open.ts';
import { cpuFeatures } from '../../native/cpu.ts';
import { SKETCH_SIZE, sketchModule } from './probes.ts';

/** The stored format: the probe seeds, sketch size and blob layout. A row of another format is re-indexed. */
export const FINGERPRINT_FORMAT = 1;
/** Modules per adapter (a module's position is kept in 16 bits of the index's row ids). */
export const MAX_MODULES = 8192;
export const MAX_RANK = 2048;
/** Gram products and r×r eigen problems together, Σ r²·(in + out) + r³: an SDXL adapter at rank 128
 *  is ~3·10¹⁰; a hostile "rank 65,536 of a 1×1 layer" (512 KB of file, 3·10¹⁴ operations) is refused. */
export const MAX_WORK = 2 ** 37;
/** Largest magnitude taken as a measurement: squares and sums of these stay far from overflow. */
export const MAX_MAGNITUDE = 1e100;

/** Half the spacing of a dtype's numbers near 1: rounding a value to it moves it by at most this, relatively. */
export const UNIT_ROUNDOFF: Record<DType, number> = {
  F64: 2 ** -53, F32: 2 ** -24, F16: 2 ** -11, BF16: 2 ** -8, F8_E4M3: 2 ** -4, F8_E5M2: 2 ** -3,
  // integer factors are a quantisation of something: counted as coarse as bfloat16
  I64: 2 ** -8, I32: 2 ** -8, I16: 2 ** -8, I8: 2 ** -8, U8: 2 ** -8, BOOL: 2 ** -8,
};

export interface ModuleFingerprint {
  id: string;
  rank: number;
  /** σ(ΔW) = σ(s·B·A), descending. */
  sigma: Float64Array;
  /** Unit roundoff of the factors' dtype (the coarser of A's and B's). */
  roundoff: number;
  /** |s|·‖A‖_F·‖B‖_F: rounding each factor entry by `roundoff` moves ΔW by at most (2u + u²) times this. */
  factorNorm: number;
  /** SKETCH_SIZE values, or null where the factors are not stored (a reference adapter). */
  sketch: Float64Array | null;
}

export interface Fingerprint {
  /** Sorted by id. */
  modules: ModuleFingerprint[];
}

/** ‖ΔW‖_F of a module = ‖σ(ΔW)‖₂. */
export function moduleNorm(m: ModuleFingerprint): number {
  let s = 0;
  for (const v of m.sigma) s += v * v;
  return Math.sqrt(s);
}

/** How far (Frobenius) the stored values' rounding alone can have moved this module's ΔW. */
export function roundingBound(m: ModuleFingerprint): number {
  return (2 * m.roundoff + m.roundoff * m.roundoff) * m.factorNorm;
}

/** Reads an adapter's modules in bounded groups and fingerprints each. */
export async function fingerprintAdapter(adapter: CanonicalAdapter, signal?: AbortSignal): Promise<Fingerprint> {
  const file = adapter.identity.file;
  const modules = adapter.modules;
  if (modules.length === 0) {
    throw new AuditError('NO_MODULES', `no LoRA A/B modules to fingerprint (family ${adapter.family}, method ${adapter.method})`, file);
  }
  if (modules.length > MAX_MODULES) {
    throw new AuditError('LIMIT_EXCEEDED', `${modules.length} modules, more than the ${MAX_MODULES} a fingerprint covers`, file);
  }
  let work = 0;
  for (const m of modules) {
    if (m.rank > MAX_RANK) throw new AuditError('LIMIT_EXCEEDED', `module ${m.id} has rank ${m.rank}, more than the ${MAX_RANK} a fingerprint covers`, file);
    work += m.rank * m.rank * (m.inFeatures + m.outFeatures) + m.rank ** 3;
  }
  if (work > MAX_WORK) {
    throw new AuditError('LIMIT_EXCEEDED', `fingerprinting would take ${work.toExponential(1)} operations, more than the ${MAX_WORK.toExponential(1)} allowed`, file);
  }
  const roundoff = new Map(modules.map((m) => [m.id, Math.max(UNIT_ROUNDOFF[m.a.dtype] ?? 2 ** -8, UNIT_ROUNDOFF[m.b.dtype] ?? 2 ** -8)]));
  const out: ModuleFingerprint[] = [];
  for (const group of groupModules(modules, GROUP_VALUES)) {
    if (signal?.aborted) throw new AuditError('CANCELLED', 'fingerprinting was cancelled', file);
    for (const w of await loadModuleWeights(adapter, group.map((m) => m.id))) {
      if (!allFinite(w.a) || !allFinite(w.b) || !Number.isFinite(w.scale)) {
        throw new AuditError('NOT_APPLICABLE', `module ${w.id} holds NaN or infinite values: no fingerprint, so no match is claimed from it`, file);
      }
      const f = cpuFeatures(w);
      const fp: ModuleFingerprint = {
        id: w.id, rank: w.rank, sigma: f.sigmaDW, roundoff: roundoff.get(w.id)!,
        factorNorm: Math.abs(w.scale) * f.normA * f.normB, sketch: sketchModule(w),
      };
      const bad = checkModule(fp);
      if (bad) throw new AuditError('NOT_APPLICABLE', `module ${w.id}: ${bad}: no fingerprint, so no match is claimed from it`, file);
      out.push(fp);
    }
  }
  out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { modules: out };
}

function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

function sane(v: number, min: number): boolean {
  return v >= min && v <= MAX_MAGNITUDE; // false for NaN
}

/** Why a module fingerprint (computed, or read back from the database) is not a measurement; null if it is. */
export function checkModule(m: ModuleFingerprint): string | null {
  if (!Number.isInteger(m.rank) || m.rank < 1 || m.rank > MAX_RANK || m.sigma.length !== m.rank) return `rank ${m.rank} with ${m.sigma.length} singular values`;
  if (!(m.roundoff > 0 && m.roundoff <= 0.5)) return `unit roundoff ${m.roundoff} is not one of a number format`;
  if (!sane(m.factorNorm, 0)) return `factor norm ${m.factorNorm} is not a finite number`;
  for (const v of m.sigma) if (!sane(v, 0)) return `a singular value of ΔW is ${v}`;
  if (m.sketch) {
    if (m.sketch.length !== SKETCH_SIZE) return `a sketch of ${m.sketch.length} values, not ${SKETCH_SIZE}`;
    for (const v of m.sketch) if (!sane(Math.abs(v), 0)) return `a probe value is ${v}`;
  }
  return null;
}

// ---- evidence blobs: little-endian float64, [format, modules, then per module rank, roundoff,
// factorNorm, σ(ΔW)(rank), sketch(SKETCH_SIZE)]; module ids live in the row's layout.

export function packFingerprint(fp: Fingerprint): Buffer {
  let n = 2;
  for (const m of fp.modules) n += 3 + m.rank + SKETCH_SIZE;
  const out = new Float64Array(n);
  out[0] = FINGERPRINT_FORMAT;
  out[1] = fp.modules.length;
  let o = 2;
  for (const m of fp.modules) {
    if (!m.sketch) throw new AuditError('INTERNAL', `module ${m.id} has no sketch to store`);
    out[o] = m.rank; out[o + 1] = m.roundoff; out[o + 2] = m.factorNorm;
    out.set(m.sigma, o + 3);
    out.set(m.sketch, o + 3 + m.rank);
    o += 3 + m.rank + SKETCH_SIZE;
  }
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

/** A stored blob back, every count and value checked: a row someone edited is refused with the reason. */
export function unpackFingerprint(blob: unknown, moduleIds: string[]): Fingerprint {
  if (!(blob instanceof Uint8Array) || blob.byteLength % 8 !== 0 || blob.byteLength < 16) {
    throw new AuditError('DB_ERROR', 'the stored fingerprint is not a whole number of float64 values');
  }
  const all = new Float64Array(blob.byteLength / 8);
  new Uint8Array(all.buffer).set(blob); // a copy: sqlite3's Buffer may sit at an unaligned offset
  if (all[0] !== FINGERPRINT_FORMAT) throw new AuditError('DB_ERROR', `the stored fingerprint has format ${all[0]}, not ${FINGERPRINT_FORMAT}`);
  if (all[1] !== moduleIds.length) throw new AuditError('DB_ERROR', `the stored fingerprint holds ${all[1]} modules, its layout ${moduleIds.length}`);
  const modules: ModuleFingerprint[] = [];
  let o = 2;
  for (const id of moduleIds) {
    const rank = all[o];
    if (!Number.isInteger(rank) || rank < 1 || rank > MAX_RANK || o + 3 + rank + SKETCH_SIZE > all.length) {
      throw new AuditError('DB_ERROR', `the stored fingerprint of module ${id} has rank ${rank} or is cut short`);
    }
    const m: ModuleFingerprint = {
      id, rank, roundoff: all[o + 1], factorNorm: all[o + 2],
      sigma: all.slice(o + 3, o + 3 + rank), sketch: all.slice(o + 3 + rank, o + 3 + rank + SKETCH_SIZE),
    };
    const bad = checkModule(m);
    if (bad) throw new AuditError('DB_ERROR', `the stored fingerprint of module ${id}: ${bad}`);
    modules.push(m);
    o += 3 + rank + SKETCH_SIZE;
  }
  if (o !== all.length) throw new AuditError('DB_ERROR', `the stored fingerprint has ${all.length - o} values after its last module`);
  return { modules };
}
