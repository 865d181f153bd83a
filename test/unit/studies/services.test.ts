// The app's study channels end to end on a small study (2 steps a run): the planner's draft from a
// case's kohya evidence, the plan written under <dataDir>/studies, the built-in run as a job with
// progress, the import, and an analysis against the new set with its recipe match. A bundle outside
// the data folder's studies is refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServices, type Services } from '../../../main/services/create.ts';
import type { ProgressEvent } from '../../../main/api/contract.ts';
import { KOHYA_EVIDENCE } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-services-'));
let s: Services;
const events: Omit<ProgressEvent, 'jobId' | 'channel'>[] = [];
const job = { jobId: 'j', signal: new AbortController().signal, progress: (e: Omit<ProgressEvent, 'jobId' | 'channel'>) => { events.push(e); } };
beforeAll(async () => {
  s = await createServices({ host: 'headless', dataDir: tmp, renderPdf: async () => { throw new Error('no PDF here'); }, openFiles: async () => [], saveFile: async () => null });
});
afterAll(async () => { await s?.close(); rmSync(tmp, { recursive: true, force: true }); });

describe('the app\'s study channels', () => {
  it('draft → plan → status → run → import → an applicable analysis with the recipe match', async () => {
    const h = s.handlers;
    const kase = await h['cases.create']({ title: 'Study', examiner: 'Ana Examiner' }, job);
    const added = await h['evidence.add']({ caseId: kase.id, paths: [KOHYA_EVIDENCE] }, job);
    const evidenceId = added.added[0].id;

    const draft = await h['studies.draft']({ caseId: kase.id, evidenceId }, job);
    expect(draft.trainer).toBe('builtin');
    expect(draft.fields.find((f) => f.field === 'rank')).toMatchObject({ value: 4, source: 'metadata: ss_network_dim', assumed: false });
    expect(draft.fields.find((f) => f.field === 'optimizer')).toMatchObject({ assumed: true, affectsSpectra: true });
    expect(draft.defaults).toMatchObject({ images: 'builtin', sizes: [1, 2, 3], subjects: 4 });

    const planned = await h['studies.plan']({ caseId: kase.id, evidenceId, trainer: 'builtin', images: 'builtin', sizes: [1, 2], subjects: 4, set: { maxTrainSteps: '2' } }, job);
    expect(planned.bundle.startsWith(join(tmp, 'studies'))).toBe(true);
    expect(planned.coverage).toMatchObject({ planned: 8, done: 0 });
    expect(planned.runs.every((r) => r.state === 'missing')).toBe(true);
    await expect(h['studies.status']({ bundle: tmp }, job)).rejects.toMatchObject({ code: 'BAD_REQUEST' });

    const ran = await h['studies.run']({ bundle: planned.bundle, jobs: 8 }, job);
    expect(ran.complete).toBe(true);
    expect(events.some((e) => e.phase === 'training' && /step 2 of 2/.test(e.message))).toBe(true);

    const imported = await h['studies.import']({ bundle: planned.bundle, name: 'app-study' }, job);
    expect(imported).toMatchObject({ complete: true, missing: [], problems: [] });
    expect(imported.set.adapterCount).toBe(8);

    const [analysis] = await h['analysis.run']({ caseId: kase.id, evidenceIds: [evidenceId], referenceSet: 'app-study' }, job);
    expect(analysis.result?.applicable).toBe(true);
    const rows = analysis.result?.recipeMatch?.rows ?? [];
    expect(rows.find((r) => r.field === 'maxTrainSteps')).toMatchObject({ match: 'differs', evidence: { value: 100 }, study: { value: 2 } });
    expect(rows.find((r) => r.field === 'rank')).toMatchObject({ match: 'same', assumed: false });

    // the report shows the same table
    const { html } = await h['reports.preview']({ caseId: kase.id }, job);
    expect(html).toContain(`Recipe match: this file against reference study ${planned.studyId}`);
    expect(html).toMatch(/maxTrainSteps<\/td><td>100<br>.*?<td>2<br>.*?<strong>differs<\/strong>/s);
  });
});
