// What the index looks fingerprints up by, and the tolerances every comparison uses.
//
// Module keys (same-update, rescaled, subset): the scale-free shape of σ(ΔW), s_i = σ_i/‖σ‖ for
// i = 1..4, as a box widened by the module's own tolerance t (rounding of its factors plus the error of
// the σ computation): if ‖σ − σ*‖ ≤ t then every s_i lies within 2t/‖σ‖ of σ*'s, so two fingerprints of
// one update (or of one update rescaled) have overlapping boxes, and the R-tree finds them.
//
// Adapter keys (near): ‖σ‖ over all modules and three projections of the modules' top singular values
// on fixed ±1/√M patterns. Each is 1-Lipschitz in the concatenated σ(ΔW) vector of a layout, so every
// adapter within distance d of the query lies in the box of half-width d around the query's keys.
import { sha256Hex } from '../common/hashing.ts';
import { AGREEMENT_TOLERANCE } from '../../native/engine.ts';
import { moduleNorm, roundingBound, type Fingerprint, type ModuleFingerprint } from './fingerprint.ts';

/** σ(ΔW) error of the float64 CPU path that fingerprints evidence (Gram-based σ of rounding size, √(nε)
 *  relative to σ₁ for n ≤ 10⁴), relative to ‖σ‖. */
export const FLOOR_COMPUTED = 1e-6;
/** σ(ΔW) of a reference set may come from any backend calibration accepted (native/engine.ts). */
export const FLOOR_REFERENCE = AGREEMENT_TOLERANCE;
/** A module whose tolerance is more than this fraction of its ‖ΔW‖ (an all-zero update, or one stored so
 *  coarsely that rounding could explain it) is not evidence of anything and is not compared. */
export const MAX_RELATIVE_TOLERANCE = 0.05;
/** Stored adapters put this many of their modules in the module index: the informative ones with the
 *  smallest hash of the module id, the same choice for every adapter. A copy that kept a fraction f of an
 *  adapter's modules still shares one of them with probability 1 − (1 − f)^32 (0.97 at f = 0.1). */
export const INDEXED_MODULES = 32;
/** Widening of the shape boxes beyond the 2t/‖σ‖ bound (safety against the bound's own rounding). */
const BOX_SLACK = 1.25;

/** A module with the floor of the path that computed its σ. */
export interface Measured { m: ModuleFingerprint; floor: number }

/** How far this module's ΔW (Frobenius) may be from the update it stores: rounding, plus the σ path's error. */
export function tolerance({ m, floor }: Measured): number {
  return roundingBound(m) + floor * moduleNorm(m);
}

export function informative(x: Measured): boolean {
  const n = moduleNorm(x.m);
  return n > 0 && tolerance(x) <= MAX_RELATIVE_TOLERANCE * n;
}

export interface ShapeBox { lo: number[]; hi: number[] }

/** The R-tree box of a module's scale-free σ shape (four coordinates). */
export function shapeBox(x: Measured): ShapeBox {
  const n = moduleNorm(x.m);
  const w = BOX_SLACK * 2 * tolerance(x) / n;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let i = 0; i < 4; i++) {
    const s = i < x.m.sigma.length ? x.m.sigma[i] / n : 0;
    lo.push(s - w);
    hi.push(s + w);
  }
  return { lo, hi };
}

/** FNV-1a of a module id: the index's choice of modules, and the ±1 patterns of the adapter keys. */
export function idHash(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Positions (in fp.modules) of the modules a stored adapter indexes. */
export function indexedPositions(fp: Fingerprint, floor: number): number[] {
  return fp.modules
    .map((m, i) => ({ i, h: idHash(m.id), id: m.id, ok: informative({ m, floor }) }))
    .filter((x) => x.ok)
    .sort((x, y) => x.h - y.h || (x.id < y.id ? -1 : 1))
    .slice(0, INDEXED_MODULES)
    .map((x) => x.i)
    .sort((x, y) => x - y);
}

export interface AdapterKeys { norm: number; projections: [number, number, number] }

export function adapterKeys(fp: Fingerprint): AdapterKeys {
  let sq = 0;
  const p: [number, number, number] = [0, 0, 0];
  const unit = 1 / Math.sqrt(Math.max(1, fp.modules.length));
  for (const m of fp.modules) {
    const n = moduleNorm(m);
    sq += n * n;
    const h = idHash(m.id);
    for (let j = 0; j < 3; j++) p[j] += ((h >>> j) & 1 ? 1 : -1) * unit * (m.sigma[0] ?? 0);
  }
  return { norm: Math.sqrt(sq), projections: p };
}

/** The identity of a module list: what must be equal for two adapters to be compared as `near`. */
export function layoutKey(ids: string[]): string {
  return sha256Hex(ids.join('\n'));
}

/** ‖σ_a − σ_b‖ / max(‖σ_a‖, ‖σ_b‖) over all modules of one layout (ranks padded with zeros); null
 *  when both updates are zero or the layouts differ. */
export function sigmaDistance(a: Fingerprint, b: Fingerprint): number | null {
  if (a.modules.length !== b.modules.length) return null;
  let diff = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.modules.length; i++) {
    const x = a.modules[i];
    const y = b.modules[i];
    if (x.id !== y.id) return null;
    const r = Math.max(x.sigma.length, y.sigma.length);
    for (let k = 0; k < r; k++) {
      const u = x.sigma[k] ?? 0;
      const v = y.sigma[k] ?? 0;
      diff += (u - v) ** 2;
      na += u * u;
      nb += v * v;
    }
  }
  const scale = Math.sqrt(Math.max(na, nb));
  return scale > 0 ? Math.sqrt(diff) / scale : null;
}
