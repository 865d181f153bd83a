// The CLI importer killed with SIGKILL right after its first shard commits: the set is left flagged
// incomplete (never half a shard), and the same command run again completes it with no duplicates.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../../main/services/database.ts';
import { writeLoraWiseParquet } from '../../../main/reference/lorawise-writer.ts';
import { randomAdapter, sd1Modules } from './fixture.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const node = join(root, 'node_modules', '.bin', 'node');
const cli = join(root, 'bin', 'lora-audit.mjs');
let dir: string;
let db: string;
const shards: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'reference-cli-'));
  db = join(dir, 'cases.sqlite');
  const layout = sd1Modules(16);
  for (let s = 0; s < 3; s++) {
    const file = join(dir, `train-0000${s}-of-00003.parquet`);
    await writeLoraWiseParquet(file, [0, 1, 2, 3].map((k) => ({ name: `set${k}`, label: [1, 10, 100][s], modules: randomAdapter(layout, 4, s * 10 + k) })),
      { compression: s === 1 ? 'snappy' : 'zstd', rowGroupSize: 2 });
    shards.push(file);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function importArgs(): string[] {
  return [cli, 'reference', 'import', ...shards, '--name', 'killed', '--db', db, '--backend', 'cpu'];
}

describe('lora-audit reference import under SIGKILL', () => {
  it('resumes after the process is killed mid-import and completes with every row exactly once', async () => {
    const child = spawn(node, importArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const killed = await new Promise<boolean>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/^committed /m.test(stderr) && child.exitCode === null && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', (_code, signal) => resolve(signal === 'SIGKILL'));
    });
    expect(killed, `the import ended before it could be killed:\n${stderr}`).toBe(true);

    const conn = await openDatabase(db);
    const set = await conn.get<{ complete: number; id: number }>("SELECT id, complete FROM reference_sets WHERE name = 'killed'");
    const shardsIn = await conn.get<{ n: number }>('SELECT count(*) AS n FROM reference_shards');
    const adaptersIn = await conn.get<{ n: number }>('SELECT count(*) AS n FROM reference_adapters');
    await conn.close();
    expect(set?.complete).toBe(0);
    expect(shardsIn!.n).toBeGreaterThanOrEqual(1);
    expect(shardsIn!.n).toBeLessThan(3);
    expect(adaptersIn!.n).toBe(4 * shardsIn!.n);           // whole shards only

    const again = spawnSync(node, [...importArgs(), '--json'], { encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    const report = JSON.parse(again.stdout);
    expect(report.skipped.length).toBe(shardsIn!.n);
    expect(report.imported.length).toBe(3 - shardsIn!.n);
    expect(report.set).toMatchObject({ name: 'killed', complete: true, adapterCount: 12 });

    const list = spawnSync(node, [cli, 'reference', 'list', '--db', db, '--json'], { encoding: 'utf8' });
    expect(list.status, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ name: 'killed', complete: true, adapters: 12, rank: 4, modules: 128, sizes: [1, 10, 100], names: 4, shards: 3 })]);
    const check = await openDatabase(db);
    const distinct = await check.get<{ n: number; d: number }>("SELECT count(*) AS n, count(DISTINCT name || '/' || label) AS d FROM reference_adapters");
    await check.close();
    expect(distinct).toEqual({ n: 12, d: 12 });
  });

  it('reports a missing set by name, and a bad file with exit code 1 and its error in --json', () => {
    const show = spawnSync(node, [cli, 'reference', 'show', 'nope', '--db', db, '--json'], { encoding: 'utf8' });
    expect(show.status).toBe(1);
    expect(JSON.parse(show.stdout).error).toMatchObject({ code: 'NOT_FOUND' });
    expect(JSON.parse(show.stdout).error.message).toMatch(/no reference set named "nope"/);
    const bad = spawnSync(node, [cli, 'reference', 'import', cli, '--name', 'killed', '--db', db, '--backend', 'cpu', '--json'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout).errors).toEqual([expect.objectContaining({ code: 'NOT_PARQUET', file: cli })]);
  });
});
