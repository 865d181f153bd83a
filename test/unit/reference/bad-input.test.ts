// Bad input: each problem gets a clear error or finding naming the file (and row), and the rest of
// the import stays usable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';
import { writeLoraWiseParquet, type LoraWiseRow } from '../../../main/reference/lorawise-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const layout = sd1Modules(32);   // real ids, widths 10/20/40, text 24
let dir: string;
let engine: FeatureEngine;
let good: string;

function row(name: string, label: number, seed: number, rank = 2, modules = layout): LoraWiseRow {
  return { name, label, modules: randomAdapter(modules, rank, seed) };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-bad-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
  good = join(dir, 'good.parquet');
  await writeLoraWiseParquet(good, [row('a', 1, 1), row('b', 1, 2), row('a', 10, 3)]);
});
afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function importInto(paths: string[], rank?: number) {
  const db = await openDatabase(join(dir, `db${n++}.sqlite`));
  const report = await importReference(db, { name: 'set', paths, engine, ...(rank ? { rank } : {}) });
  return { db, report };
}

describe('whole files that cannot be used', () => {
  it('a truncated shard, a non-parquet file and an empty file are named with their problem; the good shard still imports', async () => {
    const bytes = readFileSync(good);
    const truncated = join(dir, 'truncated.parquet');
    writeFileSync(truncated, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
    const html = join(dir, 'page.parquet');
    writeFileSync(html, '<!doctype html><html><body>Git LFS pointer or a saved web page</body></html>');
    const empty = join(dir, 'empty.parquet');
    writeFileSync(empty, '');
    const { db, report } = await importInto([truncated, html, good, empty]);
    const byFile = Object.fromEntries(report.errors.map((e) => [e.file.split('/').pop(), e]));
    expect(byFile['truncated.parquet']).toMatchObject({ code: 'TRUNCATED' });
    expect(byFile['truncated.parquet'].message).toMatch(/truncated|cut short/);
    expect(byFile['page.parquet']).toMatchObject({ code: 'NOT_PARQUET' });
    expect(byFile['empty.parquet']).toMatchObject({ code: 'EMPTY_FILE' });
    expect(report.imported.map((i) => i.file)).toEqual(['good.parquet']);
    expect((await loadReferenceSet(db, 'set')).adapters.length).toBe(3);
    await db.close();
  });

  it('a shard of another rank or other modules than the set is refused as BAD_SHARD, saying how it differs', async () => {
    const rank4 = join(dir, 'rank4.parquet');
    await writeLoraWiseParquet(rank4, [row('c', 1, 4, 4)]);
    const fewer = join(dir, 'fewer.parquet');
    await writeLoraWiseParquet(fewer, [row('d', 1, 5, 2, layout.slice(0, 100))]);
    const { db, report } = await importInto([good, rank4, fewer]);
    const [r4, few] = report.errors;
    expect(r4).toMatchObject({ code: 'BAD_SHARD' });
    expect(r4.file).toMatch(/rank4\.parquet$/);
    expect(r4.message).toMatch(/rank/);
    expect(few).toMatchObject({ code: 'BAD_SHARD' });
    expect(few.message).toMatch(/missing 28/);
    // The same rank-4 shard, read as rank 2 by the user's choice, has columns twice as long as the set's.
    const { report: again } = await importInto([good, rank4], 2);
    expect(again.errors[0]).toMatchObject({ code: 'BAD_SHARD' });
    expect((await loadReferenceSet(db, 'set')).adapters.length).toBe(3);
    await db.close();
  });
});

describe('bad rows are findings naming the file and row; the other rows import', () => {
  it('NaN values, a column length not divisible by the rank, and a duplicate (name, label)', async () => {
    const withNaN = row('nan', 1, 10);
    (withNaN.modules[7].b as Float64Array)[3] = NaN;
    const odd = row('odd', 1, 11);
    // 2·10 + 1 values in one A column: no rank-2 matrix has that many.
    const m: ModuleWeights = odd.modules[0];
    odd.modules[0] = { ...m, rank: 1, inFeatures: m.rank * m.inFeatures + 1, a: new Float64Array(m.rank * m.inFeatures + 1).fill(0.01), b: new Float64Array(m.outFeatures).fill(0.01) };
    const dup = row('a', 1, 12);   // same (name, label) as good.parquet's row 0
    const inShardDup = row('z', 5, 13);
    const bad = join(dir, 'rows.parquet');
    await writeLoraWiseParquet(bad, [row('fine', 2, 14), withNaN, odd, dup, inShardDup, row('z', 5, 15)], { compression: 'snappy', rowGroupSize: 4 });

    const { db, report } = await importInto([good, bad]);
    expect(report.errors).toEqual([]);
    const f = report.findings.map((x) => ({ file: x.file, row: x.row, code: x.code }));
    expect(f).toEqual([
      { file: 'rows.parquet', row: 1, code: 'NAN_VALUES' },
      { file: 'rows.parquet', row: 2, code: 'NOT_DIVISIBLE_BY_RANK' },
      { file: 'rows.parquet', row: 3, code: 'DUPLICATE_ROW' },
      { file: 'rows.parquet', row: 5, code: 'DUPLICATE_ROW' },
    ]);
    const messages = report.findings.map((x) => x.message);
    expect(messages[0]).toMatch(new RegExp(`row 1: ${layout[7].id.replaceAll('.', '\\.')}\\.lora\\.up\\.weight holds NaN`));
    expect(messages[1]).toMatch(/holds 21 values, not a \(non-zero\) multiple of rank 2/);
    expect(messages[2]).toMatch(/name a, label 1.*already in set "set"/);
    expect(messages[3]).toMatch(/already in this shard/);
    const set = await loadReferenceSet(db, 'set');
    expect(set.adapters.map((a) => `${a.name}/${a.label}`).sort()).toEqual(['a/1', 'a/10', 'b/1', 'fine/2', 'z/5']);
    expect(set.adapters.find((a) => a.name === 'z')!.source).toBe('rows.parquet#row4');
    await db.close();
  });

  it('a labelled folder with a malformed labels.csv is refused naming it; missing paths are named', async () => {
    const folder = join(dir, 'labelled');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(folder);
    writeFileSync(join(folder, 'labels.csv'), 'file,size\nx.safetensors,3\n');
    const { db, report } = await importInto([folder, join(dir, 'nowhere.parquet'), good]);
    expect(report.errors.map((e) => e.code).sort()).toEqual(['BAD_CONFIG', 'FILE_NOT_FOUND']);
    expect(report.errors.find((e) => e.code === 'BAD_CONFIG')!.message).toMatch(/file,name,size/);
    expect(report.imported.length).toBe(1);
    await db.close();
  });
});
