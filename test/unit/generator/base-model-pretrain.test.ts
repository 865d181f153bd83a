// Slow (about a minute of pre-training): a fresh pre-training with the demo's options writes exactly
// the shipped assets/base-model/ bytes, so the shipped weights are the base the demo came from.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BASE_MANIFEST_FILE, BASE_MODEL_FILE } from '../../../main/generator/base-model.ts';
import { generateBaseModel } from '../../../main/generator/benchmark.ts';
import { demoOptions } from '../../../main/generator/presets.ts';

const shipped = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'assets', 'base-model');
const tmp = mkdtempSync(join(tmpdir(), 'base-pretrain-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('assets/base-model regenerates', () => {
  it('byte for byte from the demo options (seed 42)', async () => {
    const m = await generateBaseModel(demoOptions(tmp), tmp);
    expect(readFileSync(join(tmp, BASE_MODEL_FILE)).equals(readFileSync(join(shipped, BASE_MODEL_FILE)))).toBe(true);
    expect(readFileSync(join(tmp, BASE_MANIFEST_FILE), 'utf8')).toBe(readFileSync(join(shipped, BASE_MANIFEST_FILE), 'utf8'));
    expect(m.sha256).toBe(JSON.parse(readFileSync(join(shipped, BASE_MANIFEST_FILE), 'utf8')).sha256);
  }, 600_000);
});
