// Shard names reach DuckDB only as the one local file they name: glob characters match themselves
// (a shard named `a*.parquet` imports its own rows, never its neighbours'), a URL is refused before
// anything is opened, and DuckDB itself is locked to that file (no other path, no network, no
// extension download, no way to turn access back on).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../../main/services/database.ts';
import { isAuditError } from '../../../main/errors.ts';
import { writeLoraWiseParquet } from '../../../main/reference/lorawise-writer.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { lockedInstance, ParquetShard } from '../../../main/reference/parquet-shard.ts';
import { loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const layout = sd1Modules(32);
let dir: string;
let engine: FeatureEngine;
let server: Server;
let requests = 0;
let port = 0;

/** A shard of `count` rows named `<prefix>0…`, all with label 5. */
async function shard(path: string, prefix: string, count: number, seed: number): Promise<void> {
  await writeLoraWiseParquet(path, Array.from({ length: count }, (_, k) => ({ name: `${prefix}${k}`, label: 5, modules: randomAdapter(layout, 2, seed + k) })));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-paths-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
  // Two shards a glob `a*` would match, and the shard actually named `a*.parquet`.
  await shard(join(dir, 'a1.parquet'), 'one-', 2, 10);
  await shard(join(dir, 'a2.parquet'), 'two-', 2, 20);
  await shard(join(dir, 'a*.parquet'), 'star-', 1, 30);
  // Glob characters in the folder too: `s?` would match `sx`.
  mkdirSync(join(dir, 's?'));
  mkdirSync(join(dir, 'sx'));
  await shard(join(dir, 's?', 'b[1].parquet'), 'bracket-', 1, 40);
  await shard(join(dir, 'sx', 'b[1].parquet'), 'other-', 1, 50);
  await shard(join(dir, 's?', 'b1.parquet'), 'plain-', 1, 60);
  // Any request reaching this loopback server would be a network attempt.
  server = createServer((_req, res) => { requests++; res.end(); });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  engine?.dispose();
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

let n = 0;
async function importInto(paths: string[]) {
  const db = await openDatabase(join(dir, `db${n++}.sqlite`));
  const report = await importReference(db, { name: 'set', paths, engine });
  const names = report.set ? (await loadReferenceSet(db, 'set')).adapters.map((a) => a.name).sort() : [];
  await db.close();
  return { report, names };
}

describe('glob characters in shard names', () => {
  it('a shard named a*.parquet imports exactly its own row, not those of a1.parquet and a2.parquet', async () => {
    const { report, names } = await importInto([join(dir, 'a*.parquet')]);
    expect(report.errors).toEqual([]);
    expect(report.imported).toEqual([expect.objectContaining({ file: 'a*.parquet', rows: 1, adapters: 1 })]);
    expect(names).toEqual(['star-0']);
  });

  it('the whole folder imports each shard once with its own rows (5 rows, not the 3-file glob read twice)', async () => {
    const { report, names } = await importInto([dir]);
    expect(report.errors).toEqual([]);
    expect(report.findings).toEqual([]);   // no row of a1/a2 seen twice (DUPLICATE_ROW)
    expect(report.imported.map((i) => [i.file, i.rows, i.adapters])).toEqual([['a*.parquet', 1, 1], ['a1.parquet', 2, 2], ['a2.parquet', 2, 2]]);
    expect(names).toEqual(['one-0', 'one-1', 'star-0', 'two-0', 'two-1']);
  });

  it('[ and ? in the file and folder names match themselves: s?/b[1].parquet is neither sx/b[1].parquet nor s?/b1.parquet', async () => {
    const { report, names } = await importInto([join(dir, 's?', 'b[1].parquet')]);
    expect(report.errors).toEqual([]);
    expect(names).toEqual(['bracket-0']);
  });
});

describe('no path reaches the network', () => {
  it('http://, https:// and s3:// shard names are refused as BAD_REQUEST naming them, with no request made', async () => {
    const urls = [`http://127.0.0.1:${port}/a.parquet`, `https://127.0.0.1:${port}/a.parquet`, 's3://bucket/a.parquet'];
    const { report } = await importInto(urls);
    expect(report.errors.map((e) => [e.file, e.code])).toEqual(urls.map((u) => [u, 'BAD_REQUEST']));
    expect(report.errors[0].message).toMatch(/is a URL; .*local files only.*nothing is fetched/);
    expect(report.imported).toEqual([]);
    // The reader refuses one too, before DuckDB is started.
    const opened = await ParquetShard.open(urls[0]).then(() => null, (err: unknown) => err);
    expect(isAuditError(opened, 'BAD_REQUEST') && opened.file).toBe(urls[0]);
    expect(requests).toBe(0);
  });

  it("DuckDB opened for one shard can read no other file and no URL, installs no extension, and cannot be unlocked", async () => {
    const own = join(dir, 'a*.parquet');
    const { instance, conn } = await lockedInstance(own);
    const fails = async (sql: string) => conn.run(sql).then(() => 'ran', (err: unknown) => (err instanceof Error ? err.message : String(err)));
    try {
      const settings = Object.fromEntries((await conn.runAndReadAll(
        `SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', 'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration')`))
        .getRowObjectsJS().map((r) => [r.name, r.value]));
      expect(settings).toEqual({ enable_external_access: 'false', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false', lock_configuration: 'true' });
      expect(await fails(`SELECT * FROM read_parquet('${join(dir, 'a1.parquet')}')`)).toMatch(/Permission Error: Cannot access file .*a1\.parquet/);
      expect(await fails(`SELECT * FROM read_parquet('${own}')`)).toMatch(/Permission Error: Cannot access file .*a1\.parquet/);   // the glob, unescaped
      expect(await fails(`SELECT * FROM read_parquet('http://127.0.0.1:${port}/a.parquet')`)).toMatch(/Permission Error/);
      expect(await fails('SET enable_external_access = true')).toMatch(/locked/);
      expect(await fails('INSTALL httpfs')).toMatch(/Permission Error/);
      expect(requests).toBe(0);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });
});
