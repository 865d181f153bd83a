// The app's reference studies (issue 19): the planner prefilled from a case's evidence (its recipe, each
// field with its source), the bundle it writes under <dataDir>/studies/, the bundle's status, the
// built-in trainer's run (a long job: progress per step, cancel) and the import of the outputs as a
// reference set (a long job). The app names bundles only inside <dataDir>/studies: a request cannot
// point the trainer or the importer at any other folder.
import { realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import type { StudyImportView, StudyStatusView } from '../api/contract.ts';
import { getCase } from '../cases/cases.ts';
import { getEvidence } from '../cases/evidence.ts';
import { AuditError } from '../errors.ts';
import { openAdapter } from '../intake/open.ts';
import { findAssets } from '../paths/assets.ts';
import { readBundle } from '../studies/bundle.ts';
import { importStudy, studyStatus } from '../studies/import.ts';
import { planStudy } from '../studies/plan.ts';
import { deriveRecipe, SPECTRAL_FIELDS } from '../studies/recipe.ts';
import { runStudy } from '../studies/run.ts';
import type { RecipeKey, TrainerKind } from '../studies/types.ts';
import type { HandlerTable } from './dispatch.ts';
import type { Services } from './create.ts';
import { throwIfCancelled } from './jobs.ts';
import { referenceView } from './views.ts';

type StudyHandlers = Pick<HandlerTable, 'studies.draft' | 'studies.plan' | 'studies.status' | 'studies.run' | 'studies.import'>;

const TRAINERS: TrainerKind[] = ['kohya', 'diffusers', 'builtin'];

export function studyHandlers(s: Services): StudyHandlers {
  const { db } = s;
  const studiesDir = join(s.dataDir, 'studies');

  /** A bundle the app wrote: its real path must lie inside <dataDir>/studies. */
  async function ownBundle(bundle: string): Promise<string> {
    const root = await realpath(studiesDir).catch(() => studiesDir);
    const real = await realpath(bundle).catch(() => { throw new AuditError('FILE_NOT_FOUND', 'no such study bundle', bundle); });
    if (!real.startsWith(root + sep)) throw new AuditError('BAD_REQUEST', `the app opens study bundles in ${studiesDir} only; use the lora-audit CLI for others`, bundle);
    return real;
  }

  async function status(bundle: string): Promise<StudyStatusView> {
    const st = await studyStatus(bundle);
    const { plan } = await readBundle(bundle);
    return {
      studyId: st.studyId, bundle: st.bundle, trainer: st.trainer, complete: st.complete,
      runs: st.runs.map((r) => ({ runId: r.runId, subject: r.subject, size: r.size, state: r.state })),
      coverage: { planned: st.coverage.planned, done: st.coverage.done, missing: st.coverage.missing, sizes: st.coverage.sizes },
      assumed: plan.assumed.map((a) => a.field),
    };
  }

  const trainerOf = (t: string | undefined): TrainerKind => {
    const trainer = (t ?? 'builtin') as TrainerKind;
    if (!TRAINERS.includes(trainer)) throw new AuditError('BAD_REQUEST', `trainer is one of ${TRAINERS.join(', ')}`);
    return trainer;
  };

  return {
    'studies.draft': async ({ caseId, evidenceId, trainer }) => {
      const kase = await getCase(db, caseId);
      const item = await getEvidence(db, kase.id, evidenceId);
      const t = trainerOf(trainer);
      const adapter = await openAdapter(item.storedPath, { sha256: item.sha256 });
      try {
        const { recipe, assumed, warnings } = deriveRecipe(adapter, { trainer: t });
        const assumedFields = new Set(assumed.map((a) => a.field));
        return {
          evidence: { id: item.id, file: item.storedPath, sha256: item.sha256, family: adapter.family },
          trainer: t,
          fields: (Object.entries(recipe) as [RecipeKey, { value: unknown; source: string }][]).map(([field, f]) => ({
            field, value: f.value, source: f.source, assumed: assumedFields.has(field), affectsSpectra: SPECTRAL_FIELDS.has(field),
          })),
          warnings,
          defaults: { images: 'builtin', sizes: [1, 2, 3], subjects: 4, name: `study-${item.sha256.slice(0, 8)}` },
        };
      } finally {
        await adapter.source.close();
      }
    },
    'studies.plan': async ({ caseId, evidenceId, trainer, images, sizes, subjects, set }) => {
      const kase = await getCase(db, caseId);
      const item = await getEvidence(db, kase.id, evidenceId);
      const out = join(studiesDir, `${item.sha256.slice(0, 12)}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      const { bundleDir } = await planStudy({
        evidence: item.storedPath, images, sizes, trainer: trainerOf(trainer), out,
        ...(subjects !== undefined ? { subjects } : {}), ...(set ? { set: set as Partial<Record<RecipeKey, string>> } : {}),
      });
      return status(bundleDir);
    },
    'studies.status': async ({ bundle }) => status(await ownBundle(bundle)),
    'studies.run': async ({ bundle, jobs }, job) => {
      const dir = await ownBundle(bundle);
      const assets = findAssets('base-model/manifest.json');
      if (!assets) throw new AuditError('FILE_NOT_FOUND', 'the built-in base model (assets/base-model) is not installed with this copy of LoRA Auditor');
      await runStudy(dir, {
        baseModelDir: join(assets, 'base-model'), jobs: jobs ?? 4, signal: job.signal,
        onProgress: (p) => job.progress({
          phase: p.phase, done: p.runsDone, total: p.runsTotal, unit: 'adapters',
          message: p.phase === 'training' ? `training ${p.runIds.join(', ')}: step ${p.step} of ${p.steps}` : `${p.phase} ${p.runIds.join(', ')}`.trim(),
        }),
      });
      throwIfCancelled(job.signal);
      return status(dir);
    },
    'studies.import': async ({ bundle, name }, job): Promise<StudyImportView> => {
      const dir = await ownBundle(bundle);
      const r = await importStudy(db, dir, {
        name, engine: await s.engine(), signal: job.signal,
        onProgress: (p) => job.progress({ phase: p.phase, done: p.adaptersDone, total: p.adaptersTotal ?? null, unit: 'adapters', message: `${p.phase}${p.file ? ` ${p.file}` : ''}` }),
      });
      throwIfCancelled(job.signal);
      if (!r.reference.set) throw new AuditError('BAD_SHARD', r.reference.errors[0]?.message ?? 'nothing could be imported');
      return {
        set: referenceView(r.reference.set), imported: r.imported.map((i) => i.runId), missing: r.missing, complete: r.complete,
        problems: [
          ...r.mismatched.map((m) => ({ runId: m.runId, output: m.output, reason: m.reason })),
          ...r.duplicated.map((d) => ({ runId: d.runId, reason: `several different outputs: ${d.outputs.join(', ')}` })),
          ...r.unplanned.map((u) => ({ output: u.output, reason: u.reason, ...(u.runId ? { runId: u.runId } : {}) })),
          ...r.reference.errors.map((e) => ({ output: e.file, reason: e.message })),
        ],
      };
    },
  };
}
