// A reference set from a folder of labelled adapter files (labels.csv: file,name,size), read by the
// intake: features equal those of the same files read as adapters; a re-run skips files by hash; an
// adapter that does not fit the set is named, the others import.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { loadModuleWeights, openAdapter } from '../../../main/intake/open.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

let dir: string;
let folder: string;
let engine: FeatureEngine;
const layout = sd1Modules(32);

function writeAdapter(file: string, rank: number, seed: number): void {
  const tensors = randomAdapter(layout, rank, seed).flatMap((m) => [
    { key: `${m.id}.lora.down.weight`, dtype: 'F32' as const, shape: [rank, m.inFeatures], data: m.a },
    { key: `${m.id}.lora.up.weight`, dtype: 'F32' as const, shape: [m.outFeatures, rank], data: m.b },
  ]);
  writeFileSync(file, encodeSafetensors(tensors));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-folder-'));
  folder = join(dir, 'labelled');
  mkdirSync(folder);
  engine = await createFeatureEngine({ backend: 'cpu' });
  writeAdapter(join(folder, 'panda-1.safetensors'), 4, 1);
  writeAdapter(join(folder, 'panda-10.safetensors'), 4, 2);
  writeAdapter(join(folder, 'robot-1.safetensors'), 4, 3);
  writeAdapter(join(folder, 'robot-rank8.safetensors'), 8, 4);
  writeFileSync(join(folder, 'labels.csv'),
    'file,name,size\npanda-1.safetensors,panda,1\n"panda-10.safetensors",panda,10\nrobot-1.safetensors,robot,1\nrobot-rank8.safetensors,robot,10\n');
});
afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('labelled adapter folders', () => {
  it('imports each listed adapter with its features, names the one that does not fit, and skips them all on a re-run', async () => {
    const db = await openDatabase(join(dir, 'db.sqlite'));
    const report = await importReference(db, { name: 'mine', paths: [folder], engine });
    expect(report.imported.map((i) => i.file)).toEqual(['panda-1.safetensors', 'panda-10.safetensors', 'robot-1.safetensors']);
    expect(report.errors).toEqual([expect.objectContaining({ file: 'labelled/robot-rank8.safetensors', code: 'BAD_SHARD' })]);
    expect(report.errors[0].message).toMatch(/rank is 8, the set's is 4/);
    const set = await loadReferenceSet(db, 'mine');
    expect(set.provenance.source).toBe('labelled-folder');
    expect(set.config).toMatchObject({ rank: 4, family: 'diffusers-lora', method: 'lora', sizes: [1, 10], names: ['panda', 'robot'] });
    expect(set.config.modules.length).toBe(128);
    const adapter = await openAdapter(join(folder, 'panda-10.safetensors'));
    const direct = await engine.compute(await loadModuleWeights(adapter));
    await adapter.source.close();
    const stored = set.adapters.find((a) => a.name === 'panda' && a.label === 10)!;
    expect(stored.source).toBe('panda-10.safetensors');
    expect(stored.features).toEqual(direct);

    const again = await importReference(db, { name: 'mine', paths: [folder], engine });
    expect(again.skipped.map((s) => s.file)).toEqual(['panda-1.safetensors', 'panda-10.safetensors', 'robot-1.safetensors']);
    expect(again.imported).toEqual([]);
    expect((await loadReferenceSet(db, 'mine')).adapters.length).toBe(3);
    await db.close();
  });
});
