// The evidence's training recipe, read off what intake already parsed (kohya ss_* metadata, a PEFT
// config, the tensors' structure): every field with where it came from. What nothing states is taken
// from the chosen trainer's default and listed as an assumption, loudly where it changes the spectra.
import type { CanonicalAdapter } from '../intake/model.ts';
import { AuditError } from '../errors.ts';
import { demoOptions } from '../generator/presets.ts';
import type { Assumption, Recipe, RecipeField, RecipeKey, TrainerKind } from './types.ts';
import { UNPRINTABLE } from '../common/text.ts';

/** The built-in small SD-shaped model (main/generator): what the demo evidence was trained on. */
export const BUILTIN_BASE_MODEL = 'lora-auditor/mini-sd-unet';

/** Fields whose value changes the adapter's spectra: an assumption about them is shown loudly. */
export const SPECTRAL_FIELDS: ReadonlySet<RecipeKey> = new Set<RecipeKey>([
  'rank', 'alpha', 'scaleRule', 'targetModules', 'trainTextEncoder', 'learningRate', 'maxTrainSteps', 'optimizer',
  'lrScheduler', 'lrWarmupSteps', 'batchSize', 'baseModel', 'resolution', 'mixedPrecision', 'optimizerArgs',
]);

type Value = string | number | boolean | string[];

interface TrainerDefaults {
  learningRate: number;
  maxTrainSteps: number | null;
  optimizer: string;
  lrScheduler: string;
  lrWarmupSteps: number;
  batchSize: number;
  repeats: number;
  mixedPrecision: string;
  /** Where these defaults were read. */
  where: string;
}

const BUILTIN_LORA = demoOptions('').lora;

/**
 * Each trainer's own defaults, as its argument definitions state them (test/fixtures/trainer-options/
 * holds the definitions with the commit they were read at) or, for the built-in trainer, the demo recipe
 * (main/generator/presets.ts).
 */
export const TRAINER_DEFAULTS: Record<TrainerKind, TrainerDefaults> = {
  kohya: { learningRate: 2e-6, maxTrainSteps: 1600, optimizer: 'AdamW', lrScheduler: 'constant', lrWarmupSteps: 0,
    batchSize: 1, repeats: 1, mixedPrecision: 'no', where: "kohya-ss/sd-scripts train_network.py's default" },
  diffusers: { learningRate: 5e-4, maxTrainSteps: null, optimizer: 'AdamW', lrScheduler: 'constant', lrWarmupSteps: 500,
    batchSize: 4, repeats: 1, mixedPrecision: 'no', where: "diffusers train_dreambooth_lora.py's default" },
  builtin: { learningRate: BUILTIN_LORA.learningRate, maxTrainSteps: BUILTIN_LORA.steps, optimizer: 'Adam', lrScheduler: 'constant',
    lrWarmupSteps: 0, batchSize: BUILTIN_LORA.batchSize, repeats: 1, mixedPrecision: 'no', where: "the built-in trainer's default (the demo recipe)" },
};

/** A base-model name that points somewhere by itself: an absolute or home path, a parent-folder step, a URL.
 *  The evidence's maker wrote it; the examiner's trainer would open or fetch it, so it is never taken as is
 *  (a hub id "org/name" or a bare file name is, and the bundle's README says whose claim it is). */
function pathOrUrl(name: string): boolean {
  return /^([\\/~]|[A-Za-z]:)|(^|[\\/])\.\.([\\/]|$)|^[A-Za-z][A-Za-z0-9+.-]*:/.test(name);
}

/** Square training resolution by base model family (each family's native size). */
const RESOLUTION_BY_FAMILY: Record<string, number> = { sd1: 512, sd2: 768, sdxl: 1024, sd3: 1024, flux: 1024 };

export interface RecipeOptions {
  trainer: TrainerKind;
  /** --base-model: the checkpoint the trainer loads, when the evidence does not name one usable here. */
  baseModel?: string;
  /** --set field=value: the examiner's values for fields (an edited assumption), by recipe key. */
  set?: Partial<Record<RecipeKey, string>>;
}

export interface DerivedRecipe {
  recipe: Recipe;
  assumed: Assumption[];
  /** Where the trainer cannot follow the evidence's recipe exactly: shown in the plan and README. */
  warnings: string[];
}

const stated = <T>(value: T, source: string): RecipeField<T> => ({ value, source });

/** ss_* values are untrusted strings: a number only when the whole string is one. */
function num(s: string | undefined): number | undefined {
  if (s === undefined || !/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(s)) return undefined;
  const v = Number(s);
  return Number.isFinite(v) ? v : undefined;
}

function posInt(s: string | undefined): number | undefined {
  const v = num(s);
  return v !== undefined && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** The optimizer names train_network.py's --optimizer_type takes (its help text, in the fixture); others by class path. */
const KOHYA_OPTIMIZERS = ['AdamW', 'AdamW8bit', 'PagedAdamW', 'PagedAdamW8bit', 'PagedAdamW32bit', 'Lion8bit', 'PagedLion8bit', 'Lion',
  'SGDNesterov', 'SGDNesterov8bit', 'DAdaptation', 'DAdaptAdamPreprint', 'DAdaptAdaGrad', 'DAdaptAdam', 'DAdaptAdan', 'DAdaptAdanIP',
  'DAdaptLion', 'DAdaptSGD', 'AdaFactor'];

/**
 * kohya writes ss_optimizer as the optimizer's class path and its --optimizer_args joined by commas:
 * `bitsandbytes.optim.adamw.AdamW8bit(weight_decay=0.1,betas=0.9,0.99)`. Returns the name
 * --optimizer_type takes (a known short name, else the class path, which it also takes) and the
 * arguments as `key=value` items; undefined when the text is not of that form (it is untrusted).
 */
export function parseOptimizer(s: string): { name: string; args: string[] } | undefined {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_.]{0,200})\s*(?:\((.*)\))?\s*$/s.exec(s);
  if (!m) return undefined;
  const path = m[1];
  const cls = path.split('.').pop() as string;
  const known = KOHYA_OPTIMIZERS.find((k) => k.toLowerCase() === cls.toLowerCase());
  const name = known ?? (path.includes('.') ? path : undefined);
  if (!name) return undefined;
  const inner = (m[2] ?? '').trim();
  // An item starts where an identifier and '=' follow a comma (values such as betas=0.9,0.99 hold commas).
  const args = inner ? inner.split(/,(?=\s*[A-Za-z_][A-Za-z0-9_]*\s*=)/).map((a) => a.trim()) : [];
  if (args.some((a) => !/^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.,+\-\[\]() ]{1,100}$/.test(a)) || args.length > 32) return undefined;
  return { name, args };
}

/** ss_resolution is written as `(512, 512)` or `512,512`: the first number, when the resolution is square. */
function resolutionOf(s: string | undefined): number | undefined {
  if (!s) return undefined;
  const nums = s.match(/\d+/g)?.map(Number) ?? [];
  if (nums.length === 0 || nums.length > 2 || (nums.length === 2 && nums[0] !== nums[1])) return undefined;
  return nums[0] > 0 && nums[0] <= 8192 ? nums[0] : undefined;
}

/** The module names an adapter adapts, short: `to_q`, `to_out.0`, `ff.net.2`, `q_proj` …. */
function shortModuleName(id: string): string {
  const parts = id.split('.');
  const last = parts[parts.length - 1];
  if (/^\d+$/.test(last) && parts.length >= 2) {
    const prev = parts[parts.length - 2];
    // ff.net.2 / ff.net.0.proj keep their container; to_out.0 keeps its index
    return prev === 'net' && parts.length >= 3 ? `${parts[parts.length - 3]}.net.${last}` : `${prev}.${last}`;
  }
  if (last === 'proj' && parts.length >= 4 && parts[parts.length - 3] === 'net') return parts.slice(-4).join('.');
  return last;
}

function mostCommon(values: number[]): number | undefined {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let best: number | undefined;
  for (const [v, c] of counts) if (best === undefined || c > (counts.get(best) ?? 0)) best = v;
  return best;
}

const TOOL_OF_FAMILY: Record<string, string> = {
  kohya: 'kohya', lycoris: 'kohya', 'diffusers-attnproc': 'diffusers', 'diffusers-lora': 'diffusers',
  'diffusers-peft': 'diffusers', peft: 'peft', 'lora-diffusion': 'lora-diffusion', 'pytorch-pickle': 'unknown', unknown: 'unknown',
};

/** Parse an examiner's --set value for a field, or say why it does not fit. */
function parseSet(key: RecipeKey, text: string, current: RecipeField<unknown>): Value {
  const bad = (what: string) => new AuditError('BAD_REQUEST', `--set ${key}=${text}: ${what}`, undefined, { reason: 'BAD_SET', field: key });
  const sample = current.value;
  if (key === 'targetModules') {
    const list = text.split(',').map((s) => s.trim()).filter(Boolean);
    if (!list.length || list.some((s) => !/^[A-Za-z0-9_.]{1,64}$/.test(s))) throw bad('a comma-separated list of module names');
    return list;
  }
  if (key === 'optimizerArgs') {
    const list = text.split(/\s+/).filter(Boolean);
    if (list.length > 32 || list.some((a) => !/^[A-Za-z_][A-Za-z0-9_]*=[A-Za-z0-9_.,+\-\[\]()]{1,100}$/.test(a))) throw bad('space-separated key=value items, e.g. weight_decay=0.01 betas=0.9,0.999');
    return list;
  }
  if (key === 'trainTextEncoder') {
    if (text !== 'true' && text !== 'false') throw bad('true or false');
    return text === 'true';
  }
  const numeric = typeof sample === 'number' || ['rank', 'alpha', 'learningRate', 'maxTrainSteps', 'lrWarmupSteps', 'resolution', 'batchSize', 'repeats', 'seed'].includes(key);
  if (numeric) {
    const v = num(text);
    if (v === undefined || v < 0) throw bad('a non-negative number');
    if (key !== 'learningRate' && key !== 'alpha' && !Number.isInteger(v)) throw bad('a whole number');
    if ((key === 'rank' || key === 'maxTrainSteps' || key === 'batchSize' || key === 'resolution' || key === 'repeats') && v < 1) throw bad('at least 1');
    if (key === 'maxTrainSteps' && v > 10_000_000) throw bad('at most 10,000,000 steps');
    if (key === 'rank' && v > 4096) throw bad('at most 4096');
    if (key === 'seed' && v > 0xffffffff) throw bad('a 32-bit seed');
    return v;
  }
  if (text.length === 0 || text.length > 200 || UNPRINTABLE.test(text)) throw bad('1–200 printable characters');
  return text;
}

/**
 * The recipe of an opened adapter, for a study with `trainer`. Reads only what intake parsed (the raw
 * metadata strings, kohya's and PEFT's summaries, the modules); never the file again.
 */
export function deriveRecipe(adapter: CanonicalAdapter, options: RecipeOptions): DerivedRecipe {
  const { trainer } = options;
  const defaults = TRAINER_DEFAULTS[trainer];
  const raw = adapter.metadata.raw;
  const meta = (key: string) => (Object.hasOwn(raw, key) ? raw[key] : undefined);
  const kohya = adapter.metadata.kohya;
  const peft = adapter.metadata.peft;
  const warnings: string[] = [];
  const reasons = new Map<RecipeKey, string>();
  const assumedField = <T>(key: RecipeKey, value: T | null, why: string): RecipeField<T> => {
    reasons.set(key, why);
    return { value, source: `assumed: ${why}` };
  };
  const defaultBecause = (what: string) => `${defaults.where}, because the file states no ${what}`;

  if (adapter.modules.length === 0) {
    throw new AuditError('NO_MODULES', 'the evidence has no LoRA A/B modules to take a rank and modules from; a study cannot follow it', adapter.identity.file);
  }

  // Structure: rank, alpha, modules, text encoder.
  const ranks = adapter.modules.map((m) => m.rank);
  const structRank = mostCommon(ranks) as number;
  if (adapter.ranks.length > 1) warnings.push(`the evidence mixes ranks ${adapter.ranks.join(', ')}; the study uses the most common, ${structRank}, for every module`);
  let rank: RecipeField<number>;
  if (kohya?.networkDim !== undefined && kohya.networkDim === structRank) rank = stated(structRank, 'metadata: ss_network_dim');
  else if (peft?.r !== undefined && peft.r === structRank) rank = stated(structRank, 'config: r');
  else {
    rank = stated(structRank, 'structure: rank');
    const claimed = kohya?.networkDim ?? peft?.r;
    if (claimed !== undefined) warnings.push(`the metadata states rank ${claimed} but the tensors have rank ${structRank}; the tensors are followed`);
  }

  const modAlphas = adapter.modules.map((m) => m.alpha).filter((a): a is number => a !== undefined);
  const scaleRules = [...new Set(adapter.modules.map((m) => m.scaleRule))];
  let alpha: RecipeField<number>;
  const tensorAlpha = mostCommon(modAlphas);
  if (kohya?.networkAlpha !== undefined && tensorAlpha !== undefined && Math.abs(kohya.networkAlpha - tensorAlpha) > 1e-6 * Math.max(1, tensorAlpha)) {
    alpha = stated(tensorAlpha, 'structure: alpha tensors');
    warnings.push(`the metadata states alpha ${kohya.networkAlpha} but the tensors store alpha ${tensorAlpha}; the tensors are followed`);
  } else if (kohya?.networkAlpha !== undefined) alpha = stated(kohya.networkAlpha, 'metadata: ss_network_alpha');
  else if (peft?.loraAlpha !== undefined) alpha = stated(peft.loraAlpha, 'config: lora_alpha');
  else if (tensorAlpha !== undefined) alpha = stated(tensorAlpha, adapter.family === 'kohya' ? 'structure: alpha tensors' : 'structure: network_alphas');
  else if (scaleRules.length === 1 && scaleRules[0] === 'one') alpha = stated(structRank, 'structure: scale 1 (no alphas stored), so alpha = rank');
  else alpha = stated(structRank, 'structure: no alpha stored (read as alpha = rank)');
  const scaleRule = stated<string>(scaleRules.join(', '), 'structure: scale rule');

  const targetModules = stated([...new Set(adapter.modules.map((m) => shortModuleName(m.id)))].sort(), 'structure: adapted modules');
  const te = adapter.modules.some((m) => m.id.startsWith('text_encoder'));
  const trainTextEncoder = stated(te, te ? 'structure: text encoder modules present' : 'structure: UNet modules only');

  // Identity of the tool and base model.
  const tool = stated(TOOL_OF_FAMILY[adapter.family] ?? 'unknown', meta('ss_network_module') ? 'metadata: ss_network_module' : 'structure: key naming');
  const family = stated<string>(adapter.family, 'structure: key naming');
  const method = stated<string>(adapter.method, 'structure: tensor names');
  const baseModelFamily = stated<string>(adapter.baseModel, 'structure: module widths');
  const statedBase = meta('ss_sd_model_name') !== undefined ? { v: meta('ss_sd_model_name') as string, s: 'metadata: ss_sd_model_name' }
    : peft?.baseModelNameOrPath ? { v: peft.baseModelNameOrPath, s: 'config: base_model_name_or_path' } : null;
  let baseModel: RecipeField<string>;
  if (trainer === 'builtin') {
    baseModel = stated(BUILTIN_BASE_MODEL, statedBase?.v === BUILTIN_BASE_MODEL ? statedBase.s : 'assumed: the built-in trainer fine-tunes only the built-in base model');
    if (statedBase?.v !== BUILTIN_BASE_MODEL) {
      reasons.set('baseModel', 'the built-in trainer fine-tunes only the built-in base model');
      warnings.push(`the evidence ${statedBase ? `names the base model ${JSON.stringify(statedBase.v)}` : 'names no base model'}; the built-in trainer can only fine-tune ${BUILTIN_BASE_MODEL}`);
    }
  } else if (options.baseModel !== undefined) {
    baseModel = stated(options.baseModel, 'examiner: --base-model');
  } else if (statedBase && !UNPRINTABLE.test(statedBase.v) && !pathOrUrl(statedBase.v)) {   // passed to the trainer in runs.sh
    baseModel = stated(statedBase.v, statedBase.s);
  } else {
    const how = !statedBase ? 'no base model' : pathOrUrl(statedBase.v) ? 'its base model as a path or URL' : 'its base model with unprintable (control, direction or zero-width) characters';
    throw new AuditError('BAD_REQUEST',
      `the evidence names ${how} (structure says ${adapter.baseModel}); pass --base-model <checkpoint path or hub id> for the ${trainer} trainer to load`,
      adapter.identity.file, { reason: 'NO_BASE_MODEL' });
  }
  const hash = meta('ss_new_sd_model_hash') ?? meta('ss_sd_model_hash');
  const baseModelHash = hash !== undefined
    ? stated(hash, meta('ss_new_sd_model_hash') !== undefined ? 'metadata: ss_new_sd_model_hash' : 'metadata: ss_sd_model_hash')
    : { value: null, source: 'structure: the file states no base model hash' };

  // Training hyper-parameters: metadata, else the trainer's default (an assumption).
  const lr = num(meta('ss_learning_rate')) ?? num(meta('ss_unet_lr'));
  const learningRate = lr !== undefined && lr > 0
    ? stated(lr, num(meta('ss_learning_rate')) !== undefined ? 'metadata: ss_learning_rate' : 'metadata: ss_unet_lr')
    : assumedField('learningRate', defaults.learningRate, defaultBecause('learning rate'));
  const steps = kohya?.maxTrainSteps ?? posInt(meta('ss_max_train_steps'));
  const maxTrainSteps = steps !== undefined && steps > 0
    ? stated(steps, 'metadata: ss_max_train_steps')
    : assumedField('maxTrainSteps', defaults.maxTrainSteps,
      defaults.maxTrainSteps === null ? `${defaults.where} (one epoch: ceil(images / batch) steps, so it grows with the size), because the file states no step count` : defaultBecause('step count'));
  const opt = meta('ss_optimizer') !== undefined ? parseOptimizer(meta('ss_optimizer') as string) : undefined;
  if (meta('ss_optimizer') !== undefined && !opt) warnings.push('ss_optimizer is not of the form kohya writes (class path and arguments); the optimizer is assumed');
  const optimizer = opt ? stated(opt.name, 'metadata: ss_optimizer') : assumedField('optimizer', defaults.optimizer, defaultBecause('optimizer'));
  const sched = meta('ss_lr_scheduler');
  const lrScheduler = sched && /^[a-z_]{1,40}$/.test(sched) ? stated(sched, 'metadata: ss_lr_scheduler') : assumedField('lrScheduler', defaults.lrScheduler, defaultBecause('learning-rate schedule'));
  const warm = num(meta('ss_lr_warmup_steps'));
  const lrWarmupSteps = warm !== undefined && warm >= 0 && Number.isInteger(warm) ? stated(warm, 'metadata: ss_lr_warmup_steps')
    : assumedField('lrWarmupSteps', defaults.lrWarmupSteps, defaultBecause('warm-up'));
  const res = resolutionOf(meta('ss_resolution'));
  const resolution = res !== undefined ? stated(res, 'metadata: ss_resolution')
    : trainer === 'builtin' ? assumedField('resolution', 16, 'the built-in model works on 16×16 images, because the file states no resolution')
      : RESOLUTION_BY_FAMILY[adapter.baseModel] ? assumedField('resolution', RESOLUTION_BY_FAMILY[adapter.baseModel], `the native resolution of an ${adapter.baseModel} base, because the file states no resolution`)
        : assumedField('resolution', 512, 'Stable Diffusion 1.x\'s native 512 px, because the file states no resolution and the structure names no known base family');
  const bs = posInt(meta('ss_batch_size_per_device'));
  const batchSize = bs !== undefined ? stated(bs, 'metadata: ss_batch_size_per_device') : assumedField('batchSize', defaults.batchSize, defaultBecause('batch size'));
  const dirRepeats = [...new Set((kohya?.datasetDirs ?? []).map((d) => d.repeats))];
  const repeats = dirRepeats.length === 1 && dirRepeats[0] > 0 ? stated(dirRepeats[0], 'metadata: ss_dataset_dirs')
    : assumedField('repeats', defaults.repeats, dirRepeats.length > 1 ? `one repeat count, because the folders in ss_dataset_dirs differ (${dirRepeats.join(', ')})`
      : trainer === 'kohya' ? defaultBecause('repeat count') : `each image once per epoch (the ${trainer} trainer has no repeat count), because the file states none`);
  if (trainer !== 'kohya' && (repeats.value ?? 1) > 1) {
    warnings.push(`the evidence repeated each image ${repeats.value} times per epoch (kohya); the ${trainer} trainer has no repeats, so only the step count carries over`);
  }
  const mp = meta('ss_mixed_precision');
  const mixedPrecision = mp && ['no', 'fp16', 'bf16'].includes(mp) ? stated(mp, 'metadata: ss_mixed_precision') : assumedField('mixedPrecision', defaults.mixedPrecision, defaultBecause('precision'));
  const sd = kohya?.seed ?? posInt(meta('ss_seed'));
  const seed = sd !== undefined ? stated(sd, 'metadata: ss_seed') : assumedField('seed', 42, 'a fixed seed, because the file states none');
  const dir = kohya?.datasetDirs?.[0]?.dir;
  const tokens = dir?.replace(/^\d+_/, '').trim().split(/\s+/) ?? [];
  const instancePrompt = tokens.length >= 2 && /^[A-Za-z0-9]{1,32}$/.test(tokens[0])
    ? stated(`${tokens[0]} {subject}`, 'metadata: ss_dataset_dirs (its identifier word, with the run\'s subject)')
    : assumedField('instancePrompt', 'a photo of sks {subject}', 'DreamBooth\'s usual "a photo of sks <subject>", because the file states no prompt');

  const recipe: Recipe = {
    tool, family, method, baseModelFamily, baseModel, baseModelHash, rank, alpha, scaleRule, targetModules, trainTextEncoder,
    learningRate, maxTrainSteps, optimizer, lrScheduler, lrWarmupSteps, resolution, batchSize, repeats, mixedPrecision, seed, instancePrompt,
    ...(opt?.args.length ? { optimizerArgs: stated(opt.args, 'metadata: ss_optimizer (its arguments)') } : {}),
  };
  if (opt?.args.length && trainer !== 'kohya') {
    warnings.push(`the evidence's optimizer arguments (${opt.args.join(' ')}) are not passed: the ${trainer} trainer takes no optimizer arguments of that form`);
  }

  // The examiner's own values replace whatever was read or assumed.
  for (const [key, text] of Object.entries(options.set ?? {}) as [RecipeKey, string][]) {
    if (!Object.hasOwn(recipe, key) && key !== 'optimizerArgs') throw new AuditError('BAD_REQUEST', `--set ${key}: no such recipe field (fields: ${Object.keys(recipe).join(', ')})`, undefined, { reason: 'BAD_SET', field: key });
    if (['tool', 'family', 'method', 'baseModelFamily', 'scaleRule', 'baseModelHash'].includes(key)) {
      throw new AuditError('BAD_REQUEST', `--set ${key}: read off the evidence, not a training choice`, undefined, { reason: 'BAD_SET', field: key });
    }
    const field = (recipe[key] ?? { value: null, source: 'assumed: none' }) as RecipeField<unknown>;
    const value = parseSet(key, text, field);
    if (field.value !== null && JSON.stringify(field.value) !== JSON.stringify(value) && !field.source.startsWith('assumed')) {
      warnings.push(`${key}: the evidence states ${JSON.stringify(field.value)} (${field.source}); the examiner set ${JSON.stringify(value)}`);
    }
    (recipe as unknown as Record<string, RecipeField<unknown>>)[key] = { value, source: `examiner: --set ${key}` };
    reasons.delete(key);
  }

  checkTrainerCanFollow(recipe, trainer, warnings);
  const stepCount = recipe.maxTrainSteps.value;
  const warmup = recipe.lrWarmupSteps.value ?? 0;
  if (stepCount === null && warmup > 0) {
    warnings.push(`no step count: each run trains one epoch (a few steps at the smallest sizes), shorter than the ${warmup}-step warm-up, so the learning rate never reaches its value; set --set maxTrainSteps=<n> (and lrWarmupSteps) to what the evidence's maker likely used`);
  } else if (stepCount !== null && warmup >= stepCount) {
    warnings.push(`the warm-up (${warmup} steps) is as long as the run (${stepCount} steps): the learning rate never reaches its value`);
  }

  const assumed: Assumption[] = [...reasons].map(([field, reason]) => ({
    field, value: (recipe[field]?.value ?? null) as Assumption['value'], reason, affectsSpectra: SPECTRAL_FIELDS.has(field),
  }));
  // Loud ones first.
  assumed.sort((a, b) => Number(b.affectsSpectra) - Number(a.affectsSpectra));
  return { recipe, assumed, warnings };
}

/** Where the chosen trainer cannot reproduce the recipe: refused when it would train another kind of adapter, else a warning. */
function checkTrainerCanFollow(r: Recipe, trainer: TrainerKind, warnings: string[]): void {
  const refuse = (what: string) => new AuditError('BAD_REQUEST', `the ${trainer} trainer cannot follow this evidence: ${what}`, undefined, { reason: 'TRAINER_CANNOT_FOLLOW' });
  if (r.method.value !== 'lora') throw refuse(`its method is ${r.method.value}, and study plans train plain LoRA`);
  if (trainer === 'diffusers') {
    if (r.alpha.value !== r.rank.value) throw refuse(`train_dreambooth_lora.py fixes alpha = rank (${r.rank.value}) and the evidence has alpha ${r.alpha.value}; use --trainer kohya`);
    if (r.optimizer.value !== 'AdamW' && r.optimizer.value !== 'AdamW8bit') throw refuse(`train_dreambooth_lora.py trains with AdamW (or AdamW8bit) only and the evidence used ${r.optimizer.value}`);
    const fixed = ['add_k_proj', 'add_v_proj', 'to_k', 'to_out.0', 'to_q', 'to_v', 'k_proj', 'out_proj', 'q_proj', 'v_proj'];
    const extra = (r.targetModules.value ?? []).filter((m) => !fixed.includes(m));
    if (extra.length) warnings.push(`train_dreambooth_lora.py adapts only the attention projections; the evidence also adapts ${extra.join(', ')}`);
  }
  if (trainer === 'kohya') {
    const attnOnly = (r.targetModules.value ?? []).every((m) => /^(to_q|to_k|to_v|to_out\.0|q_proj|k_proj|v_proj|out_proj)$/.test(m));
    if (attnOnly) warnings.push("kohya's networks.lora adapts every linear layer of the transformer blocks (attention, feed-forward, proj_in/out); the evidence adapts the attention projections only, so the study's adapters carry more modules (compare by module)");
  }
  if (trainer === 'builtin') {
    if (r.optimizer.value !== 'Adam' && r.optimizer.value !== 'AdamW') warnings.push(`the built-in trainer uses Adam; the evidence used ${r.optimizer.value}`);
    if (r.lrScheduler.value !== 'constant') warnings.push(`the built-in trainer keeps the learning rate constant; the evidence used ${r.lrScheduler.value}`);
  }
}
