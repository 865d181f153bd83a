// A reference set's measured reliability, measured once and kept with the set: looked up by the set's
// content hash, method version and mode; measured (main/dsire/reliability.ts) and stored when missing.
// The pipeline asks for it with every applicable analysis (first use), and the app measures it in the
// background after an import (services: references.reliability).
import { AuditError } from '../errors.ts';
import { measureReliability, methodKey, setContentHash, type ReliabilityOutcome, type ReliabilityRecord } from '../dsire/reliability.ts';
import type { DsireMode } from '../dsire/types.ts';
import { readReliability, writeReliability, type ReliabilityDb } from '../reference/reliability-store.ts';
import type { ReferenceSet } from '../reference/types.ts';

/** How the pipeline obtains a set's reliability (hosts pass cachedReliability(db)). */
export type ReliabilitySource = (ref: ReferenceSet, mode: DsireMode, signal?: AbortSignal) => Promise<ReliabilityOutcome>;

export interface ReliabilityProgress { phase: 'hashing' | 'cached' | 'measuring' | 'storing' | 'done'; done: number; total: number; message: string }

function cancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AuditError('CANCELLED', 'cancelled by the user');
}

const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);

/** A stored record is used only if it is for this content and method and every figure stated from it
 *  (the interval's coverage and width, the protocol's counts too) is a finite number, as measured. */
function usable(x: unknown, hash: string, method: string, mode: DsireMode): x is ReliabilityRecord {
  if (!x || typeof x !== 'object') return false;
  const r = x as Partial<ReliabilityRecord>;
  const iv = r.interval as Partial<NonNullable<ReliabilityRecord['interval']>> | null | undefined;
  const p = r.parameters as Partial<ReliabilityRecord['parameters']> | undefined;
  return r.setHash === hash && r.methodKey === method && r.mode === mode
    && [r.accuracy?.mean, r.withinOne, r.mae?.mean, r.mape?.mean, r.baselineMae].every(finite)
    && !!r.confusion && Array.isArray(r.confusion.counts)
    && !!p && typeof p === 'object' && [p.splits, p.trainNames, p.heldOutNames, p.seed, r.names, r.queries].every(finite)
    && (iv === null || (!!iv && typeof iv === 'object' && [iv.nominal, iv.coverage?.mean, iv.meanWidth?.mean].every(finite)));
}

/** The set's reliability in `mode`: the cached record, or measured now and stored. */
export async function setReliability(db: ReliabilityDb, ref: ReferenceSet, mode: DsireMode,
  opts: { signal?: AbortSignal; onProgress?: (p: ReliabilityProgress) => void; remeasure?: boolean } = {}): Promise<ReliabilityOutcome> {
  const progress = (phase: ReliabilityProgress['phase'], done: number, message: string) => opts.onProgress?.({ phase, done, total: 3, message });
  cancelled(opts.signal);
  progress('hashing', 0, `hashing the features of "${ref.name}"`);
  const contentHash = setContentHash(ref);
  const method = methodKey();
  const key = { setId: ref.id, contentHash, methodVersion: method, mode };
  if (!opts.remeasure) {
    const cached = await readReliability(db, key);
    if (usable(cached, contentHash, method, mode)) {
      progress('cached', 3, `reliability of "${ref.name}" (${mode} mode) measured ${cached.measuredAt}`);
      return { record: cached };
    }
  }
  cancelled(opts.signal);
  progress('measuring', 1, `running the evaluation protocol on "${ref.name}" (${mode} mode)`);
  const outcome = measureReliability(ref, mode, contentHash);
  cancelled(opts.signal);
  if ('record' in outcome) {
    progress('storing', 2, 'storing the figures with the set');
    await writeReliability(db, key, outcome.record, outcome.record.measuredAt);
  }
  progress('done', 3, 'record' in outcome ? `measured in ${Math.round(outcome.record.elapsedMs)} ms` : outcome.unavailable.reason);
  return outcome;
}

/** The source every host hands the pipeline: the set's cached reliability, measured on first use. */
export function cachedReliability(db: ReliabilityDb): ReliabilitySource {
  return (ref, mode, signal) => setReliability(db, ref, mode, signal ? { signal } : {});
}
