// What `near` means, measured on the reference sets themselves: in a LoRA-WiSE-style set, adapters that
// share a name were trained on the same images at different sizes, so they are related but distinct
// updates. The σ(ΔW) distance (keys.ts sigmaDistance) between two such adapters is as close as two
// genuinely different adapters of one image set come; `near` is claimed only below NEAR_FRACTION of the
// smallest of those distances over every indexed set (clearly closer than any two related adapters the
// sets hold), and the answer states that calibration (sets, pairs, smallest and median distance).
// Without such pairs, `near` is not claimed at all.
import type { Queryable } from '../db/database.ts';
import type { Fingerprint } from './fingerprint.ts';
import { sigmaDistance } from './keys.ts';

/** Adapters of one name used for the pairs (the first by size, then id): bounds the work per name. */
export const MAX_GROUP = 64;
/** Pairs measured per set. */
export const MAX_PAIRS = 100_000;
/** `near` is below this fraction of the smallest same-name/different-size distance. */
export const NEAR_FRACTION = 0.5;

export interface SetCalibration { pairs: number; min: number | null; median: number | null }

/** Fed the adapters of one set ordered by name: measures the same-name/different-size pairs. */
export class PairCalibration {
  private name: string | null = null;
  private group: { label: number; fp: Fingerprint }[] = [];
  private readonly distances: number[] = [];

  add(name: string, label: number, fp: Fingerprint): void {
    if (name !== this.name) this.flush(name);
    if (this.group.length < MAX_GROUP) this.group.push({ label, fp });
  }

  finish(): SetCalibration {
    this.flush(null);
    const d = [...this.distances].sort((x, y) => x - y);
    return { pairs: d.length, min: d.length ? d[0] : null, median: d.length ? d[Math.floor((d.length - 1) / 2)] : null };
  }

  private flush(next: string | null): void {
    const g = this.group;
    for (let i = 0; i < g.length; i++) {
      for (let j = i + 1; j < g.length && this.distances.length < MAX_PAIRS; j++) {
        if (g[i].label === g[j].label) continue;
        const d = sigmaDistance(g[i].fp, g[j].fp);
        if (d !== null && Number.isFinite(d)) this.distances.push(d);
      }
    }
    this.name = next;
    this.group = [];
  }
}

export interface NearCalibration {
  /** Relative σ(ΔW) distance below which `near` is claimed (NEAR_FRACTION × the smallest pair distance);
   *  null: not calibrated, `near` never claimed. */
  threshold: number | null;
  fraction: number;
  /** Per reference set: pairs measured, smallest and median distance. */
  sets: { set: string; pairs: number; min: number; median: number }[];
  /** Why there is no threshold, or which stored rows were not used. */
  notes: string[];
}

/** The threshold from the stored per-set calibrations; a stored value that is not a distance is left out and said so. */
export async function readNearCalibration(q: Queryable): Promise<NearCalibration> {
  const rows = await q.all<{ name: string; pairs: unknown; min_distance: unknown; median_distance: unknown }>(
    `SELECT s.name, p.pairs, p.min_distance, p.median_distance FROM provenance_reference_sets p
     JOIN reference_sets s ON s.id = p.set_id ORDER BY s.name`);
  const sets: NearCalibration['sets'] = [];
  const notes: string[] = [];
  for (const r of rows) {
    if (r.pairs === 0) continue;
    const ok = (v: unknown): v is number => typeof v === 'number' && v >= 0 && v < 1; // false for NaN
    if (!Number.isSafeInteger(r.pairs) || (r.pairs as number) < 0 || !ok(r.min_distance) || !ok(r.median_distance) || r.min_distance > r.median_distance) {
      notes.push(`the stored near calibration of reference set "${r.name}" is not a set of distances in [0, 1) and was not used`);
      continue;
    }
    sets.push({ set: r.name, pairs: r.pairs as number, min: r.min_distance, median: r.median_distance });
  }
  if (sets.length === 0) {
    notes.push('near is not claimed: no indexed reference set holds two sizes of one image set to calibrate it on');
    return { threshold: null, fraction: NEAR_FRACTION, sets, notes };
  }
  return { threshold: NEAR_FRACTION * Math.min(...sets.map((s) => s.min)), fraction: NEAR_FRACTION, sets, notes };
}
