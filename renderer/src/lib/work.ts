// Every long piece of work a screen can start, and where it lives in the job store: a case's
// evidence, analysis and report jobs under the case's id, the reference import and the demo once for
// the app. The work writes what it produced into its job's outcome, never into the screen, so it
// lands even when the user has moved on, and is there when they come back.
import type { AnalysisView, ApiErrorShape, EvidenceView, ImportReferenceResult, Req, ReportCreated, SetReliabilityView } from '../../../main/api/contract.ts';
import type { Job, JobStore } from './jobs.ts';

export interface EvidenceOutcome { added: EvidenceView[]; refused: ApiErrorShape[] }
export interface AnalysisOutcome { results: AnalysisView[]; failures: { evidenceId: string; error: ApiErrorShape }[] }
/** `trust`: the certificate the report can be verified against (a key made in the app is its own anchor). */
export interface ReportOutcome { created: ReportCreated | null; trust: string[] }

export function caseJobs(store: JobStore, caseId: string) {
  return {
    evidence: store.job<EvidenceOutcome>(`case/${caseId}/evidence`, 'Adding evidence', () => ({ added: [], refused: [] })),
    analysis: store.job<AnalysisOutcome>(`case/${caseId}/analysis`, 'Analysing', () => ({ results: [], failures: [] })),
    report: store.job<ReportOutcome>(`case/${caseId}/report`, 'Rendering and signing the report', () => ({ created: null, trust: [] })),
  };
}

export const referenceImport = (store: JobStore) =>
  store.job<{ last: ImportReferenceResult | null }>('references/import', 'Importing references', () => ({ last: null }));

/** The method's error measured on a set after its import, in the background (issue 18). */
export const referenceReliability = (store: JobStore) =>
  store.job<{ last: SetReliabilityView | null }>('references/reliability', 'Measuring the method\'s error on the reference set', () => ({ last: null }));

export const demoOpening = (store: JobStore) => store.job('demo/open', 'Opening the demo investigation', () => null);

/** Adds files to a case. `names`: what the user calls each path (dropped files are staged under
 *  generated folders, and a refusal should name the file the user dropped). */
export async function addEvidence(job: Job<EvidenceOutcome>, request: Req<'evidence.add'>, names: string[]): Promise<void> {
  await job.start(async () => {
    const result = await job.call('evidence.add', request);
    if (!result) return;
    const nameOf = new Map(request.paths.map((p, i) => [p, names[i]]));
    const out = job.outcome;
    out.added = [...result.added, ...out.added];
    out.refused = [...result.errors.map((e) => ({ ...e, file: e.file ? (nameOf.get(e.file) ?? e.file) : e.file })), ...out.refused];
  });
}

/** One evidence item per call: a refusal of one adapter must not cost the others their results.
 *  A cancel stops the run before its next item. */
export async function runAnalysis(job: Job<AnalysisOutcome>, request: Req<'analysis.run'>): Promise<void> {
  await job.start(async () => {
    const out = job.outcome;
    out.results = [];
    out.failures = [];
    for (const evidenceId of request.evidenceIds) {
      const views = await job.call('analysis.run', { ...request, evidenceIds: [evidenceId] });
      if (views) out.results = [...out.results, ...views];
      else if (job.error?.code === 'CANCELLED') break;
      else if (job.error) out.failures = [...out.failures, { evidenceId, error: job.error }];
    }
  });
}

/** Compares one refused evidence item anyway, on the examiner's justification (issue 18): main allows it
 *  only when every refusal reason is soft. The new result takes the refused card's place on screen; the
 *  refusal stays on the case's record. */
export async function compareAnyway(job: Job<AnalysisOutcome>, request: Req<'analysis.run'> & { override: string }, replaces: string): Promise<void> {
  await job.start(async () => {
    const evidenceId = request.evidenceIds[0];
    const views = await job.call('analysis.run', request);
    const out = job.outcome;
    if (views) out.results = out.results.flatMap((a) => (a.id === replaces ? views : [a]));
    else if (job.error && job.error.code !== 'CANCELLED') out.failures = [...out.failures, { evidenceId, error: job.error }];
  });
}

export async function importReferences(job: Job<{ last: ImportReferenceResult | null }>, request: Req<'references.import'>): Promise<void> {
  await job.start(async () => {
    job.outcome.last = null;
    job.outcome.last = await job.call('references.import', request);
  });
}

/** Runs the paper's protocol on the set and caches the figures with it (progress, cancel); analyses of
 *  the set then state them without waiting for a measurement. */
export async function measureReliability(job: Job<{ last: SetReliabilityView | null }>, request: Req<'references.reliability'>): Promise<void> {
  await job.start(async () => {
    job.outcome.last = null;
    job.outcome.last = await job.call('references.reliability', request);
  });
}

export async function signReport(job: Job<ReportOutcome>, request: Req<'reports.create'>, trust: string[]): Promise<void> {
  await job.start(async () => {
    job.outcome.created = null;
    job.outcome.trust = trust;
    job.outcome.created = await job.call('reports.create', request);
  });
}
