// A case's work lives in the job store, not in the screen: leaving Analysis mid-run and opening it
// again finds the running job with its progress, and starts no second run. (The screens get their
// jobs through caseJobs(), exactly as here.)
import { describe, expect, it } from 'vitest';
import { JobStore } from '../../../renderer/src/lib/jobs.ts';
import { addEvidence, caseJobs, measureReliability, referenceReliability, runAnalysis } from '../../../renderer/src/lib/work.ts';
import { fakeApi, plain, settle } from './fake-api.ts';

const request = { caseId: 'c1', evidenceIds: ['e1', 'e2'], referenceSet: 'mini', mode: 'faithful' as const };
const view = (evidenceId: string) => ({ id: `a-${evidenceId}`, evidenceId });

describe('analysis run', () => {
  it('survives leaving the screen: the same job, its progress, and no second run on return', async () => {
    const { api, calls } = fakeApi();
    const store = new JobStore(api, plain);
    // The Analysis screen opens and starts a run over two evidence items.
    const opened = caseJobs(store, 'c1').analysis;
    const run = runAnalysis(opened, request);
    await settle();
    calls[0].progress({ phase: 'features', done: 3, total: 10, unit: 'steps' });
    // The user leaves (the screen is destroyed) and comes back: the screen asks the store again.
    const back = caseJobs(store, 'c1').analysis;
    expect(back).toBe(opened);
    expect(back.active).toBe(true);
    expect(back.progress).toMatchObject({ phase: 'features', done: 3, total: 10 });
    expect(store.running.jobs.map((j) => j.key)).toEqual(['case/c1/analysis']);
    // Clicking Run again while it runs starts nothing.
    const again = runAnalysis(back, request);
    await settle();
    expect(calls).toHaveLength(1);
    await again;
    // The first run carries on, item by item, into the job's outcome.
    calls[0].answer([view('e1')]);
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls[1].request).toMatchObject({ evidenceIds: ['e2'] });
    calls[1].answer([view('e2')]);
    await run;
    expect(back.active).toBe(false);
    expect(back.outcome.results.map((r) => r.evidenceId)).toEqual(['e1', 'e2']);
    expect(store.running.jobs).toEqual([]);
  });

  it('a refused item is kept as a failure, and the others still get their results', async () => {
    const { api, calls } = fakeApi();
    const job = caseJobs(new JobStore(api, plain), 'c1').analysis;
    const run = runAnalysis(job, request);
    await settle();
    calls[0].fail({ code: 'NOT_APPLICABLE', message: 'rank 8 against rank 4 references' });
    await settle();
    calls[1].answer([view('e2')]);
    await run;
    expect(job.outcome.failures).toEqual([{ evidenceId: 'e1', error: { code: 'NOT_APPLICABLE', message: 'rank 8 against rank 4 references' } }]);
    expect(job.outcome.results.map((r) => r.evidenceId)).toEqual(['e2']);
  });

  it('a cancel stops the run before its next item', async () => {
    const { api, calls, cancelled } = fakeApi();
    const job = caseJobs(new JobStore(api, plain), 'c1').analysis;
    const run = runAnalysis(job, request);
    await settle();
    await job.cancel();
    expect(cancelled).toEqual([calls[0].jobId]);
    calls[0].fail({ code: 'CANCELLED', message: 'cancelled' });
    await run;
    expect(calls).toHaveLength(1);
    expect(job.error?.code).toBe('CANCELLED');
    expect(job.outcome.failures).toEqual([]);
  });

  it('keeps each case’s work apart', () => {
    const store = new JobStore(fakeApi().api, plain);
    expect(caseJobs(store, 'c1').analysis).not.toBe(caseJobs(store, 'c2').analysis);
    expect(caseJobs(store, 'c1').evidence).not.toBe(caseJobs(store, 'c1').analysis);
  });
});

describe('adding evidence', () => {
  it('names a refused file as the user dropped it, and keeps what was added for the screen’s return', async () => {
    const { api, calls } = fakeApi();
    const store = new JobStore(api, plain);
    const staged = ['/staging/ab12/0', '/staging/ab12/1'];
    const done = addEvidence(caseJobs(store, 'c1').evidence, { caseId: 'c1', paths: staged }, ['good.safetensors', 'bad.ckpt']);
    await settle();
    calls[0].answer({ added: [{ id: 'ev1', fileName: 'good.safetensors' }], errors: [{ code: 'UNSAFE_PICKLE', message: 'pickle refused', file: staged[1] }] });
    await done;
    const back = caseJobs(store, 'c1').evidence;
    expect(back.outcome.added.map((e) => e.fileName)).toEqual(['good.safetensors']);
    expect(back.outcome.refused).toEqual([{ code: 'UNSAFE_PICKLE', message: 'pickle refused', file: 'bad.ckpt' }]);
  });
});

describe('measuring a reference set after its import', () => {
  it('runs as its own job in the store: progress, the figures kept for the screen, and cancel', async () => {
    const { api, calls, cancelled } = fakeApi();
    const store = new JobStore(api, plain);
    const job = referenceReliability(store);
    const run = measureReliability(job, { name: 'mini' });
    await settle();
    expect(calls[0]).toMatchObject({ channel: 'references.reliability', request: { name: 'mini' } });
    calls[0].progress({ phase: 'measuring', done: 1, total: 3, message: 'running the evaluation protocol on "mini" (best mode)' });
    expect(store.running.jobs.map((j) => j.key)).toEqual(['references/reliability']);
    expect(referenceReliability(store).progress).toMatchObject({ phase: 'measuring', done: 1, total: 3 });
    const view = { referenceSet: 'mini', mode: 'best', reliability: { accuracy: 0.39, withinOne: 0.63, mae: 1.28 }, unavailable: null };
    calls[0].answer(view);
    await run;
    expect(referenceReliability(store).outcome.last).toEqual(view);

    const again = measureReliability(job, { name: 'mini' });
    await settle();
    await job.cancel();
    expect(cancelled).toEqual([calls[1].jobId]);
    calls[1].fail({ code: 'CANCELLED', message: 'cancelled' });
    await again;
    expect(job.error?.code).toBe('CANCELLED');
    expect(job.outcome.last).toBeNull();
  });
});
