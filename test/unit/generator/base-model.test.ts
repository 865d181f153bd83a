// The shipped base model (assets/base-model/): its file hashes to its manifest's SHA-256, it is the
// pre-training the demo came from (the same loss sequence summary as assets/demo/manifest.json), it
// loads with every parameter in shape, and a changed byte is refused.
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_MANIFEST_FILE, BASE_MODEL_FILE, loadBaseModel, readBaseManifest } from '../../../main/generator/base-model.ts';
import { BASE_MODEL_NAME, type Manifest } from '../../../main/generator/benchmark.ts';
import { demoOptions } from '../../../main/generator/presets.ts';
import { paramSpecs } from '../../../main/generator/unet.ts';

const assets = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets');
const dir = join(assets, 'base-model');
const tmp = mkdtempSync(join(tmpdir(), 'base-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('assets/base-model', () => {
  it('is the demo pre-training: seed, recipe and loss as assets/demo/manifest.json records them, hash as its manifest says', () => {
    const m = readBaseManifest(dir);
    const demo = JSON.parse(readFileSync(join(assets, 'demo', 'manifest.json'), 'utf8')) as Manifest;
    const bytes = readFileSync(join(dir, BASE_MODEL_FILE));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(m.sha256);
    expect(m.bytes).toBe(bytes.length);
    expect(m.baseModel).toBe(BASE_MODEL_NAME);
    expect(m.seed).toBe(demo.seed);
    expect(m.config).toEqual({ widths: demo.model.widths, contextWidth: demo.model.contextWidth });
    expect(m.pretrain).toEqual(demo.model.pretrain);
    expect(m.pretrain).toEqual(demoOptions('x').pretrain);
    expect(m.pretrainLoss).toEqual(demo.model.pretrainLoss);
  });

  it('loads every parameter in shape, finite', async () => {
    const { base, manifest } = await loadBaseModel(dir);
    const specs = paramSpecs(manifest.config);
    expect(base.params.size).toBe(specs.length);
    for (const s of specs) {
      const v = base.params.get(s.name)!;
      expect(v.length).toBe(s.shape.reduce((a, b) => a * b, 1));
      expect(v.every(Number.isFinite)).toBe(true);
    }
    expect(base.tokens.length).toBeGreaterThan(0);
  });

  it('refuses a file changed by one byte (hash mismatch)', async () => {
    const copy = join(tmp, 'changed');
    rmSync(copy, { recursive: true, force: true });
    copyFileSync(join(dir, BASE_MANIFEST_FILE), join(tmp, BASE_MANIFEST_FILE));
    const bytes = readFileSync(join(dir, BASE_MODEL_FILE));
    bytes[bytes.length - 3] ^= 1;
    writeFileSync(join(tmp, BASE_MODEL_FILE), bytes);
    await expect(loadBaseModel(tmp)).rejects.toMatchObject({ code: 'HASH_MISMATCH' });
  });
});
