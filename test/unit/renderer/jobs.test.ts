// The job store: one job per key for the life of the page, one run at a time, progress and errors
// kept on the job, cancels that reach main (or stop the next step), and the header's list of jobs.
import { describe, expect, it } from 'vitest';
import { JobStore } from '../../../renderer/src/lib/jobs.ts';
import { fakeApi, plain, settle } from './fake-api.ts';

describe('JobStore', () => {
  it('hands back the same job for the same key, and another for another key', () => {
    const store = new JobStore(fakeApi().api, plain);
    const a = store.job('case/1/analysis', 'Analysing', () => ({ results: [] }));
    expect(store.job('case/1/analysis', 'Analysing', () => ({ results: [] }))).toBe(a);
    expect(store.job('case/2/analysis', 'Analysing', () => ({ results: [] }))).not.toBe(a);
  });
});

describe('Job', () => {
  it('runs one call: progress while it runs, listed in the header, the value at the end', async () => {
    const { api, calls } = fakeApi();
    const store = new JobStore(api, plain);
    const job = store.job('references/import', 'Importing references', () => null);
    const done = job.run('references.import', { name: 'set', paths: ['/a.parquet'] });
    await settle();
    expect(job.active).toBe(true);
    expect(store.running.jobs.map((j) => j.label)).toEqual(['Importing references']);
    calls[0].progress({ phase: 'importing', done: 5, total: 10, unit: 'bytes', file: '/a.parquet' });
    expect(job.progress).toMatchObject({ phase: 'importing', done: 5, total: 10 });
    expect(job.byFile['/a.parquet']).toMatchObject({ done: 5 });
    calls[0].answer({ imported: ['/a.parquet'] });
    expect(await done).toEqual({ imported: ['/a.parquet'] });
    expect(job.active).toBe(false);
    expect(store.running.jobs).toEqual([]);
  });

  it('a failed call resolves to null and keeps the error in the contract shape', async () => {
    const { api, calls } = fakeApi();
    const job = new JobStore(api, plain).job('k', 'Working', () => null);
    const done = job.run('references.import', { name: 'set', paths: ['/x'] });
    await settle();
    calls[0].fail({ code: 'NOT_PARQUET', message: 'not a parquet file', file: '/x' });
    expect(await done).toBeNull();
    expect(job.error).toEqual({ code: 'NOT_PARQUET', message: 'not a parquet file', file: '/x' });
    expect(job.active).toBe(false);
  });

  it('is not started a second time while it runs', async () => {
    const { api, calls } = fakeApi();
    const job = new JobStore(api, plain).job('k', 'Working', () => null);
    const first = job.run('demo.open', {});
    await settle();
    let ran = false;
    expect(await job.start(async () => { ran = true; })).toBeNull();
    expect(ran).toBe(false);
    expect(calls).toHaveLength(1);
    calls[0].answer('ok');
    expect(await first).toBe('ok');
  });

  it('a cancel during a call names that call to main', async () => {
    const { api, calls, cancelled } = fakeApi();
    const job = new JobStore(api, plain).job('k', 'Working', () => null);
    const done = job.run('demo.open', {});
    await settle();
    await job.cancel();
    expect(job.cancelling).toBe(true);
    expect(cancelled).toEqual([calls[0].jobId]);
    calls[0].fail({ code: 'CANCELLED', message: 'cancelled' });
    expect(await done).toBeNull();
    expect(job.error?.code).toBe('CANCELLED');
  });

  it('a cancel between two calls stops the second, which never reaches main', async () => {
    const { api, calls, cancelled } = fakeApi();
    const job = new JobStore(api, plain).job('k', 'Working', () => null);
    let release!: () => void;
    const between = new Promise<void>((r) => { release = r; });
    const done = job.start(async () => {
      await job.call('demo.open', {});
      await between;
      return job.call('demo.open', {});
    });
    await settle();
    calls[0].answer('first');
    await settle();
    await job.cancel(); // no call in flight: nothing to name to main
    release();
    await settle();
    expect(calls).toHaveLength(1);
    expect(await done).toBeNull();
    expect(cancelled).toEqual([]);
    expect(job.error).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/before the next step/) });
  });

  it('work that throws leaves the job idle, out of the header, with the error shown', async () => {
    const store = new JobStore(fakeApi().api, plain);
    const job = store.job('k', 'Working', () => null);
    expect(await job.start(async () => { throw new TypeError('x is undefined'); })).toBeNull();
    expect(job.active).toBe(false);
    expect(job.error).toEqual({ code: 'INTERNAL', message: 'x is undefined' });
    expect(store.running.jobs).toEqual([]);
  });

  it('ignores progress that arrives after its call has finished', async () => {
    const { api, calls } = fakeApi();
    const job = new JobStore(api, plain).job('k', 'Working', () => null);
    const done = job.start(async () => {
      await job.call('demo.open', {});
      return job.call('demo.open', {});
    });
    await settle();
    calls[0].answer('first');
    await settle();
    calls[1].progress({ phase: 'second', done: 1 });
    calls[0].progress({ phase: 'late', done: 99 });
    expect(job.progress).toMatchObject({ phase: 'second', done: 1 });
    calls[1].answer('second');
    expect(await done).toBe('second');
  });
});
