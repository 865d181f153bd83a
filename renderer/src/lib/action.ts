// A short call behind a button or a screen's first load (save a note, verify the trail, list the
// cases): busy while it runs, and its failure kept, in the contract's error shape, for the screen to
// show. One Action stands for one place on the screen where that error appears; several calls may
// share it. It replaces the busy flag, error variable and try/catch/finally written out per call.
// Plain TypeScript like jobs.ts: `observe` makes its state reactive.
import type { ApiErrorShape } from '../../../main/api/contract.ts';
import type { Observe } from './jobs.ts';
import { toErrorShape } from './errors.ts';

export class Action {
  readonly #state: { running: number; error: ApiErrorShape | null };

  constructor(observe: Observe) {
    this.#state = observe({ running: 0, error: null as ApiErrorShape | null });
  }

  /** True while any of its runs is in flight (buttons disable on it, so a click is not sent twice). */
  get busy(): boolean { return this.#state.running > 0; }
  get error(): ApiErrorShape | null { return this.#state.error; }

  /** Runs `work`, clearing the last error first. Resolves to its value, or to undefined when it
   *  threw: the error is then `error`, never an unhandled rejection. */
  async run<R>(work: () => Promise<R>): Promise<R | undefined> {
    const s = this.#state;
    s.running++;
    s.error = null;
    try {
      return await work();
    } catch (e) {
      s.error = toErrorShape(e);
      return undefined;
    } finally {
      s.running--;
    }
  }
}
