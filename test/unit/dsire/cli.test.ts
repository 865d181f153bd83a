// End to end through the command line: a labelled folder of small diffusers-format adapters (seeded
// A ~ N(0, 1/r²), B shrinking with the dataset size, as DSiRe found) imported as a reference set with
// `reference import`, held-out files analysed (a kohya file's stated image count cross-checked, a
// rank-8 file refused), the evaluation protocol run, and a missing set named in the error.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeStandalone, type StandaloneFamily } from '../../../main/generator/adapters.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { rng } from './synthetic.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const node = join(repoRoot, 'node_modules/.bin/node');
const cli = join(repoRoot, 'bin/lora-audit.mjs');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(node, [cli, ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const SIZES = [1, 3, 6];
const LAYOUT = [320, 640, 1280].flatMap((w, b) => ['attn1.to_q', 'attn2.to_k'].map((p) => ({
  id: `unet.down_blocks.${b}.attentions.0.transformer_blocks.0.${p}`, inFeatures: p === 'attn2.to_k' ? 768 : w, outFeatures: w,
}))).map((m) => ({ ...m, inFeatures: m.inFeatures / 16, outFeatures: m.outFeatures / 16 }));

function weights(name: number, size: number, rank: number): ModuleWeights[] {
  const next = rng(1000 * name + size + 17 * rank);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const nameScale = Math.exp(0.1 * Math.sin(name * 2.3));
  return LAYOUT.map((m) => {
    const a = Float32Array.from({ length: rank * m.inFeatures }, () => gauss() / rank);
    const b = Float32Array.from({ length: m.outFeatures * rank }, () => gauss() * 0.05 * nameScale * size ** -0.5);
    return { id: m.id, rank, inFeatures: m.inFeatures, outFeatures: m.outFeatures, scale: 1, a, b };
  });
}

interface Written { file: string; family: StandaloneFamily; size: number; rank: number }

describe('lora-audit analyze / evaluate', () => {
  let dir: string;
  let db: string;
  const evidence: Written[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lora-audit-dsire-'));
    db = join(dir, 'cases.sqlite');
    const refDir = join(dir, 'reference');
    mkdirSync(refDir);
    const labels = ['file,name,size'];
    for (let name = 0; name < 5; name++) {
      for (const size of SIZES) {
        const facts = { name: `set${name}`, size, rank: 4, steps: 10, learningRate: 1e-3, seed: name, baseModel: 'sd1' };
        // The labelled folder wants the files themselves in it, not one folder per adapter.
        const [w] = writeStandalone(join(dir, 'written'), `set${name}-${size}`, 'diffusers', weights(name, size, 4), facts);
        renameSync(join(dir, 'written', w.file), join(refDir, `set${name}-${size}.safetensors`));
        labels.push(`set${name}-${size}.safetensors,set${name},${size}`);
      }
    }
    writeFileSync(join(refDir, 'labels.csv'), labels.join('\n') + '\n');
    const plan: [StandaloneFamily, number, number][] = [['diffusers', 3, 4], ['kohya', 1, 4], ['diffusers', 6, 8]];
    for (const [family, size, rank] of plan) {
      const facts = { name: 'held', size, rank, steps: 10, learningRate: 1e-3, seed: 9, baseModel: 'sd1' };
      const [w] = writeStandalone(join(dir, 'evidence'), `${family}-${size}-r${rank}`, family, weights(9, size, rank), facts);
      evidence.push({ file: join(dir, 'evidence', w.file), family, size, rank });
    }
    const imported = await run(['reference', 'import', refDir, '--name', 'mini', '--db', db, '--backend', 'cpu', '--json']);
    expect(imported.code, imported.stderr + imported.stdout).toBe(0);
  }, 120_000);

  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('analyses each evidence file: estimate with interval, or reasons without a number', async () => {
    const r = await run(['analyze', ...evidence.map((e) => e.file), '--reference', 'mini', '--db', db, '--backend', 'cpu', '--json']);
    const out = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(out).toHaveLength(3);
    // Two files are refused, so the command reports a failure.
    expect(r.code).toBe(1);
    for (const [i, entry] of out.entries()) {
      for (const key of ['file', 'sha256', 'applicable', 'reasons', 'estimate', 'votes', 'interval', 'nearest', 'warnings', 'mode', 'perModule', 'method']) {
        expect(entry, key).toHaveProperty(key);
      }
      expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
      const e = evidence[i];
      if (e.family === 'kohya') {
        // Same factors in kohya's layout: a kohya file is taken to come from sd-scripts, another tool
        // than the diffusers-made references, so it is refused (its claim is still shown).
        expect(entry.applicable).toBe(false);
        expect((entry.reasons as string[]).join(' ')).toMatch(/kohya's sd-scripts/);
        expect(entry.metadataClaim).toMatchObject({ claimed: 1, source: expect.stringMatching(/ss_dataset_dirs/) });
      } else if (e.rank === 8) {
        expect(entry.applicable).toBe(false);
        expect(entry.estimate).toBeNull();
        expect((entry.reasons as string[]).join(' ')).toMatch(/rank 8.*rank 4/);
      } else {
        expect(entry.applicable).toBe(true);
        expect(entry.estimate).toBe(3);
        const interval = entry.interval as { low: number; high: number; nominal: number; coverage: number };
        expect(interval.nominal).toBe(0.9);
        // the coverage measured on held-out names of this set is the reliability's (issue 18)
        expect(interval.coverage).toBe((entry.reliability as { intervalCoverage: number }).intervalCoverage);
        expect(interval.low).toBeLessThanOrEqual(3);
        expect(interval.high).toBeGreaterThanOrEqual(3);
        expect((entry.votes as { size: number }[]).map((v) => v.size)).toEqual(SIZES);
        expect((entry.nearest as { size: number }[])[0].size).toBe(3);
      }
    }
  }, 120_000);

  it('prints a readable summary without --json', async () => {
    const r = await run(['analyze', evidence[0].file, '--reference', 'mini', '--mode', 'faithful', '--db', db, '--backend', 'cpu']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/estimate: 3 samples/);
    expect(r.stdout).toMatch(/votes:/);
  }, 120_000);

  it('runs the evaluation protocol with the requested splits', async () => {
    const args = ['evaluate', '--reference', 'mini', '--splits', '3', '--train-names', '2', '--seed', '5', '--db', db, '--json'];
    const r = await run(args);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    for (const key of ['accuracy', 'mae', 'mape']) {
      expect(out[key]).toEqual({ mean: expect.any(Number), std: expect.any(Number) });
    }
    expect(out.splits).toHaveLength(3);
    expect(out.parameters).toMatchObject({ splits: 3, trainNames: 2, seed: 5 });
    expect(JSON.parse((await run(args)).stdout).splits).toEqual(out.splits);
    // best mode's table lists the accuracy-weighted variant, its figures in the same column as the others'
    const human = await run(['evaluate', '--reference', 'mini', '--splits', '3', '--train-names', '2', '--seed', '5', '--mode', 'best', '--db', db]);
    expect(human.code, human.stderr).toBe(0);
    const rows = human.stdout.split('\n').filter((l) => /^ {2}(σ|Frobenius|regression)/.test(l));
    expect(rows.some((l) => l.includes('× held-out accuracy'))).toBe(true);
    expect(new Set(rows.map((l) => l.search(/\d+\.\d ± /))).size).toBe(1);
  }, 120_000);

  it('names a missing reference set, and rejects bad options', async () => {
    const r = await run(['analyze', evidence[0].file, '--reference', 'nope', '--db', db, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'NOT_FOUND', message: expect.stringMatching(/"nope"/) });
    const e = await run(['evaluate', '--reference', 'mini', '--train-names', '5', '--db', db, '--json']);
    expect(JSON.parse(e.stdout).error).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/between 1 and 4/) });
    const m = await run(['evaluate', '--reference', 'mini', '--mode', 'fast', '--db', db, '--json']);
    expect(m.code).toBe(2);
  }, 120_000);
});
