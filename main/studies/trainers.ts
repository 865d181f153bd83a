// Per trainer: the files a run needs in the bundle and the command that trains it. Options are the real
// scripts' own (test/fixtures/trainer-options/ lists the accepted ones, with the commit they were read
// at, and a test holds every plan to them). Paths are relative to the bundle folder, which the scripts
// make the working directory.
import { AuditError } from '../errors.ts';
import type { PlanRun, Recipe, TrainerKind } from './types.ts';

export interface TrainerSpec {
  kind: TrainerKind;
  /** The script inside the trainer's checkout (kohya, diffusers), or the lora-audit CLI (builtin). */
  script: string;
  /** The environment variable naming the trainer's checkout (or the lora-audit launcher) in the scripts. */
  env: string;
  /** How the scripts start command[0]. */
  launcher: 'accelerate' | 'lora-audit';
  /** The adapter file a run leaves, relative to its output folder. */
  outputFile(runId: string): string;
  /** Where the trainer comes from, for the README. */
  install: string[];
}

export const TRAINERS: Record<TrainerKind, TrainerSpec> = {
  kohya: {
    kind: 'kohya', script: 'train_network.py', env: 'SD_SCRIPTS', launcher: 'accelerate',
    outputFile: (runId) => `${runId}.safetensors`,
    install: [
      'git clone https://github.com/kohya-ss/sd-scripts && cd sd-scripts && git checkout 6edbe00547bac6c2efb2d6952eb910851662cdf2',
      'python -m venv venv && . venv/bin/activate && pip install torch torchvision && pip install -r requirements.txt',
      'accelerate config default',
      'export SD_SCRIPTS="$PWD"   # the scripts below read it',
    ],
  },
  diffusers: {
    kind: 'diffusers', script: 'examples/dreambooth/train_dreambooth_lora.py', env: 'DIFFUSERS', launcher: 'accelerate',
    outputFile: () => 'pytorch_lora_weights.safetensors',
    install: [
      'git clone https://github.com/huggingface/diffusers && cd diffusers && git checkout 80628708190f02a67c5c8ee791b3881dfd8a122d',
      'python -m venv venv && . venv/bin/activate && pip install torch torchvision && pip install -e . && pip install -r examples/dreambooth/requirements.txt peft tensorboard',
      'accelerate config default',
      'export DIFFUSERS="$PWD"   # the scripts below read it',
    ],
  },
  builtin: {
    kind: 'builtin', script: 'lora-audit', env: 'LORA_AUDIT', launcher: 'lora-audit',
    outputFile: (runId) => `${runId}.safetensors`,
    install: [
      'nothing beyond LoRA Auditor itself: the built-in trainer and base model ship with it (CPU only)',
      'export LORA_AUDIT="/path/to/lora-auditor/bin/lora-audit.mjs"   # or leave unset when lora-audit is on PATH',
    ],
  },
};

/** What a run's command and input files need to know about it. */
export interface RunContext {
  studyId: string;
  runId: string;
  subject: string;
  size: number;
  seed: number;
  /** The run's folder, relative to the bundle. */
  dir: string;
  /** Its images folder (only this run's images), relative to the bundle. */
  instanceDir: string;
  outputDir: string;
}

export interface RunInput {
  command: string[];
  /** Files to write, relative to the bundle → content. */
  files: Record<string, string>;
}

const need = <T>(v: T | null, what: string): T => {
  if (v === null) throw new AuditError('BAD_REQUEST', `the recipe has no ${what}; set one with --set`, undefined, { reason: 'RECIPE_INCOMPLETE' });
  return v;
};

/** A number as Python's argparse reads it back (no exponent surprises for small learning rates is fine: float() reads both). */
const n = (v: number) => String(v);

/** A TOML basic string: JSON's escapes are TOML's (control characters are refused before this). */
const toml = (s: string) => JSON.stringify(s);

export function prompt(recipe: Recipe, subject: string): string {
  return need(recipe.instancePrompt.value, 'instance prompt').replaceAll('{subject}', subject);
}

/** Refuse what a plan writer does not yet know how to write for a trainer. */
export function checkSupported(recipe: Recipe, trainer: TrainerKind): void {
  const family = recipe.baseModelFamily.value;
  if ((trainer === 'kohya' || trainer === 'diffusers') && family && ['sdxl', 'sd3', 'flux', 'transformer'].includes(family)) {
    throw new AuditError('BAD_REQUEST',
      `the evidence is a ${family} adapter; study plans write ${trainer === 'kohya' ? 'train_network.py' : 'train_dreambooth_lora.py'} runs for SD 1.x/2.x-shaped bases only (the ${family} scripts take other options)`,
      undefined, { reason: 'TRAINER_CANNOT_FOLLOW' });
  }
}

export function runInput(trainer: TrainerKind, recipe: Recipe, run: RunContext): RunInput {
  const rank = need(recipe.rank.value, 'rank');
  const lr = need(recipe.learningRate.value, 'learning rate');
  const comment = `lora-audit study ${run.studyId} run ${run.runId}`;
  if (trainer === 'kohya') {
    const tomlPath = `${run.dir}/dataset.toml`;
    const dataset = [
      `# ${comment}: ${run.size} image(s) of subject ${JSON.stringify(run.subject)}; written by lora-audit study plan`,
      '[general]',
      `resolution = ${need(recipe.resolution.value, 'resolution')}`,
      `batch_size = ${need(recipe.batchSize.value, 'batch size')}`,
      'enable_bucket = false',
      '',
      '[[datasets]]',
      '',
      '[[datasets.subsets]]',
      `image_dir = ${toml(run.instanceDir)}`,
      `num_repeats = ${need(recipe.repeats.value, 'repeat count')}`,
      `class_tokens = ${toml(prompt(recipe, run.subject))}`,
      '',
    ].join('\n');
    const args = [
      TRAINERS.kohya.script,
      '--pretrained_model_name_or_path', need(recipe.baseModel.value, 'base model'),
      '--dataset_config', tomlPath,
      '--output_dir', run.outputDir,
      '--output_name', run.runId,
      '--save_model_as', 'safetensors',
      '--network_module', 'networks.lora',
      '--network_dim', n(rank),
      '--network_alpha', n(need(recipe.alpha.value, 'alpha')),
      '--learning_rate', n(lr),
      '--max_train_steps', n(need(recipe.maxTrainSteps.value, 'step count')),
      '--optimizer_type', need(recipe.optimizer.value, 'optimizer'),
      '--lr_scheduler', need(recipe.lrScheduler.value, 'learning-rate schedule'),
      '--lr_warmup_steps', n(need(recipe.lrWarmupSteps.value, 'warm-up')),
      '--seed', n(run.seed),
      '--mixed_precision', need(recipe.mixedPrecision.value, 'precision'),
      '--training_comment', comment,
    ];
    if (recipe.optimizerArgs?.value?.length) args.push('--optimizer_args', ...recipe.optimizerArgs.value);
    if (recipe.trainTextEncoder.value === false) args.push('--network_train_unet_only');
    if (recipe.baseModelFamily.value === 'sd2') args.push('--v2');
    return { command: args, files: { [tomlPath]: dataset } };
  }
  if (trainer === 'diffusers') {
    const args = [
      TRAINERS.diffusers.script,
      '--pretrained_model_name_or_path', need(recipe.baseModel.value, 'base model'),
      '--instance_data_dir', run.instanceDir,
      '--instance_prompt', prompt(recipe, run.subject),
      '--output_dir', run.outputDir,
      '--resolution', n(need(recipe.resolution.value, 'resolution')),
      '--train_batch_size', n(need(recipe.batchSize.value, 'batch size')),
      '--learning_rate', n(lr),
      '--lr_scheduler', need(recipe.lrScheduler.value, 'learning-rate schedule'),
      '--lr_warmup_steps', n(need(recipe.lrWarmupSteps.value, 'warm-up')),
      '--rank', n(rank),
      '--seed', n(run.seed),
      '--mixed_precision', need(recipe.mixedPrecision.value, 'precision'),
    ];
    if (recipe.maxTrainSteps.value !== null) args.push('--max_train_steps', n(recipe.maxTrainSteps.value));
    if (recipe.trainTextEncoder.value === true) args.push('--train_text_encoder');
    if (recipe.optimizer.value === 'AdamW8bit') args.push('--use_8bit_adam');
    return { command: args, files: {} };
  }
  // builtin: the project's own trainer reads the run's recipe file.
  const recipePath = `${run.dir}/train.json`;
  const train = {
    studyId: run.studyId, runId: run.runId, subject: run.subject, size: run.size, seed: run.seed,
    images: run.instanceDir, output: `${run.outputDir}/${TRAINERS.builtin.outputFile(run.runId)}`,
    rank, alpha: need(recipe.alpha.value, 'alpha'), learningRate: lr, steps: need(recipe.maxTrainSteps.value, 'step count'),
    batchSize: need(recipe.batchSize.value, 'batch size'), optimizer: need(recipe.optimizer.value, 'optimizer'),
    scaleRule: recipe.scaleRule.value, family: recipe.family.value, targetModules: recipe.targetModules.value,
    baseModel: recipe.baseModel.value, prompt: prompt(recipe, run.subject),
  };
  return { command: ['lora-audit', 'study', 'run', '.', '--only', run.runId], files: { [recipePath]: JSON.stringify(train, null, 2) + '\n' } };
}

// --- time ------------------------------------------------------------------------------------------

/**
 * Seconds per optimisation step at batch 1, and per-run overhead, used for the README's estimate.
 * Sources (docs/STUDIES.md says more): SD 1.x at 512 px — 2.3 s/it at batch 6 and 768 px on an RTX 3090
 * (bmaltais/kohya_ss issue 1291), i.e. about 0.17 s per 512-px image, rounded up to 0.5 s/step for the
 * per-step overhead of batch 1; larger resolutions scale with the pixel count. The built-in trainer:
 * 0.42 s per run-step at batch 1 on 2 shared CPU cores (docs/BENCHMARKS.md, fine-tuning throughput).
 * Per-run overhead (loading the base model, caching latents): 60 s on a GPU, our assumption; 5 s built-in.
 */
export const TIME_ASSUMPTIONS = {
  gpuSecondsPerStep512: 0.5,
  gpuOverheadSeconds: 60,
  builtinSecondsPerImageStep: 0.42,
  builtinOverheadSeconds: 5,
};

export function runSeconds(trainer: TrainerKind, recipe: Recipe, size: number): number {
  const batch = recipe.batchSize.value ?? 1;
  const steps = recipe.maxTrainSteps.value ?? Math.ceil(size / batch);
  if (trainer === 'builtin') return TIME_ASSUMPTIONS.builtinOverheadSeconds + steps * batch * TIME_ASSUMPTIONS.builtinSecondsPerImageStep;
  const res = recipe.resolution.value ?? 512;
  const perStep = TIME_ASSUMPTIONS.gpuSecondsPerStep512 * Math.max(1, ((res / 512) ** 2) * batch / 1);
  return TIME_ASSUMPTIONS.gpuOverheadSeconds + steps * perStep;
}

export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

// --- shell -----------------------------------------------------------------------------------------

/** One shell word, single-quoted: safe for any text without NUL (control characters are refused earlier). */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** runs.sh: the study's runs as shell functions, sourced by run-all.sh and slurm.sbatch. */
export function runsSh(trainer: TrainerKind, studyId: string, runs: PlanRun[]): string {
  const spec = TRAINERS[trainer];
  const lines = [
    `# The runs of study ${studyId}, written by lora-audit study plan. Sourced by run-all.sh and slurm.sbatch`,
    '# from the bundle folder; every path is relative to it.',
    `RUN_COUNT=${runs.length}`,
    '',
    'run_id() {',
    '  case "$1" in',
    ...runs.map((r, i) => `    ${i}) printf '%s\\n' ${shq(r.runId)} ;;`),
    '    *) return 1 ;;',
    '  esac',
    '}',
    '',
    'run_output() {',
    '  case "$1" in',
    ...runs.map((r, i) => `    ${i}) printf '%s\\n' ${shq(r.output)} ;;`),
    '    *) return 1 ;;',
    '  esac',
    '}',
    '',
  ];
  if (spec.launcher === 'accelerate') {
    lines.push(
      'trainer_check() {',
      `  if [ -z "\${${spec.env}:-}" ]; then echo "set ${spec.env} to your checkout of the trainer (see README.md)" >&2; return 2; fi`,
      `  if [ ! -f "\${${spec.env}}/${spec.script}" ]; then echo "${spec.script} is not in \${${spec.env}}" >&2; return 2; fi`,
      '  command -v accelerate >/dev/null || { echo "accelerate is not on PATH: activate the trainer\'s environment" >&2; return 2; }',
      '}',
      '',
      'run_train() {',
      '  case "$1" in',
      ...runs.map((r, i) => `    ${i}) accelerate launch "\${${spec.env}}/"${shq(r.command[0])} ${r.command.slice(1).map(shq).join(' ')} ;;`),
      '    *) return 1 ;;',
      '  esac',
      '}',
    );
  } else {
    lines.push(
      'trainer_check() {',
      `  if [ -n "\${${spec.env}:-}" ]; then [ -f "\${${spec.env}}" ] || { echo "${spec.env} names no file" >&2; return 2; }`,
      '  else command -v lora-audit >/dev/null || { echo "lora-audit is not on PATH; set LORA_AUDIT to bin/lora-audit.mjs" >&2; return 2; }; fi',
      '}',
      '',
      'lora_audit() {',
      `  if [ -n "\${${spec.env}:-}" ]; then node "\${${spec.env}}" "$@"; else lora-audit "$@"; fi`,
      '}',
      '',
      'run_train() {',
      '  case "$1" in',
      ...runs.map((r, i) => `    ${i}) lora_audit ${r.command.slice(1).map(shq).join(' ')} ;;`),
      '    *) return 1 ;;',
      '  esac',
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

export function runAllSh(studyId: string): string {
  return [
    '#!/usr/bin/env bash',
    `# Study ${studyId}: every run, one after another. Resumable: a run whose output file exists (non-empty)`,
    '# is skipped, so after a stop run this again. Written by lora-audit study plan; see README.md.',
    'set -euo pipefail',
    'cd -- "$(dirname -- "${BASH_SOURCE[0]}")"',
    '. ./runs.sh',
    'trainer_check',
    'done_count=0',
    'for ((i = 0; i < RUN_COUNT; i++)); do',
    '  id="$(run_id "$i")"',
    '  out="$(run_output "$i")"',
    '  if [ -s "$out" ]; then',
    '    done_count=$((done_count + 1))',
    '    echo "[$((i + 1))/$RUN_COUNT] $id: done already ($out)"',
    '    continue',
    '  fi',
    '  echo "[$((i + 1))/$RUN_COUNT] $id: training"',
    '  mkdir -p -- "logs"',
    '  if run_train "$i" > "logs/$id.log" 2>&1; then',
    '    if [ -s "$out" ]; then done_count=$((done_count + 1)); else echo "  $id: the trainer exited but wrote no $out (see logs/$id.log)" >&2; fi',
    '  else',
    '    echo "  $id: FAILED (see logs/$id.log); run run-all.sh again to retry" >&2',
    '  fi',
    'done',
    'echo "$done_count of $RUN_COUNT runs have their output. Then: lora-audit study import <this folder> --name <set>"',
    '[ "$done_count" -eq "$RUN_COUNT" ]',
    '',
  ].join('\n');
}

export function slurmSbatch(studyId: string, runCount: number, maxRunSeconds: number, trainer: TrainerKind): string {
  // Twice the estimate, at least 30 minutes: a task killed at its time limit loses the whole run.
  const limit = Math.max(1800, Math.ceil(maxRunSeconds * 2));
  const hms = `${Math.floor(limit / 3600)}:${String(Math.floor((limit % 3600) / 60)).padStart(2, '0')}:${String(limit % 60).padStart(2, '0')}`;
  return [
    '#!/usr/bin/env bash',
    `#SBATCH --job-name=lora-study-${studyId.slice(-8)}`,
    `#SBATCH --array=0-${runCount - 1}`,
    '#SBATCH --ntasks=1',
    '#SBATCH --cpus-per-task=4',
    ...(trainer === 'builtin' ? [] : ['#SBATCH --gres=gpu:1']),
    `#SBATCH --time=${hms}`,
    '#SBATCH --output=logs/slurm-%A_%a.out',
    `# Study ${studyId}: one run per array task. Submit from the bundle folder:  cd <bundle> && sbatch slurm.sbatch`,
    '# (add --array=0-N%K to run at most K at once). A task whose output exists exits at once, so resubmitting',
    '# the whole array runs only what is missing. Written by lora-audit study plan; see README.md.',
    'set -euo pipefail',
    'cd -- "${SLURM_SUBMIT_DIR:-.}"',
    '[ -f plan.json ] && [ -f runs.sh ] || { echo "submit this from the study bundle folder (plan.json is not in $PWD)" >&2; exit 2; }',
    '. ./runs.sh',
    'i="${SLURM_ARRAY_TASK_ID:?run this with sbatch: it is a job array}"',
    'id="$(run_id "$i")"',
    'out="$(run_output "$i")"',
    'if [ -s "$out" ]; then echo "$id: done already ($out)"; exit 0; fi',
    'trainer_check',
    'echo "$id: training on $(hostname)"',
    'run_train "$i"',
    '[ -s "$out" ] || { echo "$id: the trainer exited but wrote no $out" >&2; exit 1; }',
    '',
  ].join('\n');
}
