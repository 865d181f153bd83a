// A stand-in for the main process: every invoke waits until the test answers it, so a test can look
// at a job in the middle of its run (progress shown, a second start refused, a cancel sent).
import { ApiFailure, type ApiErrorShape, type Channel, type InvokeOptions, type ProgressEvent } from '../../../main/api/contract.ts';
import type { JobApi, Observe } from '../../../renderer/src/lib/jobs.ts';

export interface PendingCall {
  channel: Channel;
  request: Record<string, unknown>;
  jobId: string;
  progress(e: Partial<ProgressEvent>): void;
  answer(value: unknown): void;
  fail(error: ApiErrorShape): void;
}

export function fakeApi() {
  const calls: PendingCall[] = [];
  const cancelled: string[] = [];
  const invoke = (channel: Channel, request: Record<string, unknown>, options: InvokeOptions = {}) =>
    new Promise((resolve, reject) => {
      const jobId = options.jobId ?? '';
      calls.push({
        channel, request, jobId,
        progress: (e) => options.onProgress?.({ jobId, channel, phase: 'working', done: 0, total: null, unit: 'steps', message: '', ...e }),
        answer: resolve,
        fail: (error) => reject(new ApiFailure(error)),
      });
    });
  const api = { invoke, cancel: async (jobId: string) => { cancelled.push(jobId); } } as unknown as JobApi;
  return { api, calls, cancelled };
}

/** Outside Svelte, state needs no wrapping: the store's logic is the same. */
export const plain: Observe = (value) => value;

/** Lets pending promise callbacks run (no timers, no wall clock). */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
