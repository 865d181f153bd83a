// Reference packs: a set exported and imported elsewhere has the same features, configuration and
// provenance; a pack changed after export is refused before anything is stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { openDatabase } from '../../../main/services/database.ts';
import type { Database } from '../../../main/db/database.ts';
import { writeLoraWiseParquet } from '../../../main/reference/lorawise-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { exportPack, importPack } from '../../../main/reference/pack.ts';
import { listReferenceSets, loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

let dir: string;
let db: Database;
let pack: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-pack-'));
  const layout = sd1Modules(32);
  const shard = join(dir, 'train-00000-of-00001.parquet');
  await writeLoraWiseParquet(shard, [1, 2, 3, 4, 5, 6].map((label, i) => ({ name: i % 2 + 1, label, modules: randomAdapter(layout, 4, 100 + i) })));
  const engine = await createFeatureEngine({ backend: 'cpu' });
  db = await openDatabase(join(dir, 'source.sqlite'));
  await importReference(db, { name: 'medium', paths: [shard], engine });
  engine.dispose();
  pack = join(dir, 'medium.pack');
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('reference packs', () => {
  it('round trip: another database gets the same features, configuration and shard provenance', async () => {
    const info = await exportPack(db, 'medium', pack);
    expect(info).toMatchObject({ set: 'medium', adapters: 6 });
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
    const other = await openDatabase(join(dir, 'other.sqlite'));
    const summary = await importPack(other, pack);
    expect(summary).toMatchObject({ name: 'medium', complete: true, adapterCount: 6 });
    const a = await loadReferenceSet(db, 'medium');
    const b = await loadReferenceSet(other, 'medium');
    expect(b.config).toEqual(a.config);
    expect(b.config.names).toEqual(['1', '2']);   // int64 names, kept as their decimal text
    expect(b.provenance.shards).toEqual(a.provenance.shards);
    expect(b.provenance.source).toBe('pack');
    expect(b.provenance.notes).toMatch(/imported from pack medium\.pack.*built from lora-wise-parquet/);
    expect(b.adapters.map((x) => [x.name, x.label, x.source, x.features])).toEqual(a.adapters.map((x) => [x.name, x.label, x.source, x.features]));
    // Same name again: refused, or stored under a new one.
    await expect(importPack(other, pack)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await importPack(other, pack, { name: 'medium-copy' })).adapterCount).toBe(6);
    await other.close();
  });

  it('a pack whose features were changed (manifest kept) is refused as BAD_MANIFEST and nothing is stored', async () => {
    await exportPack(db, 'medium', pack);
    const work = join(dir, 'unpacked');
    mkdirSync(work, { recursive: true });
    await tar.x({ file: pack, cwd: work });
    const features = readFileSync(join(work, 'features.bin'));
    features[features.length >> 1] ^= 0x01;
    writeFileSync(join(work, 'features.bin'), features);
    const tampered = join(dir, 'tampered.pack');
    await tar.c({ gzip: true, file: tampered, cwd: work, portable: true }, ['manifest.json', 'set.json', 'adapters.json', 'features.bin']);
    const other = await openDatabase(join(dir, 'tamper.sqlite'));
    const err = await importPack(other, tampered).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_MANIFEST', file: tampered });
    expect((err as Error).message).toMatch(/features\.bin does not match the manifest/);
    expect(await listReferenceSets(other)).toEqual([]);
    // Not a pack at all.
    writeFileSync(join(dir, 'junk.pack'), 'definitely not a tar');
    await expect(importPack(other, join(dir, 'junk.pack'))).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
    await other.close();
  });

  it('is compact: about 8·(3r+4) bytes per module per adapter, well under the shards it came from', () => {
    const bytes = readFileSync(pack).length;
    const perAdapter = 128 * (3 * 4 + 4) * 8;
    expect(bytes).toBeLessThan(6 * perAdapter + 64 * 1024);
  });
});
