// The importer's fast path and its guards: factors that are float32 values (as LoRA-WiSE's are) reach
// the features engine as float32, with the features of the same numbers; the shard's SHA-256 is taken
// on a worker thread; and a shard written to or replaced while it is imported is refused, not stored
// under a hash of other bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { importReference, type ImportProfile } from '../../../main/reference/import-parquet.ts';
import { ParquetShard, releaseChunk } from '../../../main/reference/parquet-shard.ts';
import { downColumn, upColumn, writeLoraWiseParquet, type LoraWiseRow } from '../../../main/reference/lorawise-writer.ts';
import { listReferenceSets, loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine, ModuleFeatures } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const RANK = 4;
const layout = sd1Modules(16);
let dir: string;
let engine: FeatureEngine;
const wide: LoraWiseRow[] = [];     // float64 values that are not float32s
const narrow: LoraWiseRow[] = [];   // the same rows rounded to float32, stored as double like LoRA-WiSE's
let wideShard: string;
let narrowShard: string;

function rounded(modules: ModuleWeights[]): ModuleWeights[] {
  return modules.map((m) => ({ ...m, a: Float64Array.from(m.a, Math.fround), b: Float64Array.from(m.b, Math.fround) }));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-integrity-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
  let seed = 100;
  for (const label of [1, 10]) for (const name of ['plushie_panda', 'cat_statue']) {
    const modules = randomAdapter(layout, RANK, seed++);
    wide.push({ name, label, modules });
    narrow.push({ name, label, modules: rounded(modules) });
  }
  // One factor of one narrow row is not a float32: that factor alone stays float64.
  narrow[1].modules[5].b[3] = 1 / 3;
  wideShard = join(dir, 'wide.parquet');
  narrowShard = join(dir, 'narrow.parquet');
  await writeLoraWiseParquet(wideShard, wide, { rowGroupSize: 2 });
  await writeLoraWiseParquet(narrowShard, narrow, { rowGroupSize: 3 });
});
afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let dbCount = 0;
const freshDb = () => openDatabase(join(dir, `db${dbCount++}.sqlite`));

/** The engine, recording the array type of every factor it is given. */
function recordingEngine(seen: { id: string; a: string; b: string }[]): FeatureEngine {
  return {
    info: engine.info,
    compute: (modules) => engine.compute(modules),
    async computeBatch(adapters) {
      for (const modules of adapters) for (const m of modules) seen.push({ id: m.id, a: m.a.constructor.name, b: m.b.constructor.name });
      return engine.computeBatch(adapters);
    },
    dispose: () => undefined,
  };
}

function maxRelDiff(got: ModuleFeatures[], want: ModuleFeatures[]): number {
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const g = [...got[i].sigmaA, ...got[i].sigmaB, ...got[i].sigmaDW, got[i].normA, got[i].normB, got[i].normDW, got[i].effectiveRank];
    const w = [...want[i].sigmaA, ...want[i].sigmaB, ...want[i].sigmaDW, want[i].normA, want[i].normB, want[i].normDW, want[i].effectiveRank];
    for (let k = 0; k < w.length; k++) worst = Math.max(worst, Math.abs(g[k] - w[k]) / Math.max(Math.abs(w[k]), 1e-300));
  }
  return worst;
}

describe('factors that are float32 values', () => {
  it('reach the engine as Float32Array (a factor that is not stays Float64Array), with the features of the float64 numbers', async () => {
    const seen: { id: string; a: string; b: string }[] = [];
    const db = await freshDb();
    const report = await importReference(db, { name: 'narrow', paths: [narrowShard], engine: recordingEngine(seen) });
    expect(report.errors).toEqual([]);
    expect(report.imported.map((i) => i.adapters)).toEqual([4]);
    expect(seen.length).toBe(4 * layout.length);
    const inexact = layout[5].id;
    // Row 1's module 5 has B = 1/3 at one place: exactly one B factor stays float64, every other factor narrows.
    expect(seen.filter((s) => s.b === 'Float64Array')).toEqual([{ id: inexact, a: 'Float32Array', b: 'Float64Array' }]);
    expect(seen.filter((s) => s.a !== 'Float32Array')).toEqual([]);
    const set = await loadReferenceSet(db, 'narrow');
    for (const row of narrow) {
      const stored = set.adapters.find((a) => a.name === row.name && a.label === row.label)!;
      expect(maxRelDiff(stored.features, await engine.compute(row.modules))).toBeLessThan(1e-12);
    }
    await db.close();
  });

  it('float64 values that are not float32s reach the engine as they are', async () => {
    const seen: { id: string; a: string; b: string }[] = [];
    const db = await freshDb();
    const profile: ImportProfile = {};
    const report = await importReference(db, { name: 'wide', paths: [wideShard], engine: recordingEngine(seen), profile });
    expect(report.imported.map((i) => i.adapters)).toEqual([4]);
    expect(new Set(seen.flatMap((s) => [s.a, s.b]))).toEqual(new Set(['Float64Array']));
    const set = await loadReferenceSet(db, 'wide');
    for (const row of wide) {
      const stored = set.adapters.find((a) => a.name === row.name && a.label === row.label)!;
      expect(maxRelDiff(stored.features, await engine.compute(row.modules))).toBeLessThan(1e-12);
    }
    // The profile names every stage, the hash's on its own worker thread.
    expect(Object.keys(profile).sort()).toEqual(['check', 'close', 'features', 'footer', 'hash-wait', 'hash-worker', 'names', 'sqlite', 'transfer']);
    expect(profile['hash-worker']!.cpuMs).toBeGreaterThan(0);
    expect(set.provenance.shards[0].sha256).toBe(createHash('sha256').update(readFileSync(wideShard)).digest('hex'));
    await db.close();
  });
});

describe('a shard that changes while it is imported', () => {
  it('written to (even with the same bytes) is refused as HASH_MISMATCH naming it, nothing stored; a re-run imports it', async () => {
    const file = join(dir, 'rewritten.parquet');
    copyFileSync(wideShard, file);
    const db = await freshDb();
    let touched = false;
    const report = await importReference(db, { name: 'set', paths: [file], engine, onProgress: (p) => {
      if (p.phase !== 'reading' || touched) return;
      touched = true;
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.from('PAR1'), 0, 4, 0);   // the bytes it already holds: only the file's times change
      closeSync(fd);
    } });
    expect(touched).toBe(true);
    expect(report.imported).toEqual([]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ file, code: 'HASH_MISMATCH' });
    expect(report.errors[0].message).toMatch(/changed while it was being imported \(it was written to\).*nothing from it was stored/);
    expect(await listReferenceSets(db)).toEqual([]);
    const again = await importReference(db, { name: 'set', paths: [file], engine });
    expect(again.errors).toEqual([]);
    expect(again.imported.map((i) => i.adapters)).toEqual([4]);
    await db.close();
  });

  it('replaced by another shard under its name is refused: the rows read are not those of the bytes hashed', async () => {
    const file = join(dir, 'swapped.parquet');
    const other = join(dir, 'other.parquet');
    copyFileSync(wideShard, file);
    copyFileSync(narrowShard, other);
    const db = await freshDb();
    let swapped = false;
    const report = await importReference(db, { name: 'set', paths: [file], engine, onProgress: (p) => {
      if (p.phase !== 'reading' || swapped) return;
      swapped = true;
      renameSync(other, file);
    } });
    expect(swapped).toBe(true);
    expect(report.imported).toEqual([]);
    expect(report.errors).toHaveLength(1);
    expect(report.errors[0]).toMatchObject({ file, code: 'HASH_MISMATCH' });
    expect(report.errors[0].message).toMatch(/the name now leads to another file/);
    expect(await listReferenceSets(db)).toEqual([]);
    await db.close();
  });
});

describe('ParquetShard.columnGroups (the next group\'s query opened while this one is read)', () => {
  it('yields every group\'s rows in order with their exact values, and stops cleanly in the middle', async () => {
    const ids = [layout[0].id, layout[1].id, layout[2].id];
    const groups = ids.map((id) => [downColumn(id), upColumn(id)]);
    const shard = await ParquetShard.open(wideShard);
    try {
      const seen: [number, number[]][] = [];
      for await (const { group, rows } of shard.columnGroups(groups)) {
        seen.push([group, rows.map((r) => r.row)]);
        for (const r of rows) {
          const want = wide[r.row].modules.find((m) => m.id === ids[group])!;
          expect(r.values[0]).toEqual(want.a);
          expect(r.values[1]).toEqual(want.b);
        }
      }
      // Two row groups of two rows: each group's query yields them in file order.
      expect(seen).toEqual([[0, [0, 1]], [0, [2, 3]], [1, [0, 1]], [1, [2, 3]], [2, [0, 1]], [2, [2, 3]]]);
      // Leaving after the first chunk: the query already opened for group 1 is finished and its connection closed.
      for await (const first of shard.columnGroups(groups)) { expect(first.group).toBe(0); break; }
      expect((await shard.names()).map((r) => r.row)).toEqual([0, 1, 2, 3]);
    } finally {
      shard.close();
    }
  });
});

describe('releaseChunk', () => {
  it('frees the copies a chunk was read into at once (its views read as empty), not at the next collection', async () => {
    const shard = await ParquetShard.open(wideShard);
    try {
      for await (const { rows } of shard.columnGroups([[downColumn(layout[0].id), upColumn(layout[0].id)]])) {
        expect(rows[0].values[0]!.length).toBe(RANK * layout[0].inFeatures);
        releaseChunk(rows);
        expect(rows.flatMap((r) => r.values.map((v) => v!.length))).toEqual(rows.flatMap(() => [0, 0]));
        expect(rows[0].values[0]!.buffer.byteLength).toBe(0);
        releaseChunk(rows);   // twice is harmless
      }
    } finally {
      shard.close();
    }
  });
});
