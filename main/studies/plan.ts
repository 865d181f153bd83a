// `study plan`: from one evidence file and a set of subjects, a self-contained bundle that fine-tunes
// reference adapters with the evidence's own recipe on known numbers of images — plan.json, each run's
// trainer input, run-all.sh (sequential, resumable), slurm.sbatch (one run per array task) and a README
// for the examiner. The bundle is built in a temporary folder beside its destination and renamed into
// place, so a half-written bundle never carries the final name.
import { chmod, copyFile, link, mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { AuditError } from '../errors.ts';
import { canonicalJson, sha256File, sha256Hex } from '../common/hashing.ts';
import { openAdapter } from '../intake/open.ts';
import { appVersion } from '../cases/version.ts';
import { deriveRecipe, type RecipeOptions } from './recipe.ts';
import { BUILTIN_DEFAULT_SUBJECTS, builtinSubjects, folderSubjects, LIMITS, type Subject } from './images.ts';
import { checkSupported, duration, runAllSh, runInput, runSeconds, runsSh, slurmSbatch, TIME_ASSUMPTIONS, TRAINERS } from './trainers.ts';
import { PLAN_FORMAT, PLAN_VERSION, type Plan, type PlanImage, type PlanRun, type RecipeKey, type TrainerKind } from './types.ts';
import { makeFolders } from '../common/fs.ts';
import { escapeUnprintable } from '../common/text.ts';

export interface PlanOptions {
  /** The evidence adapter (a file, or a folder holding exactly one adapter). */
  evidence: string;
  /** A PEFT adapter_config.json, when it does not lie beside the evidence. */
  configPath?: string;
  /** A folder of sub-folders (one subject each), or 'builtin'. */
  images: string;
  sizes: number[];
  /** Take the first N subjects (name order); all by default (10 for builtin). */
  subjects?: number;
  trainer: TrainerKind;
  /** The bundle folder to write. */
  out: string;
  /** Replace an existing non-empty bundle folder. */
  force?: boolean;
  baseModel?: string;
  set?: Partial<Record<RecipeKey, string>>;
  /** The study seed (image orders, run seeds); the evidence's ss_seed, else 42, by default. */
  seed?: number;
  signal?: AbortSignal;
  onProgress?(line: string): void;
  /** For tests: the creation time written into the plan. */
  now?: Date;
}

export const PLAN_FILE = 'plan.json';

/** Sizes: 1–32 distinct whole numbers, each 1–10,000; returned ascending. */
export function checkSizes(sizes: number[]): number[] {
  if (sizes.length === 0) throw new AuditError('BAD_REQUEST', 'name at least one size (--sizes 1,2,4,8)', undefined, { reason: 'BAD_SIZES' });
  if (sizes.length > LIMITS.sizes) throw new AuditError('LIMIT_EXCEEDED', `--sizes names ${sizes.length} sizes; a study takes at most ${LIMITS.sizes}`);
  for (const s of sizes) {
    if (!Number.isInteger(s) || s < 1 || s > LIMITS.maxSize) {
      throw new AuditError('BAD_REQUEST', `size ${s} is not a whole number of images from 1 to ${LIMITS.maxSize}`, undefined, { reason: 'BAD_SIZES' });
    }
  }
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  if (sorted.length !== sizes.length) throw new AuditError('BAD_REQUEST', '--sizes names a size twice', undefined, { reason: 'BAD_SIZES' });
  return sorted;
}

/** A folder-safe form of a subject name for run ids and bundle paths (the plan keeps the name itself). */
export function slug(name: string): string {
  const s = name.normalize('NFKD').replace(/[^A-Za-z0-9_.-]+/g, '_').replace(/^[._-]+/, '').replace(/_+/g, '_').slice(0, 48).replace(/[._-]+$/, '');
  return s || 'subject';
}

function uniqueSlugs(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((name) => {
    const base = slug(name);
    let s = base;
    for (let k = 2; used.has(s.toLowerCase()); k++) s = `${base}-${k}`;
    used.add(s.toLowerCase());
    return s;
  });
}

async function isNonEmptyDir(path: string): Promise<boolean | null> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (!st) return null;
  if (!st.isDirectory()) return true;
  return (await readdir(path)).length > 0;
}

export async function planStudy(options: PlanOptions): Promise<{ plan: Plan; bundleDir: string }> {
  const progress = options.onProgress ?? (() => {});
  const sizes = checkSizes(options.sizes);
  const maxSize = sizes[sizes.length - 1];
  if (options.subjects !== undefined && (!Number.isInteger(options.subjects) || options.subjects < 1 || options.subjects > LIMITS.subjects)) {
    throw new AuditError('BAD_REQUEST', `--subjects must be a whole number from 1 to ${LIMITS.subjects}`, undefined, { reason: 'BAD_SUBJECTS' });
  }
  const bundleDir = resolve(options.out);
  if (!options.force && await isNonEmptyDir(bundleDir)) {
    throw new AuditError('ALREADY_EXISTS', 'is not empty: a bundle is never overwritten without --force', bundleDir);
  }

  // The evidence: opened once by intake, its recipe read off what intake parsed.
  const adapter = await openAdapter(options.evidence, options.configPath ? { configPath: options.configPath } : {});
  let derived;
  try {
    const recipeOptions: RecipeOptions = { trainer: options.trainer, ...(options.baseModel !== undefined ? { baseModel: options.baseModel } : {}), ...(options.set ? { set: options.set } : {}) };
    derived = deriveRecipe(adapter, recipeOptions);
  } finally {
    await adapter.source.close();
  }
  const { recipe, assumed, warnings } = derived;
  checkSupported(recipe, options.trainer);
  const seed = options.seed ?? recipe.seed.value ?? 42;

  // Subjects and their seeded image orders.
  let subjects: Subject[];
  if (options.images === 'builtin') {
    const count = options.subjects ?? BUILTIN_DEFAULT_SUBJECTS;
    if (count > 128) throw new AuditError('LIMIT_EXCEEDED', `the built-in generator names at most 128 subjects; asked for ${count}`);
    subjects = builtinSubjects(seed, count, maxSize);
  } else {
    subjects = await folderSubjects(resolve(options.images), seed, options.subjects);
  }
  const short = subjects.filter((s) => s.images.length < maxSize);
  if (short.length) {
    const list = short.map((s) => `"${s.name}" has ${s.images.length}`).join(', ');
    throw new AuditError('BAD_REQUEST', `too few images for size ${maxSize}: subject ${list} (each subject needs at least ${maxSize})`,
      options.images === 'builtin' ? undefined : resolve(options.images),
      { reason: 'TOO_FEW_IMAGES', subjects: short.map((s) => ({ subject: s.name, have: s.images.length, need: maxSize })) });
  }
  const bytes = subjects.reduce((sum, s) => sum + s.images.slice(0, maxSize).reduce((a, i) => a + (i.bytes ?? i.png?.length ?? 0), 0), 0);
  if (bytes > LIMITS.totalBytes) {
    throw new AuditError('LIMIT_EXCEEDED', `the study would copy ${bytes} bytes of images into its bundle; a study takes at most ${LIMITS.totalBytes}`);
  }
  const runCount = subjects.length * sizes.length;
  if (runCount > LIMITS.runs) throw new AuditError('LIMIT_EXCEEDED', `${subjects.length} subjects × ${sizes.length} sizes = ${runCount} runs; a study takes at most ${LIMITS.runs}`);

  // Build the bundle in a temporary folder beside its destination.
  const parent = dirname(bundleDir);
  await makeFolders(parent);
  const tmp = await mkdtemp(join(parent, `.${basename(bundleDir).slice(0, 60)}.partial-`));
  try {
    await chmod(tmp, 0o755);   // mkdtemp makes it private; the bundle is meant to be copied and shared
    const slugs = uniqueSlugs(subjects.map((s) => s.name));
    const hashed: PlanImage[][] = [];
    for (const [si, subject] of subjects.entries()) {
      const dir = `images/${slugs[si]}`;
      await mkdir(join(tmp, dir), { recursive: true });
      const list: PlanImage[] = [];
      for (let i = 0; i < maxSize; i++) {
        if (options.signal?.aborted) throw new AuditError('CANCELLED', 'planning was cancelled');
        const img = subject.images[i];
        const ext = img.png ? '.png' : extname(img.name).toLowerCase();
        const path = `${dir}/${String(i + 1).padStart(4, '0')}${ext}`;
        if (img.png) await writeFile(join(tmp, path), img.png, { flag: 'wx' });
        else await copyFile(img.file as string, join(tmp, path));
        // The hash is of the bundle's copy: the bytes the runs train on.
        const { sha256 } = await sha256File(join(tmp, path), options.signal ? { signal: options.signal } : {});
        list.push({ path, sha256, source: img.name, ...(img.generated ? { generated: img.generated } : {}) });
      }
      hashed.push(list);
      progress(`subject ${subject.name}: ${maxSize} image(s) hashed`);
    }

    const studyId = `study-${sha256Hex(canonicalJson({
      evidence: adapter.identity.sha256, trainer: options.trainer, sizes, seed,
      recipe: Object.fromEntries(Object.entries(recipe).map(([k, f]) => [k, f.value])),
      subjects: subjects.map((s, i) => ({ name: s.name, images: hashed[i].map((h) => h.sha256) })),
    })).slice(0, 16)}`;

    const spec = TRAINERS[options.trainer];
    const runs: PlanRun[] = [];
    for (const [si, subject] of subjects.entries()) {
      for (const size of sizes) {
        const runId = `${slugs[si]}-n${size}`;
        const dir = `runs/${runId}`;
        const instanceDir = `${dir}/instance`;
        const outputDir = `${dir}/output`;
        await mkdir(join(tmp, instanceDir), { recursive: true });
        await mkdir(join(tmp, outputDir), { recursive: true });
        const images: PlanImage[] = [];
        for (const img of hashed[si].slice(0, size)) {
          const path = `${instanceDir}/${basename(img.path)}`;
          // A hard link (same bytes, no copy); a copy where the file system has none.
          await link(join(tmp, img.path), join(tmp, path)).catch(() => copyFile(join(tmp, img.path), join(tmp, path)));
          images.push({ ...img, path });
        }
        const run = { studyId, runId, subject: subject.name, size, seed, dir, instanceDir, outputDir };
        const input = runInput(options.trainer, recipe, run);
        for (const [file, text] of Object.entries(input.files)) await writeFile(join(tmp, file), text, { flag: 'wx' });
        runs.push({ runId, subject: subject.name, size, seed, images, output: `${outputDir}/${spec.outputFile(runId)}`, dir, command: input.command });
      }
    }

    const files = ['plan.json', 'README.md', 'run-all.sh', 'slurm.sbatch', 'runs.sh', 'logs/'];
    const plan: Plan = {
      format: PLAN_FORMAT, version: PLAN_VERSION, studyId, createdAt: (options.now ?? new Date()).toISOString(), toolVersion: appVersion(),
      trainer: options.trainer,
      evidence: { file: adapter.identity.file, sha256: adapter.identity.sha256, size: adapter.identity.size, family: adapter.family },
      recipe, assumed, warnings, sizes, seed,
      images: options.images === 'builtin' ? 'builtin' : resolve(options.images),
      subjects: subjects.map((s, i) => ({ name: s.name, order: hashed[i].map((h) => h.source) })),
      runs, files,
    };

    const seconds = runs.map((r) => runSeconds(options.trainer, recipe, r.size));
    await mkdir(join(tmp, 'logs'));
    await writeFile(join(tmp, 'runs.sh'), runsSh(options.trainer, studyId, runs), { flag: 'wx' });
    await writeFile(join(tmp, 'run-all.sh'), runAllSh(studyId), { flag: 'wx', mode: 0o755 });
    await writeFile(join(tmp, 'slurm.sbatch'), slurmSbatch(studyId, runs.length, Math.max(...seconds), options.trainer), { flag: 'wx', mode: 0o755 });
    await chmod(join(tmp, 'run-all.sh'), 0o755);
    await chmod(join(tmp, 'slurm.sbatch'), 0o755);
    await writeFile(join(tmp, 'README.md'), readme(plan, seconds), { flag: 'wx' });
    await writeFile(join(tmp, PLAN_FILE), JSON.stringify(plan, null, 2) + '\n', { flag: 'wx' });

    // Into place: an existing (empty, or --force) folder is moved aside first, then removed.
    const existing = await isNonEmptyDir(bundleDir);
    if (existing !== null) {
      if (existing && !options.force) throw new AuditError('ALREADY_EXISTS', 'is not empty: a bundle is never overwritten without --force', bundleDir);
      const aside = `${tmp}.old`;
      await rename(bundleDir, aside);
      await rename(tmp, bundleDir);
      await rm(aside, { recursive: true, force: true });
    } else {
      await rename(tmp, bundleDir);
    }
    progress(`wrote ${runs.length} runs to ${bundleDir}`);
    return { plan, bundleDir };
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

// --- README ----------------------------------------------------------------------------------------

/** Untrusted text (metadata strings, names) in a Markdown table cell or code span, with no unprintable
 *  character as it is (a terminal escape in metadata would act on `cat README.md`, a direction override
 *  would reorder what it shows). */
const cell = (v: unknown) => escapeUnprintable((v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v))
  .replace(/[|`\\]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' '));

export function readme(plan: Plan, seconds: number[]): string {
  const spec = TRAINERS[plan.trainer];
  const total = seconds.reduce((a, b) => a + b, 0);
  const longest = Math.max(...seconds);
  const steps = plan.recipe.maxTrainSteps.value;
  const loud = plan.assumed.filter((a) => a.affectsSpectra);
  const quiet = plan.assumed.filter((a) => !a.affectsSpectra);
  const first = plan.runs[0];
  const lines = [
    `# Reference study ${plan.studyId}`,
    '',
    `Written by lora-audit ${plan.toolVersion} (\`study plan\`) on ${plan.createdAt}. It fine-tunes ${plan.runs.length} reference adapters`,
    `(${plan.subjects.length} subject(s) × sizes ${plan.sizes.join(', ')}) with the recipe of the evidence`,
    `\`${cell(basename(plan.evidence.file))}\` (SHA-256 ${plan.evidence.sha256}), using the **${plan.trainer}** trainer.`,
    'Bring the outputs back with `lora-audit study import <this folder> --name <set>`; the import checks every',
    'output against this plan (`plan.json`), so do not edit the files here.',
    '',
  ];
  if (loud.length) {
    lines.push('## ⚠ Assumed, not stated by the evidence (these change the spectra)', '',
      ...loud.map((a) => `- **${a.field} = ${cell(a.value)}** — ${cell(a.reason)}`), '',
      'A reference set built on an assumption answers only for adapters trained that way; the report shows these',
      'assumptions beside every estimate made against it. Correct one with `--set <field>=<value>` and plan again.', '');
  }
  const base = plan.recipe.baseModel;
  if (plan.trainer !== 'builtin' && !base.source.startsWith('examiner:')) {
    lines.push('## ⚠ The base model is the evidence\'s own claim', '',
      `Every run loads \`${cell(base.value)}\` (\`--pretrained_model_name_or_path\`), as the evidence file names it (${cell(base.source)}).`,
      'The file\'s maker wrote that name: the trainer will fetch or open whatever it resolves to. Check that it names a',
      'checkpoint you trust (a local `.safetensors` is safest), or plan again with `--base-model <checkpoint>`.', '');
  }
  const warned = plan.warnings ?? [];
  if (warned.length) lines.push('## Where the trainer differs from the evidence', '', ...warned.map((w) => `- ${cell(w)}`), '');
  lines.push('## The recipe', '', '| field | value | source |', '|---|---|---|',
    ...Object.entries(plan.recipe).map(([k, f]) => `| ${k} | ${cell(f.value)} | ${cell(f.source)} |`), '');
  if (quiet.length) lines.push('Also assumed (not expected to change the spectra): ' + quiet.map((a) => `${a.field} = ${cell(a.value)}`).join('; ') + '.', '');
  lines.push('## Install the trainer', '', '```sh', ...spec.install, '```', '',
    '## Run', '',
    'On one machine (sequential; run it again after a stop: runs whose output exists are skipped):', '',
    '```sh', 'bash run-all.sh', '```', '',
    'On a SLURM cluster (one run per array task; copy this folder to the cluster first):', '',
    '```sh', 'cd <this folder> && sbatch slurm.sbatch          # or: sbatch --array=0-' + (plan.runs.length - 1) + '%8 slurm.sbatch (8 at a time)', '```', '',
    `Each run trains on its own folder of images (\`runs/<run>/instance/\`, the first N of its subject in the`,
    'plan\'s seeded order, so a smaller set is always part of a larger one) and writes its adapter to',
    `\`runs/<run>/output/\` — for example \`${cell(first.output)}\`. Logs go to \`logs/\`. The exact command of every`,
    'run is in `runs.sh` and `plan.json`.', '',
    '## How long', '',
    `${plan.runs.length} runs × ${steps ?? 'one epoch of'} steps${plan.recipe.batchSize.value ? ` at batch ${plan.recipe.batchSize.value}` : ''}. Estimated ${duration(total)} one after another`,
    `(longest run ${duration(longest)}); on a cluster with a GPU per task, about ${duration(longest)} if every task runs at once.`,
    plan.trainer === 'builtin'
      ? `Assumes ${TIME_ASSUMPTIONS.builtinSecondsPerImageStep} s per image-step on CPU (docs/BENCHMARKS.md) plus ${TIME_ASSUMPTIONS.builtinOverheadSeconds} s per run.`
      : `Assumes ${TIME_ASSUMPTIONS.gpuSecondsPerStep512} s per step at 512 px and batch 1 on one recent GPU (scaled by pixels × batch) plus ${TIME_ASSUMPTIONS.gpuOverheadSeconds} s per run to load the model; see docs/STUDIES.md in LoRA Auditor for the sources. Your GPU may be several times faster or slower.`,
    '',
    '## Images', '',
    ...plan.subjects.map((s) => `- ${cell(s.name)}: ${Math.max(...plan.sizes)} image(s), SHA-256 of each in plan.json`),
    '',
  );
  return lines.join('\n');
}
