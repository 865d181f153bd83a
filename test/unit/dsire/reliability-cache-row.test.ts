// A cached reliability row is database content (security review of issue 18): one whose interval figures
// are not finite numbers (the text "1e999", which JSON.parse reads as Infinity; null; a missing field) or
// whose protocol parameters are not numbers is measured again, never served. Before, only the five
// headline figures were checked: an interval coverage of Infinity was stated as measured (and "1e999 %"
// kept the opinion from being capped), and a row without its coverage crashed every analysis.
import { describe, expect, it } from 'vitest';
import { setReliability } from '../../../main/analysis/reliability.ts';
import { measureReliability, methodKey, setContentHash, type ReliabilityRecord } from '../../../main/dsire/reliability.ts';
import type { ReliabilityDb } from '../../../main/reference/reliability-store.ts';
import { holdOut, syntheticReference } from './synthetic.ts';

const { ref } = holdOut(syntheticReference({ names: 12, modules: 6, rank: 4, seed: 7 }), 2);
const hash = setContentHash(ref);
const genuine = (() => {
  const out = measureReliability(ref, 'best', hash);
  if (!('record' in out)) throw new Error(out.unavailable.reason);
  return out.record;
})();

/** A database holding one row whose text is `text`; writes are recorded. */
function dbWith(text: string): { db: ReliabilityDb; writes: number } {
  const state = { writes: 0, db: undefined as unknown as ReliabilityDb };
  state.db = {
    get: async () => ({ record: text }),
    transaction: async (fn: (tx: { run: () => Promise<void> }) => Promise<void>) => { state.writes++; await fn({ run: async () => undefined }); },
  } as unknown as ReliabilityDb;
  return state;
}

describe('a cached reliability row', () => {
  it('the genuine row is served from the cache', async () => {
    expect(genuine.methodKey).toBe(methodKey());
    const s = dbWith(JSON.stringify(genuine));
    const out = await setReliability(s.db, ref, 'best');
    expect(s.writes).toBe(0);
    expect('record' in out && out.record.interval?.coverage.mean).toBe(genuine.interval!.coverage.mean);
  });

  it('a row whose interval or parameters are not finite numbers is measured again, not served', async () => {
    const forged: [string, string][] = [
      ['coverage 1e999', JSON.stringify({ ...genuine, interval: { ...genuine.interval, coverage: { ...genuine.interval!.coverage, mean: '<x>' } } }).replace('"<x>"', '1e999')],
      ['coverage null', JSON.stringify({ ...genuine, interval: { ...genuine.interval, coverage: { ...genuine.interval!.coverage, mean: null } } })],
      ['no coverage', JSON.stringify({ ...genuine, interval: { nominal: 0.9, method: 'x' } })],
      ['width a string', JSON.stringify({ ...genuine, interval: { ...genuine.interval, meanWidth: { mean: '1' } } })],
      ['splits a string', JSON.stringify({ ...genuine, parameters: { ...genuine.parameters, splits: 'ten' } })],
    ];
    for (const [what, text] of forged) {
      const s = dbWith(text);
      const out = await setReliability(s.db, ref, 'best');
      expect(s.writes, what).toBe(1);
      const rec = (out as { record: ReliabilityRecord }).record;
      expect(rec.interval!.coverage.mean, what).toBe(genuine.interval!.coverage.mean);
      expect(rec.parameters.splits, what).toBe(genuine.parameters.splits);
    }
  });
});
