// ss_dataset_dirs as hostile metadata (issue 15 review): a header listing a million folders put a
// million entries into metadata.kohya.datasetDirs and one finding per bad entry, each quoting its raw
// folder name (terminal escapes and all, at any length); counts of 1e308 images added up to an
// Infinity "claimed training images". Kept folders are now bounded, bad entries named a few at a time,
// cut and escaped, and a claim is a whole number or none.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DATASET_DIRS } from '../../../main/intake/kohya.ts';
import type { CanonicalAdapter } from '../../../main/intake/model.ts';
import { kohyaKey } from '../../../main/intake/naming.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';

let dir: string;
let n = 0;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'intake-kohya-dirs-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ID = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';

async function open(datasetDirs: Record<string, unknown>): Promise<CanonicalAdapter> {
  const file = join(dir, `kohya${n++}.safetensors`);
  const t = (key: string, shape: number[]) => ({ key, dtype: 'F32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01) });
  writeFileSync(file, encodeSafetensors([t(kohyaKey(ID, 'A'), [4, 320]), t(kohyaKey(ID, 'B'), [320, 4]), { ...t(kohyaKey(ID, 'alpha'), []), data: [4] }],
    { ss_network_module: 'networks.lora', ss_dataset_dirs: JSON.stringify(datasetDirs) }));
  const a = await openAdapter(file);
  await a.source.close();
  return a;
}

const codes = (a: CanonicalAdapter, code: string) => a.findings.filter((f) => f.code === code);

describe('ss_dataset_dirs bounds', () => {
  it('100,000 folders: the first MAX_DATASET_DIRS kept, the count summed over all, one finding saying so', async () => {
    const dirs = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`${i}_f`, { n_repeats: 1, img_count: 1 }]));
    const a = await open(dirs);
    expect(a.metadata.kohya?.datasetDirs).toHaveLength(MAX_DATASET_DIRS);
    expect(a.metadata.kohya?.realImageCount).toBe(100_000);
    expect(a.metadata.claimedTrainingImages).toBe(100_000);
    expect(codes(a, 'KOHYA_DATASET_DIRS_CUT').map((f) => f.message)).toEqual([
      `ss_dataset_dirs lists 100000 folders; the first ${MAX_DATASET_DIRS} are kept in the metadata (the image count sums all of them)`]);
    expect(a.findings.length).toBeLessThan(10);
  }, 60_000);

  it('100,000 bad entries with long, escape-laden names: five findings, each name cut and escaped, then a count', async () => {
    // the first twenty names 100,000 characters long (the header's 100 MB bound allows that and more)
    const long = `\u001b[2J${'x'.repeat(100_000)}`;
    const dirs = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`${i}${i < 20 ? long : '\u001b[2J'}`, { img_count: 'many' }]));
    const a = await open(dirs);
    const bad = codes(a, 'BAD_DATASET_DIRS');
    expect(bad).toHaveLength(6);
    expect(bad[0].message).toBe(`ss_dataset_dirs entry "0\\u{1B}[2J${'x'.repeat(200 - '0\\u{1B}[2J'.length)}" has no usable img_count`);
    expect(bad.every((f) => f.message.length < 300 && !f.message.includes('\u001b'))).toBe(true);
    expect(bad[5].message).toBe('99995 more ss_dataset_dirs entries have no usable img_count');
    expect(a.metadata.kohya?.datasetDirs).toEqual([]);
  }, 60_000);

  it('image counts that are not whole numbers, or add up past 2^53, make no claim (no Infinity)', async () => {
    const huge = await open({ a: { img_count: 1e308 }, b: { img_count: 1e308 } });
    expect(huge.metadata.claimedTrainingImages).toBeUndefined();
    expect(huge.metadata.kohya?.realImageCount).toBeUndefined();
    expect(codes(huge, 'BAD_DATASET_DIRS').map((f) => f.message)).toEqual([
      'ss_dataset_dirs entry "a" has no usable img_count', 'ss_dataset_dirs entry "b" has no usable img_count']);

    const sum = await open({ a: { img_count: Number.MAX_SAFE_INTEGER }, b: { img_count: 2 } });
    expect(sum.metadata.claimedTrainingImages).toBeUndefined();
    expect(codes(sum, 'BAD_DATASET_DIRS').map((f) => f.message)).toEqual([
      `ss_dataset_dirs' img_count values add up to more than ${Number.MAX_SAFE_INTEGER}: not a training-set size; image count unknown`]);

    const half = await open({ a: { img_count: 2.5 }, b: { img_count: 3, n_repeats: 2 } });
    expect(half.metadata.claimedTrainingImages).toBe(3);
    expect(codes(half, 'BAD_DATASET_DIRS').map((f) => f.message)).toEqual(['ss_dataset_dirs entry "a" has no usable img_count']);
  });
});
