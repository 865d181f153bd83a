// Importing LoRA-WiSE shards: the features stored are the features of the same weights computed
// directly; re-imports skip by hash; a cancelled import leaves nothing half-written visible and the
// next run finishes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDatabase } from '../../../main/services/database.ts';
import type { Database } from '../../../main/db/database.ts';
import { isAuditError } from '../../../main/errors.ts';
import { writeLoraWiseParquet, type LoraWiseRow } from '../../../main/reference/lorawise-writer.ts';
import { baseModelHint, importReference, inferRank } from '../../../main/reference/import-parquet.ts';
import { deleteReferenceSet, listReferenceSets, loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine, ModuleFeatures } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const RANK = 4;
const layout = sd1Modules(16);           // real module ids, widths 20/40/80, text 48
let dir: string;
let engine: FeatureEngine;
const rows: LoraWiseRow[] = [];
const shards: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-import-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
  let seed = 1;
  for (const label of [1, 10, 50]) for (const name of ['plushie_panda', 'cat_statue', 'robot_toy']) {
    rows.push({ name, label, modules: randomAdapter(layout, RANK, seed++) });
  }
  shards.push(join(dir, 'train-00000-of-00002.parquet'), join(dir, 'train-00001-of-00002.parquet'));
  await writeLoraWiseParquet(shards[0], rows.slice(0, 5), { compression: 'snappy', rowGroupSize: 2 });
  await writeLoraWiseParquet(shards[1], rows.slice(5), { compression: 'zstd', rowGroupSize: 3 });
});
afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let dbCount = 0;
async function freshDb(): Promise<Database> {
  return openDatabase(join(dir, `db${dbCount++}.sqlite`));
}

function maxRelDiff(got: ModuleFeatures[], want: ModuleFeatures[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    expect(got[i].id).toBe(want[i].id);
    const pairs: [ArrayLike<number>, ArrayLike<number>][] = [[got[i].sigmaA, want[i].sigmaA], [got[i].sigmaB, want[i].sigmaB],
      [got[i].sigmaDW, want[i].sigmaDW], [[got[i].normA, got[i].normB, got[i].normDW, got[i].effectiveRank],
        [want[i].normA, want[i].normB, want[i].normDW, want[i].effectiveRank]]];
    for (const [g, w] of pairs) {
      expect(g.length).toBe(w.length);
      for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(g[k] - w[k]) / Math.max(Math.abs(w[k]), 1e-300));
    }
  }
  return worst;
}

describe('the fixture is in the exact LoRA-WiSE schema', () => {
  it('has name, label int64 and 256 list<double> weight columns in several row groups, snappy and zstd', async () => {
    const inst = await DuckDBInstance.create(':memory:');
    const c = await inst.connect();
    for (const [file, codec, groups] of [[shards[0], 'SNAPPY', 3], [shards[1], 'ZSTD', 2]] as const) {
      const cols = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
      expect(cols.length).toBe(258);
      expect(cols.find((x) => x.column_name === 'label')!.column_type).toBe('BIGINT');
      expect(cols.find((x) => x.column_name === 'name')!.column_type).toBe('VARCHAR');
      expect(cols.filter((x) => String(x.column_name).endsWith('.lora.down.weight') && x.column_type === 'DOUBLE[]').length).toBe(128);
      expect(cols.filter((x) => String(x.column_name).endsWith('.lora.up.weight') && x.column_type === 'DOUBLE[]').length).toBe(128);
      expect(cols.some((x) => x.column_name === 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_out.0.lora.down.weight')).toBe(true);
      const meta = (await c.runAndReadAll(`SELECT DISTINCT row_group_id, compression FROM parquet_metadata('${file}') WHERE path_in_schema <> 'name'`)).getRowObjectsJS();
      expect(new Set(meta.map((m) => m.row_group_id)).size).toBe(groups);
      expect(new Set(meta.map((m) => m.compression))).toEqual(new Set([codec]));
    }
    c.closeSync();
    inst.closeSync();
  });
});

describe('importReference', () => {
  it('stores, per adapter, the features the engine computes from the same weights', async () => {
    const db = await freshDb();
    const progress: string[] = [];
    const report = await importReference(db, { name: 'wise', paths: shards, engine, onProgress: (p) => progress.push(p.phase) });
    expect(report.errors).toEqual([]);
    expect(report.findings).toEqual([]);
    expect(report.imported.map((i) => i.adapters)).toEqual([5, 4]);
    const set = await loadReferenceSet(db, 'wise');
    expect(set.adapters.length).toBe(9);
    expect(set.config.rank).toBe(RANK);
    expect(set.config.modules.map((m) => m.id)).toEqual(layout.map((m) => m.id));
    expect(set.config.modules.find((m) => m.id.endsWith('down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k'))).toMatchObject({ inFeatures: 48, outFeatures: 20 });
    expect(set.config.sizes).toEqual([1, 10, 50]);
    expect([...set.config.names].sort()).toEqual(['cat_statue', 'plushie_panda', 'robot_toy']);
    for (const row of rows) {
      const stored = set.adapters.find((a) => a.name === row.name && a.label === row.label)!;
      expect(stored, `${row.name}/${row.label}`).toBeDefined();
      expect(maxRelDiff(stored.features, await engine.compute(row.modules))).toBeLessThan(1e-12);
    }
    // Provenance: every shard's name, size and SHA-256, and who computed the features.
    expect(set.provenance.source).toBe('lora-wise-parquet');
    expect(set.provenance.importerVersion).toMatch(/importer/);
    expect(set.provenance.featureBackend).toBe('cpu');
    expect(set.provenance.shards.map((s) => [s.fileName, s.sha256, s.rows])).toEqual(shards.map((f, i) => [
      f.split('/').pop(), createHash('sha256').update(readFileSync(f)).digest('hex'), [5, 4][i]]));
    expect(progress).toContain('reading');
    expect(progress.at(-1)).toBe('done');
    await db.close();
  });

  it('skips shards already imported, by SHA-256, and leaves the set as it was', async () => {
    const db = await freshDb();
    await importReference(db, { name: 'wise', paths: [shards[0]], engine });
    const again = await importReference(db, { name: 'wise', paths: [dir], engine });   // the folder: both shards
    expect(again.skipped.map((s) => s.file)).toEqual(['train-00000-of-00002.parquet']);
    expect(again.imported.map((s) => s.file)).toEqual(['train-00001-of-00002.parquet']);
    const third = await importReference(db, { name: 'wise', paths: shards, engine });
    expect(third.imported).toEqual([]);
    expect(third.skipped.length).toBe(2);
    expect((await loadReferenceSet(db, 'wise')).adapters.length).toBe(9);
    await deleteReferenceSet(db, 'wise');
    expect(await listReferenceSets(db)).toEqual([]);
    await db.close();
  });

  it('cancelled during the first shard: no set at all; the next run imports everything', async () => {
    const db = await freshDb();
    const controller = new AbortController();
    const run = importReference(db, {
      name: 'wise', paths: shards, engine, signal: controller.signal,
      onProgress: (p) => { if (p.phase === 'reading') controller.abort(); },
    });
    await expect(run).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(await listReferenceSets(db)).toEqual([]);
    await expect(loadReferenceSet(db, 'wise')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const report = await importReference(db, { name: 'wise', paths: shards, engine });
    expect(report.imported.length).toBe(2);
    expect((await loadReferenceSet(db, 'wise')).adapters.length).toBe(9);
    await db.close();
  });

  it('cancelled after the first shard: the set is flagged incomplete and refused until a re-run finishes it', async () => {
    const db = await freshDb();
    const controller = new AbortController();
    await expect(importReference(db, {
      name: 'wise', paths: shards, engine, signal: controller.signal,
      onProgress: (p) => { if (p.phase === 'committed') controller.abort(); },
    })).rejects.toMatchObject({ code: 'CANCELLED' });
    const [summary] = await listReferenceSets(db);
    expect(summary).toMatchObject({ name: 'wise', complete: false, adapterCount: 5 });
    const refused = await loadReferenceSet(db, 'wise').catch((e: unknown) => e);
    expect(isAuditError(refused, 'NOT_FOUND') && refused.message).toMatch(/incomplete.*again/);
    const report = await importReference(db, { name: 'wise', paths: shards, engine });
    expect(report.skipped.map((s) => s.file)).toEqual(['train-00000-of-00002.parquet']);
    const set = await loadReferenceSet(db, 'wise');
    expect(set.adapters.length).toBe(9);
    expect(new Set(set.adapters.map((a) => `${a.name}/${a.label}`)).size).toBe(9);
    await db.close();
  });
});

describe('rank and base model from the column widths', () => {
  it('infers the rank of a full-width SD 1.x shard from its column lengths, and calls it sd1', () => {
    const full = sd1Modules(1);
    for (const r of [8, 16, 32]) {
      expect(inferRank(full.map((m) => ({ downLength: r * m.inFeatures, upLength: m.outFeatures * r })))).toBe(r);
    }
    expect(baseModelHint(full)).toBe('sd1');
    const sd2 = full.map((m) => (m.inFeatures === 768 ? { ...m, inFeatures: 1024 } : m));
    expect(baseModelHint(sd2)).toBe('sd2');
    expect(inferRank(layout.map((m) => ({ downLength: 4 * m.inFeatures, upLength: 4 * m.outFeatures })))).toBeNull();
  });
});
