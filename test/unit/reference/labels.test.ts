// A reference label is a training-set size, a whole number ≥ 1, in every way a set is built: a parquet
// row with label 0 or below is left out with a finding naming file and row; a labels.csv size of 0 is
// refused naming the line; a pack whose adapters.json says 0 is refused whole (even with a manifest
// rewritten to match); a set stored before the check is refused when loaded, naming the adapter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { openDatabase } from '../../../main/services/database.ts';
import { isAuditError } from '../../../main/errors.ts';
import { parseLabels } from '../../../main/reference/import-folder.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { writeLoraWiseParquet } from '../../../main/reference/lorawise-writer.ts';
import { exportPack, importPack } from '../../../main/reference/pack.ts';
import { listReferenceSets, loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const layout = sd1Modules(32);
let dir: string;
let engine: FeatureEngine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-labels-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
});
afterAll(() => {
  engine?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function shard(file: string, labels: number[]): Promise<string> {
  const path = join(dir, file);
  await writeLoraWiseParquet(path, labels.map((label, k) => ({ name: `r${k}`, label, modules: randomAdapter(layout, 2, 70 + k) })));
  return path;
}

const caught = (p: Promise<unknown>) => p.then(() => null, (err: unknown) => err);

describe('reference labels are training-set sizes ≥ 1', () => {
  it('parquet: rows labelled 0 and -3 are left out with BAD_LABEL findings naming file and row; the row labelled 7 is imported', async () => {
    const db = await openDatabase(join(dir, 'parquet.sqlite'));
    const report = await importReference(db, { name: 'set', paths: [await shard('zero.parquet', [0, -3, 7])], engine });
    expect(report.findings.map((f) => [f.file, f.row, f.code])).toEqual([['zero.parquet', 0, 'BAD_LABEL'], ['zero.parquet', 1, 'BAD_LABEL']]);
    expect(report.findings[0].message).toMatch(/row 0: label 0 is not a training-set size \(a whole number ≥ 1\)/);
    expect((await loadReferenceSet(db, 'set')).adapters.map((a) => [a.name, a.label])).toEqual([['r2', 7]]);
    await db.close();
  });

  it('labels.csv: a size of 0, empty, or not plain digits is refused as BAD_CONFIG naming the line', async () => {
    for (const size of ['0', '', '0x10', '1e3', '-1', '2.5']) {
      const err = (() => { try { return parseLabels(`file,name,size\na.safetensors,panda,4\nb.safetensors,cat,${size}\n`, 'labels.csv'); } catch (e) { return e; } })();
      expect(isAuditError(err, 'BAD_CONFIG') && err.file, `size "${size}"`).toBe('labels.csv');
      expect((err as Error).message).toMatch(/line 3: .*a training-set size \(a whole number ≥ 1\)/);
    }
    expect(parseLabels('file,name,size\na.safetensors,panda,1\n', 'labels.csv')).toEqual([{ line: 2, file: 'a.safetensors', name: 'panda', size: 1 }]);
    // Through the importer: the folder is reported with the line, nothing is imported.
    const folder = join(dir, 'labelled');
    mkdirSync(folder);
    writeFileSync(join(folder, 'labels.csv'), 'file,name,size\na.safetensors,panda,0\n');
    const db = await openDatabase(join(dir, 'folder.sqlite'));
    const report = await importReference(db, { name: 'set', paths: [folder], engine });
    expect(report.errors).toEqual([expect.objectContaining({ file: folder, code: 'BAD_CONFIG', message: expect.stringMatching(/line 2: .*≥ 1/) })]);
    expect(report.imported).toEqual([]);
    await db.close();
  });

  it('pack: adapters.json with label 0 is refused as BAD_ARCHIVE naming the entry, even with a manifest rewritten to match; nothing is stored', async () => {
    const db = await openDatabase(join(dir, 'pack-source.sqlite'));
    await importReference(db, { name: 'set', paths: [await shard('good.parquet', [1, 5])], engine });
    const pack = join(dir, 'set.pack');
    await exportPack(db, 'set', pack);
    await db.close();
    const work = join(dir, 'unpacked');
    mkdirSync(work);
    await tar.x({ file: pack, cwd: work });
    const adapters = JSON.parse(readFileSync(join(work, 'adapters.json'), 'utf8')) as { label: unknown }[];
    adapters[1].label = 0;
    const adaptersJson = Buffer.from(JSON.stringify(adapters));
    writeFileSync(join(work, 'adapters.json'), adaptersJson);
    const manifest = JSON.parse(readFileSync(join(work, 'manifest.json'), 'utf8'));
    manifest.files['adapters.json'] = { sha256: createHash('sha256').update(adaptersJson).digest('hex'), bytes: adaptersJson.length };
    writeFileSync(join(work, 'manifest.json'), JSON.stringify(manifest));
    const relabelled = join(dir, 'relabelled.pack');
    await tar.c({ gzip: true, file: relabelled, cwd: work, portable: true }, ['manifest.json', 'set.json', 'adapters.json', 'features.bin']);

    const other = await openDatabase(join(dir, 'pack-target.sqlite'));
    const err = await caught(importPack(other, relabelled));
    expect(isAuditError(err, 'BAD_ARCHIVE') && err.file).toBe(relabelled);
    expect((err as Error).message).toMatch(/adapters\.json entry 1 \(r1, from good\.parquet#row1\) has label 0, not a training-set size/);
    expect(await listReferenceSets(other)).toEqual([]);
    await other.close();
  });

  it('a set stored with label 0 before labels were checked is refused when loaded, naming the adapter and its source', async () => {
    const db = await openDatabase(join(dir, 'old.sqlite'));
    await importReference(db, { name: 'old', paths: [await shard('old.parquet', [3, 4])], engine });
    await db.run("UPDATE reference_adapters SET label = 0 WHERE name = 'r1'");
    const err = await caught(loadReferenceSet(db, 'old'));
    expect(isAuditError(err, 'BAD_SHARD') && err.file).toBe('old.parquet#row1');
    expect((err as Error).message).toMatch(/reference set "old": adapter r1 has label 0, not a training-set size .*import it again/);
    await db.close();
  });
});
