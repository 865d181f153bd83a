// study plan: the recipe read off the evidence reaches every run's arguments, the arguments are the
// real scripts' own (fixtures read at a pinned commit), the scripts are valid shell that quote hostile
// paths and really run each planned command once (resumably), and bad inputs are refused by name.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planStudy, checkSizes, slug } from '../../../main/studies/plan.ts';
import { LIMITS, seededOrder } from '../../../main/studies/images.ts';
import { shq } from '../../../main/studies/trainers.ts';
import { decodePng } from '../../../main/studies/png-decode.ts';
import { conceptImage, conceptNames } from '../../../main/generator/images.ts';
import { sha256File } from '../../../main/common/hashing.ts';
import { isAuditError } from '../../../main/errors.ts';
import { main } from '../../../main/cli/main.ts';
import type { Plan } from '../../../main/studies/types.ts';
import { argvProblems, datasetTomlProblems, DIFFUSERS, KOHYA } from './trainer-options.ts';

const KOHYA_EVIDENCE = 'assets/demo/evidence/kohya/copper_stripes-3img.safetensors';
const DIFFUSERS_EVIDENCE = 'assets/demo/evidence/diffusers/clay_ring-2img/pytorch_lora_weights.safetensors';
/** A folder name an attacker (or an unlucky examiner) might pick: spaces, both quotes, $, backticks, a glob. */
const HOSTILE = `it's a "study" $(touch PWNED) \`id\` *`;

let tmp: string;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'lora-audit-study-')); });
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The value after an option in argv. */
const valueOf = (argv: string[], opt: string) => { const i = argv.indexOf(opt); return i < 0 ? undefined : argv[i + 1]; };

/** A folder of subjects, each with `n` small distinct files named like images. */
function imagesFolder(name: string, subjects: Record<string, number>): string {
  const root = join(tmp, name);
  for (const [subject, n] of Object.entries(subjects)) {
    mkdirSync(join(root, subject), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(root, subject, `img ${i}.png`), `${subject} image ${i}`);
    writeFileSync(join(root, subject, 'notes.txt'), 'not an image');
  }
  return root;
}

async function expectRefusal(p: Promise<unknown>, code: string, reason: string | null, message: RegExp): Promise<void> {
  const e = await p.then(() => null, (x: unknown) => x);
  expect(isAuditError(e)).toBe(true);
  if (!isAuditError(e)) return;
  expect(e.code).toBe(code);
  if (reason) expect(e.details?.reason).toBe(reason);
  expect(e.message).toMatch(message);
}

describe('study plan, kohya, for the demo kohya evidence', () => {
  let plan: Plan;
  let bundle: string;
  beforeAll(async () => {
    ({ plan, bundleDir: bundle } = await planStudy({
      evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1, 2, 4, 8], subjects: 2, trainer: 'kohya',
      out: join(tmp, 'kohya-bundle'), now: new Date('2026-12-03T12:00:00Z'),
    }));
  });

  it('reads rank, alpha, learning rate and steps from the metadata, each with its source', () => {
    const r = plan.recipe;
    expect(r.rank).toEqual({ value: 4, source: 'metadata: ss_network_dim' });
    expect(r.alpha).toEqual({ value: 4, source: 'metadata: ss_network_alpha' });
    expect(r.learningRate).toEqual({ value: 0.003, source: 'metadata: ss_learning_rate' });
    expect(r.maxTrainSteps).toEqual({ value: 100, source: 'metadata: ss_max_train_steps' });
    expect(r.repeats).toEqual({ value: 10, source: 'metadata: ss_dataset_dirs' });
    expect(r.seed).toEqual({ value: 702014682, source: 'metadata: ss_seed' });
    expect(r.baseModel).toEqual({ value: 'lora-auditor/mini-sd-unet', source: 'metadata: ss_sd_model_name' });
    expect(r.targetModules.value).toEqual(['to_k', 'to_out.0', 'to_q', 'to_v']);
    expect(r.trainTextEncoder).toEqual({ value: false, source: 'structure: UNet modules only' });
    expect(plan.evidence.sha256).toBe('fe243a5493e70cbe645829c0b8a97765e924d6b8c9cc57e521a65d6ec6dddb53');
  });

  it('lists what the file does not state as assumptions, the spectral ones first and marked', () => {
    const fields = plan.assumed.map((a) => a.field);
    expect(fields).toContain('optimizer');
    expect(plan.recipe.optimizer).toEqual({ value: 'AdamW', source: "assumed: kohya-ss/sd-scripts train_network.py's default, because the file states no optimizer" });
    expect(plan.assumed.find((a) => a.field === 'optimizer')?.affectsSpectra).toBe(true);
    expect(fields).not.toContain('learningRate');
    expect(fields).not.toContain('maxTrainSteps');
    const firstQuiet = plan.assumed.findIndex((a) => !a.affectsSpectra);
    if (firstQuiet >= 0) expect(plan.assumed.slice(firstQuiet).every((a) => !a.affectsSpectra)).toBe(true);
    const readme = readFileSync(join(bundle, 'README.md'), 'utf8');
    expect(readme).toContain('## ⚠ Assumed, not stated by the evidence (these change the spectra)');
    expect(readme).toContain("**optimizer = AdamW** — kohya-ss/sd-scripts train_network.py's default, because the file states no optimizer");
  });

  it('says in its README that the base model every run loads is the evidence\'s own claim', () => {
    const readme = readFileSync(join(bundle, 'README.md'), 'utf8');
    expect(readme).toContain("## ⚠ The base model is the evidence's own claim\n\nEvery run loads `lora-auditor/mini-sd-unet` (`--pretrained_model_name_or_path`), as the evidence file names it (metadata: ss_sd_model_name).");
  });

  it('carries rank 4, alpha 4, learning rate 0.003 and 100 steps into every run\'s arguments', () => {
    expect(plan.runs).toHaveLength(8);
    for (const run of plan.runs) {
      expect(run.command[0]).toBe('train_network.py');
      const argv = run.command.slice(1);
      expect(valueOf(argv, '--network_dim')).toBe('4');
      expect(valueOf(argv, '--network_alpha')).toBe('4');
      expect(valueOf(argv, '--learning_rate')).toBe('0.003');
      expect(valueOf(argv, '--max_train_steps')).toBe('100');
      expect(valueOf(argv, '--network_module')).toBe('networks.lora');
      expect(valueOf(argv, '--seed')).toBe('702014682');
      expect(valueOf(argv, '--output_name')).toBe(run.runId);
      expect(valueOf(argv, '--training_comment')).toBe(`lora-audit study ${plan.studyId} run ${run.runId}`);
      expect(argv).toContain('--network_train_unet_only');
      expect(run.output).toBe(`runs/${run.runId}/output/${run.runId}.safetensors`);
    }
  });

  it('uses only options train_network.py defines (fixture read at a pinned sd-scripts commit), with values of their type', () => {
    expect(KOHYA.sources.map((s) => s.commit)).toContain('6edbe00547bac6c2efb2d6952eb910851662cdf2');
    for (const run of plan.runs) expect(argvProblems(run.command.slice(1), KOHYA)).toEqual([]);
    // and the checker does catch a bad one
    expect(argvProblems(['--network_rank', '4', '--max_train_steps', 'ten'], KOHYA)).toEqual([
      '--network_rank: not an option of train_network.py', '4: a value with no option before it', '--max_train_steps ten: not an int']);
  });

  it('passes optimizer arguments as --optimizer_args items, still within train_network.py\'s options', async () => {
    const { plan: p } = await planStudy({
      evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out: join(tmp, 'kohya-optargs'),
      set: { optimizer: 'AdamW8bit', optimizerArgs: 'weight_decay=0.01 betas=0.9,0.999' },
    });
    const argv = p.runs[0].command.slice(1);
    const at = argv.indexOf('--optimizer_args');
    expect(argv.slice(at, at + 3)).toEqual(['--optimizer_args', 'weight_decay=0.01', 'betas=0.9,0.999']);
    expect(valueOf(argv, '--optimizer_type')).toBe('AdamW8bit');
    expect(argvProblems(argv, KOHYA)).toEqual([]);
    expect(p.recipe.optimizerArgs).toEqual({ value: ['weight_decay=0.01', 'betas=0.9,0.999'], source: 'examiner: --set optimizerArgs' });
  });

  it('writes each run a dataset TOML the config sanitizer accepts, naming only that run\'s images', () => {
    for (const run of plan.runs) {
      const text = readFileSync(join(bundle, run.dir, 'dataset.toml'), 'utf8');
      expect(datasetTomlProblems(text, KOHYA)).toEqual([]);
      expect(text).toContain(`image_dir = "runs/${run.runId}/instance"`);
      expect(text).toContain('num_repeats = 10');
      expect(text).toContain(`class_tokens = "sks ${run.subject}"`);
      expect(readdirSync(join(bundle, run.dir, 'instance'))).toHaveLength(run.size);
    }
  });

  it('nests the image sets: a run of N images takes the first N of its subject, and every image is hashed', async () => {
    for (const subject of plan.subjects) {
      const runs = plan.runs.filter((r) => r.subject === subject.name);
      expect(runs.map((r) => r.size)).toEqual([1, 2, 4, 8]);
      const biggest = runs[runs.length - 1].images.map((i) => i.sha256);
      for (const r of runs) expect(r.images.map((i) => i.sha256)).toEqual(biggest.slice(0, r.size));
      for (const img of runs[runs.length - 1].images) {
        expect((await sha256File(join(bundle, img.path))).sha256).toBe(img.sha256);
        expect(img.generated?.subject).toBe(subject.name);
      }
    }
    expect(new Set(plan.runs.flatMap((r) => r.images.map((i) => i.sha256))).size).toBe(16);
  });

  it('renders the built-in subjects as PNGs of the generator\'s own images (to 8 bits)', () => {
    const img = plan.runs[plan.runs.length - 1].images[5];
    expect(img.generated).toEqual({ seed: 702014682, subject: 'wooden_square', index: 5 });
    const decoded = decodePng(readFileSync(join(bundle, img.path)), img.path, { width: 16, height: 16 });
    const truth = conceptImage(702014682, conceptNames(2)[1], 5);
    expect(decoded).toHaveLength(truth.length);
    for (let i = 0; i < truth.length; i++) expect(Math.abs(decoded[i] - truth[i])).toBeLessThanOrEqual(1 / 127.5 + 1e-6);
  });

  it('writes run-all.sh and slurm.sbatch that pass bash -n, with one array task per run', () => {
    for (const f of ['run-all.sh', 'slurm.sbatch', 'runs.sh']) {
      const r = spawnSync('bash', ['-n', join(bundle, f)], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    }
    const sbatch = readFileSync(join(bundle, 'slurm.sbatch'), 'utf8');
    expect(sbatch).toContain('#SBATCH --array=0-7\n');
    expect(sbatch).toContain('#SBATCH --gres=gpu:1\n');
    expect(readFileSync(join(bundle, 'plan.json'), 'utf8')).toBe(JSON.stringify(plan, null, 2) + '\n');
  });

  it('is deterministic: the same inputs give the same study id and image order', async () => {
    const again = await planStudy({ evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1, 2, 4, 8], subjects: 2, trainer: 'kohya', out: join(tmp, 'kohya-again'), now: new Date('2026-12-03T12:00:00Z') });
    expect(again.plan.studyId).toBe(plan.studyId);
    expect(again.plan.runs.map((r) => r.images.map((i) => i.sha256))).toEqual(plan.runs.map((r) => r.images.map((i) => i.sha256)));
    const other = await planStudy({ evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1, 2, 4, 8], subjects: 2, trainer: 'kohya', out: join(tmp, 'kohya-other'), seed: 1 });
    expect(other.plan.studyId).not.toBe(plan.studyId);
  });
});

describe('study plan, diffusers, for the demo diffusers evidence', () => {
  let plan: Plan;
  beforeAll(async () => {
    ({ plan } = await planStudy({
      evidence: DIFFUSERS_EVIDENCE, images: 'builtin', sizes: [1, 2, 4], subjects: 2, trainer: 'diffusers',
      out: join(tmp, 'diffusers-bundle'), baseModel: 'runwayml/stable-diffusion-v1-5',
    }));
  });

  it('takes rank and alpha from the structure and lists learning rate, steps and optimizer as assumptions', () => {
    expect(plan.recipe.rank).toEqual({ value: 4, source: 'structure: rank' });
    expect(plan.recipe.alpha).toEqual({ value: 4, source: 'structure: scale 1 (no alphas stored), so alpha = rank' });
    expect(plan.recipe.baseModel).toEqual({ value: 'runwayml/stable-diffusion-v1-5', source: 'examiner: --base-model' });
    const loud = Object.fromEntries(plan.assumed.filter((a) => a.affectsSpectra).map((a) => [a.field, a.value]));
    expect(loud).toMatchObject({ learningRate: 5e-4, maxTrainSteps: null, optimizer: 'AdamW', batchSize: 4, lrWarmupSteps: 500 });
    expect(plan.assumed.find((a) => a.field === 'maxTrainSteps')?.reason).toMatch(/one epoch: ceil\(images \/ batch\) steps, so it grows with the size/);
    expect(plan.warnings).toContainEqual(expect.stringMatching(/^no step count: each run trains one epoch .* shorter than the 500-step warm-up, so the learning rate never reaches its value/));
    expect(plan.assumed.find((a) => a.field === 'repeats')).toMatchObject({ value: 1, affectsSpectra: false, reason: 'each image once per epoch (the diffusers trainer has no repeat count), because the file states none' });
  });

  it('carries rank 4 and the assumed learning rate into every run, with only options train_dreambooth_lora.py defines', () => {
    expect(DIFFUSERS.sources[0]).toMatchObject({ repo: 'huggingface/diffusers', commit: '80628708190f02a67c5c8ee791b3881dfd8a122d' });
    expect(plan.runs).toHaveLength(6);
    for (const run of plan.runs) {
      expect(run.command[0]).toBe('examples/dreambooth/train_dreambooth_lora.py');
      const argv = run.command.slice(1);
      expect(argvProblems(argv, DIFFUSERS)).toEqual([]);
      expect(valueOf(argv, '--rank')).toBe('4');
      expect(valueOf(argv, '--learning_rate')).toBe('0.0005');
      expect(valueOf(argv, '--instance_data_dir')).toBe(`runs/${run.runId}/instance`);
      expect(valueOf(argv, '--instance_prompt')).toBe(`a photo of sks ${run.subject}`);
      expect(argv).not.toContain('--max_train_steps');
      expect(run.output).toBe(`runs/${run.runId}/output/pytorch_lora_weights.safetensors`);
    }
  });

  it('takes the examiner\'s --set over an assumption, and then no longer lists it', async () => {
    const { plan: p } = await planStudy({
      evidence: DIFFUSERS_EVIDENCE, images: 'builtin', sizes: [1], subjects: 1, trainer: 'diffusers', out: join(tmp, 'diffusers-set'),
      baseModel: 'sd15', set: { learningRate: '1e-4', maxTrainSteps: '500' },
    });
    expect(p.recipe.learningRate).toEqual({ value: 1e-4, source: 'examiner: --set learningRate' });
    expect(p.assumed.map((a) => a.field)).not.toContain('learningRate');
    expect(valueOf(p.runs[0].command, '--max_train_steps')).toBe('500');
    expect(valueOf(p.runs[0].command, '--learning_rate')).toBe('0.0001');
  });

  it('refuses without a base model when the evidence names none', async () => {
    await expectRefusal(planStudy({ evidence: DIFFUSERS_EVIDENCE, images: 'builtin', sizes: [1], trainer: 'diffusers', out: join(tmp, 'no-base') }),
      'BAD_REQUEST', 'NO_BASE_MODEL', /names no base model .*pass --base-model/);
    expect(existsSync(join(tmp, 'no-base'))).toBe(false);
  });
});

describe('study plan with a folder of images', () => {
  it('quotes every path: a hostile bundle and subject name survive bash, and run-all.sh runs each planned command once, resumably', async () => {
    const images = imagesFolder('hostile-images', { [HOSTILE]: 3, plain: 3 });
    const out = join(tmp, HOSTILE, 'bundle');
    const { plan, bundleDir } = await planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1, 3], trainer: 'kohya', out });
    expect(plan.subjects.map((s) => s.name).sort()).toEqual([HOSTILE, 'plain'].sort());
    const hostileRun = plan.runs.find((r) => r.subject === HOSTILE && r.size === 3);
    expect(hostileRun?.runId).toBe(`${slug(HOSTILE)}-n3`);
    for (const f of ['run-all.sh', 'slurm.sbatch', 'runs.sh']) expect(spawnSync('bash', ['-n', join(bundleDir, f)]).status).toBe(0);

    // A stand-in trainer: `accelerate` records its argv (one line per argument) and writes the output file.
    const bin = join(tmp, 'fake-bin');
    const trainerDir = join(tmp, 'fake sd-scripts');
    mkdirSync(bin, { recursive: true });
    mkdirSync(trainerDir, { recursive: true });
    writeFileSync(join(trainerDir, 'train_network.py'), '# stand-in\n');
    writeFileSync(join(bin, 'accelerate'), [
      '#!/usr/bin/env bash',
      'shift  # "launch"',
      'dir=""; name=""; prev=""',
      'for a in "$@"; do case "$prev" in --output_dir) dir="$a" ;; --output_name) name="$a" ;; esac; prev="$a"; done',
      'printf "%s\\n" "$@" > "$dir/argv.txt"',
      'printf x > "$dir/$name.safetensors"',
      `echo call >> ${shq(join(tmp, 'calls.txt'))}`,
    ].join('\n'));
    chmodSync(join(bin, 'accelerate'), 0o755);
    const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, SD_SCRIPTS: trainerDir };
    const first = spawnSync('bash', [join(bundleDir, 'run-all.sh')], { env, encoding: 'utf8', cwd: tmp });
    expect(first.stderr).toBe('');
    expect(first.status).toBe(0);
    expect(readFileSync(join(tmp, 'calls.txt'), 'utf8').trim().split('\n')).toHaveLength(4);
    expect(existsSync(join(tmp, 'PWNED'))).toBe(false);
    expect(existsSync(join(bundleDir, 'PWNED'))).toBe(false);
    for (const run of plan.runs) {
      const argv = readFileSync(join(bundleDir, run.dir, 'output', 'argv.txt'), 'utf8').split('\n').slice(0, -1);
      expect(argv).toEqual([join(trainerDir, 'train_network.py'), ...run.command.slice(1)]);
      expect(existsSync(join(bundleDir, run.output))).toBe(true);
    }
    expect(readFileSync(join(bundleDir, plan.runs.find((r) => r.subject === HOSTILE)!.dir, 'dataset.toml'), 'utf8')).toContain(`class_tokens = ${JSON.stringify(`sks ${HOSTILE}`)}`);

    // Run again: every output exists, nothing is trained.
    const second = spawnSync('bash', [join(bundleDir, 'run-all.sh')], { env, encoding: 'utf8' });
    expect(second.status).toBe(0);
    expect(second.stdout).toMatch(/4 of 4 runs have their output/);
    expect(readFileSync(join(tmp, 'calls.txt'), 'utf8').trim().split('\n')).toHaveLength(4);

    // One SLURM array task runs its own run only, and skips it when its output exists.
    rmSync(join(bundleDir, plan.runs[1].output));
    const task = spawnSync('bash', [join(bundleDir, 'slurm.sbatch')], { env: { ...env, SLURM_SUBMIT_DIR: bundleDir, SLURM_ARRAY_TASK_ID: '1' }, encoding: 'utf8', cwd: tmp });
    expect(task.status).toBe(0);
    expect(task.stdout).toContain(`${plan.runs[1].runId}: training`);
    expect(existsSync(join(bundleDir, plan.runs[1].output))).toBe(true);
    const skip = spawnSync('bash', [join(bundleDir, 'slurm.sbatch')], { env: { ...env, SLURM_SUBMIT_DIR: bundleDir, SLURM_ARRAY_TASK_ID: '1' }, encoding: 'utf8' });
    expect(skip.stdout).toContain('done already');
    expect(readFileSync(join(tmp, 'calls.txt'), 'utf8').trim().split('\n')).toHaveLength(5);
  });

  it('orders each subject\'s images by the seed, nested, and ignores files that are not images', async () => {
    const images = imagesFolder('ordered', { alpha: 6 });
    const { plan } = await planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [2, 6], trainer: 'kohya', out: join(tmp, 'ordered-bundle'), seed: 5 });
    const names = ['img 0.png', 'img 1.png', 'img 2.png', 'img 3.png', 'img 4.png', 'img 5.png'];
    expect(plan.subjects[0].order).toEqual(seededOrder(names, 5, 'alpha'));
    expect(plan.runs[0].images.map((i) => i.source)).toEqual(plan.subjects[0].order.slice(0, 2));
    for (const img of plan.runs[1].images) {
      expect(img.sha256).toBe((await sha256File(join(images, 'alpha', img.source))).sha256);
    }
  });

  it('refuses too few images for a size, naming the subject', async () => {
    const images = imagesFolder('few', { enough: 4, scarce: 2 });
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1, 4], trainer: 'kohya', out: join(tmp, 'few-bundle') }),
      'BAD_REQUEST', 'TOO_FEW_IMAGES', /too few images for size 4: subject "scarce" has 2 \(each subject needs at least 4\)/);
    expect(existsSync(join(tmp, 'few-bundle'))).toBe(false);
  });

  it('refuses a symlink out of the images folder, and a name with control characters', async () => {
    const images = imagesFolder('links', { a: 2 });
    const outside = imagesFolder('outside', { secret: 2 });
    symlinkSync(join(outside, 'secret'), join(images, 'b'));
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1], trainer: 'kohya', out: join(tmp, 'links-bundle') }),
      'BAD_REQUEST', 'UNSAFE_PATH', /is a symlink to .*outside the images folder/);
    rmSync(join(images, 'b'));
    symlinkSync(join(outside, 'secret', 'img 0.png'), join(images, 'a', 'img 9.png'));
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1], trainer: 'kohya', out: join(tmp, 'links-bundle') }),
      'BAD_REQUEST', 'UNSAFE_PATH', /img 9\.png: is a symlink to .*outside the images folder/);
    rmSync(join(images, 'a', 'img 9.png'));
    // a symlink that stays inside is followed
    symlinkSync(join(images, 'a'), join(images, 'c'));
    const { plan } = await planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1], trainer: 'kohya', out: join(tmp, 'links-bundle') });
    expect(plan.subjects.map((s) => s.name)).toEqual(['a', 'c']);

    const ctl = imagesFolder('control', { ok: 1 });
    mkdirSync(join(ctl, 'bad\nname'));
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images: ctl, sizes: [1], trainer: 'kohya', out: join(tmp, 'ctl-bundle') }),
      'BAD_REQUEST', 'UNSAFE_PATH', /has control characters/);
    rmSync(join(ctl, 'bad\nname'), { recursive: true });
    writeFileSync(join(ctl, 'ok', 'cat\u202Egnp.exe.png'), 'x');   // a right-to-left override disguising the name
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images: ctl, sizes: [1], trainer: 'kohya', out: join(tmp, 'ctl-bundle') }),
      'BAD_REQUEST', 'UNSAFE_PATH', /has control characters/);
  });

  it('bounds its inputs: sizes, subjects and image bytes', async () => {
    expect(() => checkSizes(Array.from({ length: 33 }, (_, i) => i + 1))).toThrow(/at most 32/);
    expect(() => checkSizes([0])).toThrow(/not a whole number of images from 1/);
    expect(() => checkSizes([2, 2])).toThrow(/names a size twice/);
    expect(checkSizes([8, 1, 4])).toEqual([1, 4, 8]);
    const images = imagesFolder('bytes', { a: 2 });
    const saved = LIMITS.imageBytes;
    LIMITS.imageBytes = 5;
    try {
      await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1], trainer: 'kohya', out: join(tmp, 'bytes-bundle') }),
        'LIMIT_EXCEEDED', null, /a study takes images of at most 5/);
    } finally {
      LIMITS.imageBytes = saved;
    }
    const savedTotal = LIMITS.totalBytes;
    LIMITS.totalBytes = 20;   // three images of 9 bytes each ('a image 0' …) for size 3
    try {
      await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images: imagesFolder('bytes-total', { a: 3 }), sizes: [3], trainer: 'kohya', out: join(tmp, 'bytes-bundle') }),
        'LIMIT_EXCEEDED', null, /would copy 27 bytes of images into its bundle; a study takes at most 20/);
    } finally {
      LIMITS.totalBytes = savedTotal;
    }
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images, sizes: [1], subjects: 3, trainer: 'kohya', out: join(tmp, 'bytes-bundle') }),
      'BAD_REQUEST', 'TOO_FEW_SUBJECTS', /--subjects 3: only 1 subjects are there \(a\)/);
  });

  it('never overwrites a non-empty bundle without --force, and leaves no partial folder behind', async () => {
    const out = join(tmp, 'existing');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'mine');
    await expectRefusal(planStudy({ evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out }),
      'ALREADY_EXISTS', null, /is not empty: a bundle is never overwritten without --force/);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('mine');
    const { plan } = await planStudy({ evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out, force: true });
    expect(existsSync(join(out, 'keep.txt'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'plan.json'), 'utf8')).studyId).toBe(plan.studyId);
    expect(readdirSync(tmp).filter((n) => n.includes('.partial-'))).toEqual([]);
  });
});

describe('study plan, builtin trainer, and the CLI', () => {
  it('writes each run the built-in trainer\'s recipe file and a CPU-only SLURM array', async () => {
    const { plan, bundleDir } = await planStudy({ evidence: KOHYA_EVIDENCE, images: 'builtin', sizes: [1, 3], subjects: 2, trainer: 'builtin', out: join(tmp, 'builtin-bundle') });
    expect(plan.recipe.baseModel).toEqual({ value: 'lora-auditor/mini-sd-unet', source: 'metadata: ss_sd_model_name' });
    for (const run of plan.runs) {
      expect(run.command).toEqual(['lora-audit', 'study', 'run', '.', '--only', run.runId]);
      const train = JSON.parse(readFileSync(join(bundleDir, run.dir, 'train.json'), 'utf8'));
      expect(train).toMatchObject({ runId: run.runId, rank: 4, alpha: 4, learningRate: 0.003, steps: 100, images: `runs/${run.runId}/instance`, output: run.output });
    }
    const sbatch = readFileSync(join(bundleDir, 'slurm.sbatch'), 'utf8');
    expect(sbatch).toContain('#SBATCH --array=0-3\n');
    expect(sbatch).not.toContain('--gres');
  });

  it('lora-audit study plan --json prints the plan and the bundle; a missing option is a usage error', async () => {
    let out = '';
    let err = '';
    const io = [{ write: (s: string) => { out += s; } }, { write: (s: string) => { err += s; } }] as const;
    const bundle = join(tmp, 'cli-bundle');
    const code = await main(['study', 'plan', KOHYA_EVIDENCE, '--images', 'builtin', '--sizes', '1,2', '--subjects', '1', '--trainer', 'kohya', '--out', bundle, '--json'], ...io);
    expect(err).toBe('');
    expect(code).toBe(0);
    const data = JSON.parse(out) as { bundle: string; plan: Plan };
    expect(data.bundle).toBe(bundle);
    expect(data.plan.runs.map((r) => r.runId)).toEqual(['plushie_disc-n1', 'plushie_disc-n2']);
    out = '';
    expect(await main(['study', 'plan', KOHYA_EVIDENCE, '--images', 'builtin', '--sizes', '1', '--trainer', 'nope', '--out', join(tmp, 'x'), '--json'], ...io)).toBe(2);
    expect(JSON.parse(out).error.message).toBe('--trainer is one of kohya, diffusers, builtin');
  });
});
