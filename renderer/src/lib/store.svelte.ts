// The app's one job store and its short actions, bound to the real API and made reactive with
// Svelte's $state. The logic lives in plain modules (jobs.ts, action.ts, work.ts) that unit tests
// run under Node; this file is only the binding.
import { Action } from './action.ts';
import { api } from './api.ts';
import { JobStore } from './jobs.ts';

function observe<T extends object>(value: T): T {
  const state = $state(value);
  return state;
}

/** Every job of the page, for as long as the page lives: screens come and go, the jobs stay. */
export const jobs = new JobStore(api, observe);

/** A new short action for one place on a screen (see action.ts). */
export const action = (): Action => new Action(observe);
