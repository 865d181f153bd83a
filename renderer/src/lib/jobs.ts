// Long work (hashing evidence, importing references, analyses, reports) runs as a job. Jobs live in
// one store for the life of the page, keyed by what they work on (`case/<id>/analysis`,
// `references`), not in the screen that started them: a screen left mid-run and opened again finds
// the same job with its progress and its outcome, and a job that is running cannot start again.
//
// Plain TypeScript, so unit tests run it under Node: the store is handed the API it calls and an
// `observe` function that makes its state reactive ($state in the app, the identity in tests).
import type { ApiErrorShape, Channel, LoraAuditApi, ProgressEvent, Req, Res } from '../../../main/api/contract.ts';
import { toErrorShape } from './errors.ts';

/** Makes a plain object reactive and returns the object to read and write it through. */
export type Observe = <T extends object>(value: T) => T;
export type JobApi = Pick<LoraAuditApi, 'invoke' | 'cancel'>;

/** A job as the header lists it: running now, cancellable from any screen. */
export interface RunningJob { key: string; label: string; cancel: () => Promise<void> }

interface JobState<T> {
  active: boolean;
  cancelling: boolean;
  /** The id main knows the call in flight by (what a cancel names); '' between calls. */
  callId: string;
  progress: ProgressEvent | null;
  /** Latest event per file, for work over several files. */
  byFile: Record<string, ProgressEvent>;
  error: ApiErrorShape | null;
  outcome: T;
}

let calls = 0;

export class Job<T = null> {
  readonly key: string;
  readonly label: string;
  readonly #state: JobState<T>;
  readonly #api: JobApi;
  readonly #running: RunningJob[];

  constructor(key: string, label: string, outcome: T, api: JobApi, observe: Observe, running: RunningJob[]) {
    this.key = key;
    this.label = label;
    this.#state = observe<JobState<T>>({ active: false, cancelling: false, callId: '', progress: null, byFile: {}, error: null, outcome });
    this.#api = api;
    this.#running = running;
  }

  get active(): boolean { return this.#state.active; }
  get cancelling(): boolean { return this.#state.cancelling; }
  get progress(): ProgressEvent | null { return this.#state.progress; }
  get byFile(): Record<string, ProgressEvent> { return this.#state.byFile; }
  /** The last call's error; null after a call that succeeded. */
  get error(): ApiErrorShape | null { return this.#state.error; }
  /** What the work produced, kept with the job so that a screen opened again shows it. */
  get outcome(): T { return this.#state.outcome; }

  /**
   * Runs `work` (one or more `call`s) as this job: listed in the header while it runs, cancellable
   * between and during its calls. Refused while the job is already running: resolves to null without
   * running `work`. Resolves to what `work` returned, or null when it threw (shown as `error`).
   */
  async start<R>(work: () => Promise<R>): Promise<R | null> {
    const s = this.#state;
    if (s.active) return null;
    Object.assign(s, { active: true, cancelling: false, callId: '', progress: null, byFile: {}, error: null });
    this.#running.push({ key: this.key, label: this.label, cancel: () => this.cancel() });
    try {
      return await work();
    } catch (e) {
      s.error = toErrorShape(e);
      return null;
    } finally {
      s.active = false;
      s.callId = '';
      const i = this.#running.findIndex((j) => j.key === this.key);
      if (i >= 0) this.#running.splice(i, 1);
    }
  }

  /** One long call inside `start`: progress lands on this job. Resolves to its value, or to null
   *  with `error` set; once the job is being cancelled, no further call is made. */
  async call<C extends Channel>(channel: C, request: Req<C>): Promise<Res<C> | null> {
    const s = this.#state;
    if (!s.active) throw new Error(`${this.label}: call() outside start()`);
    if (s.cancelling) {
      s.error = { code: 'CANCELLED', message: 'Cancelled before the next step started.' };
      return null;
    }
    const id = `${channel}-${Date.now().toString(36)}-${calls++}`;
    s.callId = id;
    s.progress = null;
    s.error = null;
    try {
      return await this.#api.invoke(channel, request, {
        jobId: id,
        onProgress: (e) => {
          if (s.callId !== id) return; // a late event of a finished call
          s.progress = e;
          if (e.file) s.byFile[e.file] = e;
        },
      });
    } catch (e) {
      s.error = toErrorShape(e);
      return null;
    } finally {
      s.callId = '';
    }
  }

  /** A job of one call. */
  run<C extends Channel>(channel: C, request: Req<C>): Promise<Res<C> | null> {
    return this.start(() => this.call(channel, request));
  }

  async cancel(): Promise<void> {
    const s = this.#state;
    if (!s.active || s.cancelling) return;
    s.cancelling = true;
    if (!s.callId) return; // between calls: the next call() sees `cancelling` and is not made
    try {
      await this.#api.cancel(s.callId);
    } catch (e) {
      s.error = toErrorShape(e);
    }
  }
}

export class JobStore {
  /** Every job running now, for the status line in the header. */
  readonly running: { jobs: RunningJob[] };
  readonly #jobs = new Map<string, Job<unknown>>();
  readonly #api: JobApi;
  readonly #observe: Observe;

  constructor(api: JobApi, observe: Observe) {
    this.#api = api;
    this.#observe = observe;
    this.running = observe({ jobs: [] as RunningJob[] });
  }

  /** The one job under `key`, made on first use with `outcome()` as what it has produced so far.
   *  One key, one outcome type: each key is spelled by one helper (see case-jobs.ts). */
  job<T = null>(key: string, label: string, outcome: () => T): Job<T> {
    let job = this.#jobs.get(key) as Job<T> | undefined;
    if (!job) {
      job = new Job<T>(key, label, outcome(), this.#api, this.#observe, this.running.jobs);
      this.#jobs.set(key, job as Job<unknown>);
    }
    return job;
  }
}
