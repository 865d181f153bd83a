// `study run` for a --trainer builtin plan: fine-tunes the shipped base model (assets/base-model, the
// demo's own pre-training) with the project's trainer (main/generator/training.ts) following the plan's
// recipe: rank, alpha and the evidence tool's scale rule and initialisation, learning rate, steps and
// batch size, on the run's images as the bundle holds them (hash-checked against the plan), with the
// run's seed. Each output is written in the evidence's format and metadata (kohya: ss_* keys), stamped
// with the study and run id, through a temporary name; a run's done.json records its output's SHA-256,
// and a run whose output still hashes to it is skipped on the next call (resumable). Runs train side by
// side --jobs at a time (results do not depend on it); the event loop gets a turn after every step, so
// progress is reported and a cancel stops at the next step with nothing written for unfinished runs.
import { posix } from 'node:path';
import { sha256File, sha256Hex } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import { encodeStandalone, type StandaloneFamily } from '../generator/adapters.ts';
import { loadBaseModel, type BaseModelManifest } from '../generator/base-model.ts';
import { BUILTIN_BASE_MODEL as BASE_MODEL_NAME } from './recipe.ts';
import { CLASSES, IMAGE_SIZE, type Concept, type ShapeClass } from '../generator/images.ts';
import { finetuneSteps, type LoraInit, type LoraRecipe, type LoraResult } from '../generator/training.ts';
import type { ModuleWeights } from '../intake/model.ts';
import { BUNDLE_LIMITS, fileInside, readBundle, readInside, writeInside, type Bundle } from './bundle.ts';
import { decodePng } from './png-decode.ts';
import type { Plan, PlanRun, Recipe } from './types.ts';

/** Written beside a run's trainer input when its output is complete. */
export const DONE_FILE = 'done.json';
/** Metadata keys every output of the built-in trainer carries (and `study import` matches on). */
export const META_STUDY = 'lora_auditor_study';
export const META_RUN = 'lora_auditor_run';

export interface DoneRecord {
  runId: string;
  output: string;
  sha256: string;
  bytes: number;
  trainer: 'builtin';
  finishedAt: string;
  loss: { first: number; last: number };
}

export interface StudyRunProgress {
  phase: 'loading' | 'training' | 'written' | 'skipped' | 'done';
  runsDone: number;
  runsTotal: number;
  /** The runs training now (phase training), or the run just written or skipped. */
  runIds: string[];
  step?: number;
  steps?: number;
}

export interface StudyRunOptions {
  /** assets/base-model (the folder holding the base model and its manifest). */
  baseModelDir: string;
  /** Runs trained side by side (default 1). */
  jobs?: number;
  /** Only these run ids (the bundle's per-run command uses one). */
  only?: string[];
  signal?: AbortSignal;
  onProgress?: (p: StudyRunProgress) => void;
}

export interface StudyRunReport {
  studyId: string;
  bundle: string;
  trainer: string;
  /** How the built-in trainer followed the recipe (and where it could not). */
  settings: BuiltinSettings;
  trained: { runId: string; output: string; sha256: string; loss: { first: number; last: number } }[];
  skipped: { runId: string; output: string; sha256: string; reason: string }[];
  baseModel: { name: string; sha256: string };
}

export interface BuiltinSettings {
  format: StandaloneFamily;
  rank: number;
  alpha: number;
  scale: number;
  scaleRule: string;
  initA: LoraInit;
  learningRate: number;
  steps: number;
  batchSize: number;
  repeats: number;
  /** What the built-in trainer does differently from the recipe as stated (shown, never hidden). */
  deviations: string[];
}

const ATTENTION = ['to_k', 'to_out.0', 'to_q', 'to_v'];

function need<T>(f: { value: T | null }, what: string): T {
  if (f.value === null || f.value === undefined) throw new AuditError('BAD_CONFIG', `the plan's recipe has no ${what}; plan the study again with --set`);
  return f.value;
}

function positive(v: unknown, what: string, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isSafeInteger(v))) {
    throw new AuditError('BAD_CONFIG', `the plan's recipe gives ${what} ${JSON.stringify(v)}; the built-in trainer needs a ${integer ? 'whole ' : ''}number > 0`);
  }
  return v;
}

/** The recipe as the built-in trainer follows it; refused where it cannot (another base, text encoder, other modules). */
export function builtinSettings(recipe: Recipe): BuiltinSettings {
  const deviations: string[] = [];
  const family = need(recipe.family, 'file family');
  const format: StandaloneFamily | null = family === 'kohya' ? 'kohya' : family === 'peft' ? 'peft' : family.startsWith('diffusers') ? 'diffusers' : null;
  if (!format) throw new AuditError('BAD_CONFIG', `the evidence is a ${family} file; the built-in trainer writes kohya, diffusers and PEFT LoRA files`);
  const method = recipe.method.value;
  if (method && method !== 'lora') throw new AuditError('BAD_CONFIG', `the evidence is ${method}; the built-in trainer trains plain LoRA`);
  const base = recipe.baseModel.value;
  if (base !== BASE_MODEL_NAME) {
    throw new AuditError('BAD_CONFIG', `the plan's base model is ${JSON.stringify(base)}; the built-in trainer fine-tunes only its own ${BASE_MODEL_NAME} (use the kohya or diffusers trainer for another base)`);
  }
  if (recipe.trainTextEncoder.value === true) throw new AuditError('BAD_CONFIG', 'the recipe trains the text encoder; the built-in model has no trainable text encoder');
  const modules = recipe.targetModules.value;
  if (modules && [...modules].sort().join(',') !== ATTENTION.join(',')) {
    throw new AuditError('BAD_CONFIG', `the recipe targets ${modules.join(', ')}; the built-in trainer adapts the attention projections ${ATTENTION.join(', ')}`);
  }
  const rank = positive(need(recipe.rank, 'rank'), 'rank', true);
  if (rank > 64) throw new AuditError('BAD_CONFIG', `rank ${rank}: the built-in model's widths (8–32) take ranks up to 64 at most`);
  const alpha = positive(recipe.alpha.value ?? rank, 'alpha', false);
  const scaleRule = recipe.scaleRule.value ?? (format === 'kohya' ? 'alpha/r' : 'one');
  const scale = scaleRule === 'alpha/r' ? alpha / rank : scaleRule === 'alpha/sqrt(r)' ? alpha / Math.sqrt(rank) : 1;
  if (scaleRule !== 'alpha/r' && scaleRule !== 'alpha/sqrt(r)' && scaleRule !== 'one') throw new AuditError('BAD_CONFIG', `scale rule ${JSON.stringify(scaleRule)} is not alpha/r, alpha/sqrt(r) or one`);
  // The tool's own initialisation of A (B starts at 0 in every one of them).
  const initA: LoraInit = format === 'kohya' ? 'kaiming-uniform' : 'normal';
  const learningRate = positive(need(recipe.learningRate, 'learning rate'), 'learning rate', false);
  const steps = positive(need(recipe.maxTrainSteps, 'step count'), 'step count', true);
  const batchSize = positive(need(recipe.batchSize, 'batch size'), 'batch size', true);
  if (steps > 100_000 || batchSize > 64) throw new AuditError('BAD_CONFIG', `${steps} steps of batch ${batchSize}: more than the built-in trainer runs (100,000 steps, batch 64)`);
  const repeats = recipe.repeats.value && Number.isSafeInteger(recipe.repeats.value) && recipe.repeats.value > 0 ? recipe.repeats.value : 1;
  const opt = (recipe.optimizer.value ?? '').toLowerCase();
  if (opt && opt !== 'adam') deviations.push(`optimizer ${recipe.optimizer.value} → Adam (β1 0.9, β2 0.999, ε 1e-7, no weight decay): the built-in trainer's only optimizer`);
  if (recipe.lrScheduler.value && recipe.lrScheduler.value !== 'constant') deviations.push(`learning-rate schedule ${recipe.lrScheduler.value} → constant`);
  if (recipe.lrWarmupSteps.value) deviations.push(`warm-up ${recipe.lrWarmupSteps.value} steps → none`);
  if (recipe.mixedPrecision.value && recipe.mixedPrecision.value !== 'no') deviations.push(`mixed precision ${recipe.mixedPrecision.value} → float32 throughout`);
  if (recipe.resolution.value && recipe.resolution.value !== IMAGE_SIZE) deviations.push(`resolution ${recipe.resolution.value} px → the built-in model's ${IMAGE_SIZE} px images`);
  deviations.push('prompt "a photo of sks <class>" (the built-in model\'s vocabulary), the class read off the subject name');
  return { format, rank, alpha, scale, scaleRule, initA, learningRate, steps, batchSize, repeats, deviations };
}

/** The built-in model's class of a subject: its name's last `_` part (`copper_stripes` → stripes). */
export function subjectClass(subject: string): ShapeClass {
  const last = subject.split(/[_\s-]+/).pop() ?? '';
  const cls = CLASSES.find((c) => c === last.toLowerCase());
  if (!cls) {
    throw new AuditError('BAD_CONFIG', `subject "${subject}": the built-in model knows the classes ${CLASSES.join(', ')}; name a subject <anything>_<class> (e.g. copper_stripes)`);
  }
  return cls;
}

/** The run's images from the bundle, each hash-checked against the plan, as the model's pixels. */
async function runImages(b: Bundle, run: PlanRun): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const im of run.images) {
    const bytes = await readInside(b.root, im.path, BUNDLE_LIMITS.imageBytes);
    if (!bytes) throw new AuditError('FILE_NOT_FOUND', `run ${run.runId}: its image ${im.path} is not in the bundle`, b.root);
    const sha = sha256Hex(bytes);
    if (sha !== im.sha256) throw new AuditError('HASH_MISMATCH', `run ${run.runId}: image ${im.path} hashes to ${sha}, the plan recorded ${im.sha256}: the bundle's images changed after planning`, b.root);
    out.push(decodePng(bytes, im.path, { width: IMAGE_SIZE, height: IMAGE_SIZE }));
  }
  return out;
}

/** The run's done record, when its output is still the one recorded; null otherwise. */
export async function finishedRun(b: Bundle, run: PlanRun): Promise<DoneRecord | null> {
  const rec = await readInside(b.root, posix.join(run.dir, DONE_FILE), BUNDLE_LIMITS.recordBytes).catch(() => null);
  if (!rec) return null;
  let done: DoneRecord;
  try { done = JSON.parse(rec.toString('utf8')) as DoneRecord; } catch { return null; }
  if (done.runId !== run.runId || done.output !== run.output || typeof done.sha256 !== 'string') return null;
  // Hashed as a stream: an output may be up to BUNDLE_LIMITS.outputBytes, never held in memory whole.
  const out = await fileInside(b, run.output).catch(() => null);
  if (!out) return null;
  const { sha256 } = await sha256File(out.path, { end: out.size });
  return sha256 === done.sha256 ? done : null;
}

function outputFiles(plan: Plan, run: PlanRun, s: BuiltinSettings, modules: ModuleWeights[]): { rel: string; bytes: Buffer }[] {
  const stamp = { [META_STUDY]: plan.studyId, [META_RUN]: run.runId };
  const files = encodeStandalone(s.format, modules, {
    name: run.subject, size: run.size, rank: s.rank, steps: s.steps, learningRate: s.learningRate, seed: run.seed, baseModel: BASE_MODEL_NAME,
  }, {
    alpha: s.alpha, repeats: s.repeats,
    metadata: s.format === 'kohya'
      ? { ss_training_comment: `lora-audit study ${plan.studyId} run ${run.runId}`, ss_optimizer: 'Adam', ss_lr_scheduler: 'constant', ss_batch_size_per_device: String(s.batchSize), ...stamp }
      : stamp,
  });
  // The weights file goes to the plan's output path; a PEFT config beside it.
  return files.map((f, i) => ({ rel: i === 0 ? run.output : posix.join(posix.dirname(run.output), f.suffix.slice(1)), bytes: f.bytes }));
}

export async function runStudy(bundleDir: string, opts: StudyRunOptions): Promise<StudyRunReport> {
  const b = await readBundle(bundleDir);
  const { plan } = b;
  if (plan.trainer !== 'builtin') {
    throw new AuditError('BAD_REQUEST', `this plan is for the ${plan.trainer} trainer: run it where that trainer is installed (run-all.sh or slurm.sbatch in the bundle), then lora-audit study import`);
  }
  const settings = builtinSettings(plan.recipe);
  const jobs = opts.jobs ?? 1;
  if (!Number.isSafeInteger(jobs) || jobs < 1 || jobs > 64) throw new AuditError('BAD_REQUEST', `--jobs ${jobs}: a whole number from 1 to 64`);
  let runs = plan.runs;
  if (opts.only?.length) {
    const unknown = opts.only.filter((id) => !plan.runs.some((r) => r.runId === id));
    if (unknown.length) throw new AuditError('BAD_REQUEST', `no run ${unknown.join(', ')} in this plan`);
    runs = plan.runs.filter((r) => opts.only!.includes(r.runId));
  }
  const concepts = new Map<string, Concept>(runs.map((r) => [r.runId, { name: r.subject, cls: subjectClass(r.subject) }]));
  const report: StudyRunReport = { studyId: plan.studyId, bundle: b.root, trainer: 'builtin', settings, trained: [], skipped: [], baseModel: { name: BASE_MODEL_NAME, sha256: '' } };
  const progress = (p: Omit<StudyRunProgress, 'runsDone' | 'runsTotal'>) =>
    opts.onProgress?.({ ...p, runsDone: report.trained.length + report.skipped.length, runsTotal: runs.length });

  const pending: PlanRun[] = [];
  for (const run of runs) {
    const done = await finishedRun(b, run);
    if (done) {
      report.skipped.push({ runId: run.runId, output: run.output, sha256: done.sha256, reason: 'already trained: its output hashes to the SHA-256 its done.json records' });
      progress({ phase: 'skipped', runIds: [run.runId] });
    } else pending.push(run);
  }
  if (pending.length === 0) {
    progress({ phase: 'done', runIds: [] });
    return report;
  }
  progress({ phase: 'loading', runIds: [] });
  const { base, manifest } = await loadBaseModel(opts.baseModelDir);
  checkBase(manifest);
  report.baseModel.sha256 = manifest.sha256;
  // TensorFlow.js loads only when a run trains (not with every host that lists these channels).
  const { loadTf } = await import('../generator/tf.ts');
  const tf = await loadTf();
  const recipe: LoraRecipe = { rank: settings.rank, steps: settings.steps, learningRate: settings.learningRate, batchSize: settings.batchSize, scale: settings.scale, initA: settings.initA };
  for (let g = 0; g < pending.length; g += jobs) {
    const group = pending.slice(g, g + jobs);
    const inputs = [];
    for (const run of group) inputs.push({ concept: concepts.get(run.runId)!, images: await runImages(b, run), seed: run.seed });
    const ids = group.map((r) => r.runId);
    const steps = finetuneSteps(tf, base, inputs, recipe);
    let results: LoraResult[];
    try {
      for (;;) {
        if (opts.signal?.aborted) throw new AuditError('CANCELLED', `cancelled while training ${ids.join(', ')}; nothing was written for them: run it again to continue (finished runs are skipped)`);
        const r = steps.next();
        if (r.done) { results = r.value; break; }
        progress({ phase: 'training', runIds: ids, step: r.value, steps: settings.steps });
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } finally {
      steps.return([]);
    }
    for (let k = 0; k < group.length; k++) {
      const run = group[k];
      const modules: ModuleWeights[] = [...results[k].modules].map(([id, m]) => ({ id, rank: settings.rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: settings.scale, a: m.a, b: m.b }));
      const files = outputFiles(plan, run, settings, modules);
      for (const f of files.slice(1)) await writeInside(b, f.rel, f.bytes);
      await writeInside(b, files[0].rel, files[0].bytes);
      const sha256 = sha256Hex(files[0].bytes);
      const record: DoneRecord = { runId: run.runId, output: run.output, sha256, bytes: files[0].bytes.length, trainer: 'builtin', finishedAt: new Date().toISOString(), loss: results[k].loss };
      await writeInside(b, posix.join(run.dir, DONE_FILE), Buffer.from(JSON.stringify(record, null, 2) + '\n'));
      report.trained.push({ runId: run.runId, output: run.output, sha256, loss: results[k].loss });
      progress({ phase: 'written', runIds: [run.runId] });
    }
  }
  progress({ phase: 'done', runIds: [] });
  return report;
}

function checkBase(m: BaseModelManifest): void {
  if (m.baseModel !== BASE_MODEL_NAME) throw new AuditError('BAD_CONFIG', `the shipped base model is ${m.baseModel}, not ${BASE_MODEL_NAME}`);
}
