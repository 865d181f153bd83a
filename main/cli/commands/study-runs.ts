// lora-audit study run|status|import: a planned reference study's runs (the built-in trainer), what came
// back, and the import of the outputs as a reference set. study.ts lists these beside `study plan`.
// Progress goes to stderr (not with --json); Ctrl-C cancels with nothing half-written, and the same
// command run again continues where it stopped.
import { resolve } from 'node:path';
import { usageError, requireString, type Command, type Values } from '../framework.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import { findAssets } from '../../paths/assets.ts';
import { AuditError } from '../../errors.ts';
import type { BackendName } from '../../../native/types.ts';
import type { StudyRunReport } from '../../studies/run.ts';
import type { StudyImportReport, StudyStatus } from '../../studies/import.ts';

const BASE_PROBE = 'base-model/manifest.json';

/** assets/base-model, wherever the assets are. */
export function baseModelDir(): string {
  const assets = findAssets(BASE_PROBE);
  if (!assets) throw new AuditError('FILE_NOT_FOUND', `the built-in base model (assets/${BASE_PROBE}) is not installed with this copy of LoRA Auditor`);
  return resolve(assets, 'base-model');
}

function one(positionals: string[]): string {
  if (positionals.length !== 1) throw usageError('give the study bundle folder (the one holding plan.json)');
  return resolve(positionals[0]);
}

const runCommand: Command<StudyRunReport> = {
  name: 'study run',
  summary: 'Train a --trainer builtin study\'s runs with the built-in model and trainer, following the plan\'s recipe. Finished runs are skipped; Ctrl-C stops with nothing half-written.',
  usage: 'study run <bundle> [--jobs N] [--only <runId>…] [--json]',
  options: { jobs: { type: 'string' }, only: { type: 'string', multiple: true } },
  async run(ctx, values, positionals) {
    const bundle = one(positionals);
    const jobs = values.jobs === undefined ? 1 : Number(values.jobs);
    if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 64) throw usageError('--jobs must be a whole number from 1 to 64');
    const only = (values.only as string[] | undefined) ?? [];
    const { runStudy } = await import('../../studies/run.ts');
    let last = 0;
    const report = await runStudy(bundle, {
      baseModelDir: baseModelDir(), jobs, only, signal: ctx.signal,
      onProgress: (p) => {
        const now = Date.now();
        if (p.phase === 'training' && now - last < 2000 && p.step !== p.steps) return;
        last = now;
        const head = `[${p.runsDone}/${p.runsTotal}]`;
        if (p.phase === 'training') ctx.log(`${head} training ${p.runIds.join(', ')}: step ${p.step}/${p.steps}`);
        else if (p.phase === 'written') ctx.log(`${head} wrote ${p.runIds[0]}`);
        else if (p.phase === 'skipped') ctx.log(`${head} skipped ${p.runIds[0]} (already trained)`);
        else if (p.phase === 'loading') ctx.log(`${head} loading the built-in base model`);
      },
    });
    return { data: report };
  },
  human(r) {
    const s = r.settings;
    return [
      `study ${r.studyId}: trained ${r.trained.length}, skipped ${r.skipped.length} (already trained)`,
      `  built-in trainer: ${s.format} output, rank ${s.rank}, alpha ${s.alpha} (scale ${+s.scale.toPrecision(6)}, ${s.scaleRule}), A init ${s.initA}, ` +
        `lr ${s.learningRate}, ${s.steps} steps of batch ${s.batchSize}`,
      ...s.deviations.map((d) => `  differs from the recipe: ${d}`),
      ...r.trained.map((t) => `  ${t.runId}: ${t.output} (sha256 ${t.sha256.slice(0, 16)}…, loss ${t.loss.first.toFixed(4)} → ${t.loss.last.toFixed(4)})`),
      `next: lora-audit study import ${r.bundle} --name <set>`,
    ].join('\n');
  },
};

function coverageLine(c: { planned: number; sizes: { size: number; planned: number }[] }, done: number, sizes: { size: number; done: number }[]): string {
  return `${done} of ${c.planned} runs; by size ${sizes.map((s) => `${s.size}: ${s.done}/${c.sizes.find((x) => x.size === s.size)?.planned ?? 0}`).join(', ')}`;
}

const statusCommand: Command<StudyStatus> = {
  name: 'study status',
  summary: 'Each planned run\'s state (trained, present, changed, missing) and the study\'s coverage.',
  usage: 'study status <bundle> [--json]',
  options: {},
  async run(_ctx, _values, positionals) {
    const { studyStatus } = await import('../../studies/import.ts');
    return { data: await studyStatus(one(positionals)) };
  },
  human(s) {
    return [
      `study ${s.studyId} (${s.trainer} trainer): ${s.complete ? 'complete' : 'partial'}, ${coverageLine(s.coverage, s.coverage.done, s.coverage.sizes)}`,
      ...s.runs.map((r) => `  ${r.state.padEnd(8)} ${r.runId} (${r.subject}, ${r.size} image${r.size === 1 ? '' : 's'}): ${r.output}`),
    ].join('\n');
  },
};

const importCommand: Command<StudyImportReport> = {
  name: 'study import',
  summary: 'Match a study\'s outputs to its planned runs, check each against the plan (rank, modules, tool, scale, run id) and import them as a reference set recording the plan and each run.',
  usage: 'study import <bundle> --name <set> [--backend <auto|cpu|…>] [--db <path>] [--json]',
  options: { name: { type: 'string' }, db: { type: 'string' }, backend: { type: 'string' } },
  async run(ctx, values: Values, positionals) {
    const bundle = one(positionals);
    const name = requireString(values, 'name');
    const { importStudy } = await import('../../studies/import.ts');
    const { createFeatureEngine } = await import('../../../native/engine.ts');
    const engine = await createFeatureEngine({ backend: (values.backend as BackendName | 'auto' | undefined) ?? 'auto', log: ctx.log });
    const db = await openDatabase(typeof values.db === 'string' ? values.db : defaultDbPath());
    try {
      const r = await importStudy(db, bundle, { name, engine, signal: ctx.signal,
        onProgress: (p) => { if (p.phase === 'committed') ctx.log(`imported ${p.adaptersDone}${p.adaptersTotal ? `/${p.adaptersTotal}` : ''}: ${p.file ?? ''}`); } });
      const problems = r.mismatched.length + r.duplicated.length + r.reference.errors.length;
      return { data: r, exitCode: problems > 0 ? 1 : 0 };
    } finally {
      await db.close();
      engine.dispose();
    }
  },
  human(r) {
    const c = r.coverage;
    return [
      `study ${r.studyId} → reference set "${r.set}": ${r.complete ? 'complete' : 'PARTIAL'}, ${c.imported} of ${c.planned} planned runs` +
        `; by size ${c.sizes.map((s) => `${s.size}: ${s.imported}/${s.planned}`).join(', ')}`,
      ...r.missing.map((id) => `  missing    ${id}: no output yet`),
      ...r.mismatched.map((m) => `  MISMATCH   ${m.runId}: ${m.output}: ${m.reason}`),
      ...r.duplicated.map((d) => `  DUPLICATED ${d.runId}: ${d.outputs.join(', ')} differ`),
      ...r.unplanned.map((u) => `  unplanned  ${u.output}${u.runId ? ` (run ${u.runId})` : ''}: ${u.reason}`),
      ...r.reference.errors.map((e) => `  ERROR ${e.file}: ${e.message} [${e.code}]`),
      `next: lora-audit evaluate --reference ${r.set}; lora-audit analyze <evidence> --reference ${r.set}`,
    ].join('\n');
  },
};

export const runCommands: Command[] = [runCommand, statusCommand, importCommand];
