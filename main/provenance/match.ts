// One query fingerprint against one stored fingerprint: is it the same update, a rescaled one, or the
// same update on a subset of the modules? Decided module by module on what both sides have: the probe
// sketches where both have them (evidence: an exact test of ΔW, without forming it), σ(ΔW) otherwise
// (a reference adapter stores no factors: σ equal within tolerance is necessary for equal ΔW, and the
// detail says that it is all that was checked).
//
// Tolerances (keys.ts `tolerance`): a module may be off by the rounding of its own factors plus the σ
// path's error, on each side. On σ, Mirsky's inequality (‖σ(X) − σ(Y)‖₂ ≤ ‖X − Y‖_F) makes that a bound;
// on sketches, ‖z(D)‖ ≈ √(PROBES·DIRECTIONS)·‖D‖_F, taken with a margin of SKETCH_MARGIN.
import type { Fingerprint, ModuleFingerprint } from './fingerprint.ts';
import { informative, tolerance } from './keys.ts';
import { SKETCH_SIZE } from './probes.ts';

/** Margin on the sketch estimate of ‖D‖ (a Hutchinson estimate over 16 products, and a worst-case
 *  rounding bound underneath it: honest conversions measure 10–1000× inside it). */
const SKETCH_MARGIN = 4;
/** A partial subset needs at least this many equal modules: one equal module may be chance. */
export const SUBSET_MIN_MODULES = 2;
/** Rescale factors outside [1e-6, 1e6] are not reported as a rescaling of anything. */
const FACTOR_RANGE = 1e6;

export interface Side { fp: Fingerprint; floor: number }

export type Relation = 'same-modules' | 'query-within' | 'stored-within' | 'partial';

export interface Comparison {
  kind: 'same-update' | 'rescaled' | 'subset';
  basis: 'probe-sketches' | 'sigma';
  /** ΔW(query) = factor · ΔW(stored), for `rescaled`. */
  factor?: number;
  /** Modules measurable on both sides, and how many of them agree. */
  compared: number;
  equal: number;
  /** Informative modules of each side (an all-zero module is no evidence either way). */
  queryModules: number;
  storedModules: number;
  relation: Relation;
  /** The agreeing modules have different factors (another factorisation, scale or alpha of one update). */
  refactorised: boolean;
}

interface Pair { q: ModuleFingerprint; s: ModuleFingerprint }

export function compareFingerprints(query: Side, stored: Side): Comparison | null {
  const pairs: Pair[] = [];
  let oneSided = 0;
  let queryOnly = 0;
  let storedOnly = 0;
  let queryModules = 0;
  let storedModules = 0;
  const qi = (m: ModuleFingerprint) => informative({ m, floor: query.floor });
  const si = (m: ModuleFingerprint) => informative({ m, floor: stored.floor });
  for (const m of query.fp.modules) if (qi(m)) queryModules++;
  for (const m of stored.fp.modules) if (si(m)) storedModules++;
  const byId = new Map(stored.fp.modules.map((m) => [m.id, m]));
  const seen = new Set<string>();
  for (const q of query.fp.modules) {
    const s = byId.get(q.id);
    if (!s) { if (qi(q)) queryOnly++; continue; }
    seen.add(q.id);
    const a = qi(q);
    const b = si(s);
    if (a && b) pairs.push({ q, s });
    else if (a !== b) oneSided++;
  }
  for (const s of stored.fp.modules) if (!seen.has(s.id) && si(s)) storedOnly++;
  if (pairs.length === 0) return null;

  const sketched = pairs.every((p) => p.q.sketch && p.s.sketch);
  const basis = sketched ? 'probe-sketches' : 'sigma';
  const agrees = (p: Pair, c: number) => (sketched ? sketchAgrees(p, c, query.floor, stored.floor) : sigmaAgrees(p, c, query.floor, stored.floor));
  const relation: Relation = queryOnly === 0 && storedOnly === 0 ? 'same-modules'
    : storedOnly > 0 && queryOnly === 0 ? 'query-within' : queryOnly > 0 && storedOnly === 0 ? 'stored-within' : 'partial';
  const base = { basis, compared: pairs.length, queryModules, storedModules, relation } as const;

  const equalPairs = pairs.filter((p) => agrees(p, 1));
  const refactorised = equalPairs.some((p) => otherFactors(p, 1));
  if (equalPairs.length === pairs.length && oneSided === 0) {
    return { ...base, kind: relation === 'same-modules' ? 'same-update' : 'subset', equal: pairs.length, refactorised };
  }
  const c = fitFactor(pairs, sketched);
  if (c !== null && oneSided === 0 && pairs.every((p) => agrees(p, c))) {
    return { ...base, kind: 'rescaled', factor: c, equal: pairs.length, refactorised: pairs.some((p) => otherFactors(p, c)) };
  }
  if (equalPairs.length >= SUBSET_MIN_MODULES) {
    return { ...base, kind: 'subset', relation: 'partial', equal: equalPairs.length, refactorised };
  }
  return null;
}

/** |s|·‖A‖·‖B‖ differs by more than rounding the factors could make it (a re-save in another dtype does
 *  not count; B·G, G⁻¹·A or another alpha/scale split does). */
function otherFactors({ q, s }: Pair, c: number): boolean {
  const x = q.factorNorm;
  const y = Math.abs(c) * s.factorNorm;
  return Math.abs(x - y) > (4 * (q.roundoff + s.roundoff) + 1e-9) * Math.max(x, y);
}

/** The least-squares factor c in query ≈ c·stored over all pairs; null when not a sane number. */
function fitFactor(pairs: Pair[], sketched: boolean): number | null {
  let num = 0;
  let den = 0;
  for (const { q, s } of pairs) {
    const x = sketched ? q.sketch! : q.sigma;
    const y = sketched ? s.sketch! : s.sigma;
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      num += x[i] * y[i];
      den += y[i] * y[i];
    }
  }
  const c = num / den;
  return Number.isFinite(c) && Math.abs(c) >= 1 / FACTOR_RANGE && Math.abs(c) <= FACTOR_RANGE ? c : null;
}

/** ‖z_q − c·z_s‖ within the sketch of both sides' tolerances. */
function sketchAgrees({ q, s }: Pair, c: number, qFloor: number, sFloor: number): boolean {
  let d = 0;
  for (let i = 0; i < SKETCH_SIZE; i++) d += (q.sketch![i] - c * s.sketch![i]) ** 2;
  const t = tolerance({ m: q, floor: qFloor }) + Math.abs(c) * tolerance({ m: s, floor: sFloor });
  return Math.sqrt(d) <= SKETCH_MARGIN * Math.sqrt(SKETCH_SIZE) * t;
}

/** ‖σ_q − c·σ_s‖ (ranks padded with zeros) within both sides' tolerances (Mirsky). */
function sigmaAgrees({ q, s }: Pair, c: number, qFloor: number, sFloor: number): boolean {
  if (c <= 0) return false;
  let d = 0;
  for (let i = 0; i < Math.max(q.sigma.length, s.sigma.length); i++) d += ((q.sigma[i] ?? 0) - c * (s.sigma[i] ?? 0)) ** 2;
  const t = tolerance({ m: q, floor: qFloor }) + c * tolerance({ m: s, floor: sFloor });
  return Math.sqrt(d) <= t;
}
