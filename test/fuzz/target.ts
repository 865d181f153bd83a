// What a fuzz target is: a reader, a generator of damaged inputs for it, and a share of the time budget.
import type fc from 'fast-check';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Prepared<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any -- each target's own input shape
  arbitrary: fc.Arbitrary<T>;
  /**
   * Feeds one input to the reader inside `time(bytes, work)` (only the reader's work is timed, not
   * building the input; `bytes` is the input's size). A typed AuditError is an answer, not a finding.
   */
  run(input: T, time: Timer): Promise<void>;
  close?(): Promise<void>;
}

export type Timer = <R>(bytes: number, work: () => Promise<R> | R) => Promise<R>;

export interface Target {
  name: string;
  /** Relative share of the run's time. */
  weight: number;
  prepare(dir: string): Promise<Prepared>;
}

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export { realAdaptersDir as fixturesDir } from '../fixtures.ts';
