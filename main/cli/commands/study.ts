// lora-audit study plan|…: reference studies from the command line. `study plan` writes a bundle that
// fine-tunes reference adapters with the evidence's own recipe (main/studies/plan.ts).
// One Command per subcommand, listed in `commands` below.
import { usageError, requireString, type Command, type Values } from '../framework.ts';
import { planStudy } from '../../studies/plan.ts';
import { runCommands } from './study-runs.ts';
import type { Plan, RecipeKey, TrainerKind } from '../../studies/types.ts';

const TRAINER_KINDS: TrainerKind[] = ['kohya', 'diffusers', 'builtin'];

function intOption(values: Values, name: string): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v)) throw usageError(`--${name} takes a whole number`);
  return Number(v);
}

/** --sizes 1,2,4,8 */
export function parseSizes(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length > 64 || parts.some((p) => !/^\d{1,6}$/.test(p))) throw usageError('--sizes takes whole numbers separated by commas, e.g. --sizes 1,2,4,8');
  return parts.map(Number);
}

/** --set field=value (repeatable): the examiner's values for recipe fields. */
export function parseSets(values: Values): Partial<Record<RecipeKey, string>> {
  const raw = values.set;
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw.map(String) : [String(raw)];
  const out: Partial<Record<RecipeKey, string>> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw usageError(`--set ${item}: write --set <field>=<value>, e.g. --set learningRate=1e-4`);
    out[item.slice(0, eq) as RecipeKey] = item.slice(eq + 1);
  }
  return out;
}

export interface PlanSummary {
  bundle: string;
  plan: Plan;
}

const plan: Command<PlanSummary> = {
  name: 'study plan',
  summary: 'Plan a reference study from the evidence\'s own recipe: a bundle with plan.json, each run\'s trainer input, run-all.sh, slurm.sbatch and a README.',
  usage: 'study plan <evidence> --images <folder|builtin> --sizes 1,2,4,8 [--subjects N] --trainer kohya|diffusers|builtin --out <bundle> [--base-model <checkpoint>] [--set field=value …] [--seed N] [--config <adapter_config.json>] [--force] [--json]',
  options: {
    images: { type: 'string' }, sizes: { type: 'string' }, subjects: { type: 'string' }, trainer: { type: 'string' },
    out: { type: 'string' }, force: { type: 'boolean' }, 'base-model': { type: 'string' }, set: { type: 'string', multiple: true },
    seed: { type: 'string' }, config: { type: 'string' },
  },
  async run(ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('name one evidence adapter file');
    const trainer = requireString(values, 'trainer');
    if (!TRAINER_KINDS.includes(trainer as TrainerKind)) throw usageError(`--trainer is one of ${TRAINER_KINDS.join(', ')}`);
    const subjects = intOption(values, 'subjects');
    const seed = intOption(values, 'seed');
    if (seed !== undefined && seed > 0xffffffff) throw usageError('--seed is a 32-bit number');
    const { plan: p, bundleDir } = await planStudy({
      evidence: positionals[0],
      images: requireString(values, 'images'),
      sizes: parseSizes(requireString(values, 'sizes')),
      trainer: trainer as TrainerKind,
      out: requireString(values, 'out'),
      force: values.force === true,
      set: parseSets(values),
      signal: ctx.signal,
      onProgress: ctx.log,
      ...(subjects !== undefined ? { subjects } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(typeof values['base-model'] === 'string' ? { baseModel: values['base-model'] } : {}),
      ...(typeof values.config === 'string' ? { configPath: values.config } : {}),
    });
    return { data: { bundle: bundleDir, plan: p } };
  },
  human({ bundle, plan: p }) {
    const loud = p.assumed.filter((a) => a.affectsSpectra);
    const r = p.recipe;
    return [
      `${p.studyId}: ${p.runs.length} runs (${p.subjects.length} subject(s) × sizes ${p.sizes.join(', ')}), trainer ${p.trainer}`,
      `  bundle ${bundle}`,
      `  recipe rank ${r.rank.value} (${r.rank.source}), alpha ${r.alpha.value} (${r.alpha.source})`,
      `         learning rate ${r.learningRate.value} (${r.learningRate.source}), steps ${r.maxTrainSteps.value ?? 'one epoch'} (${r.maxTrainSteps.source})`,
      `         optimizer ${r.optimizer.value} (${r.optimizer.source}), base model ${r.baseModel.value} (${r.baseModel.source})`,
      ...(loud.length ? ['  ASSUMED (not stated by the evidence; these change the spectra):', ...loud.map((a) => `    ${a.field} = ${JSON.stringify(a.value)}: ${a.reason}`)] : []),
      ...(p.warnings ?? []).map((w) => `  note: ${w}`),
      '  next: run it (bash run-all.sh, or sbatch slurm.sbatch on a cluster), then lora-audit study import <bundle> --name <set>',
    ].join('\n');
  },
};

export const commands: Command[] = [plan as Command, ...runCommands];
