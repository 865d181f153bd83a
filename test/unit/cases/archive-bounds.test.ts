// Issue 15 item 9: an import decides from the manifest and each entry's header before it writes, so a
// gzip bomb, a lying manifest or 40k entries cost neither disk nor memory nor minutes, and the folder
// of a killed import does not stay forever. The hostile archives are generated here, never committed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { exportCase, importCase, ARCHIVE_LIMITS } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { sha256Hex } from '../../../main/common/hashing.ts';
import { storeRoot } from '../../../main/cases/store.ts';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { TAR_END, readTar, snapshot, tarEntry, tarHeader, writeTar, type TarEntry } from './archive-helpers.ts';
import { plainInspector, tempDir } from './helpers.ts';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Bytes this process has passed to write() so far (Linux), the measure of what an import wrote. */
function bytesWritten(): number {
  const io = readFileSync('/proc/self/io', 'utf8');
  return Number(/^wchar:\s*(\d+)/m.exec(io)![1]);
}

describe('case archive import: bounded before it writes', () => {
  const t = tempDir('lora-audit-archive-bounds-');
  let db: Database;
  let dbPath: string;
  let entries: TarEntry[];
  let evidencePath: string;

  beforeAll(async () => {
    const source = await openDatabase(join(t.dir, 'source', 'cases.sqlite'));
    const kase = await createCase(source, { title: 'Bounds', examiner: 'E' });
    writeFileSync(join(t.dir, 'adapter.safetensors'), Buffer.alloc(4096, 7));
    await addEvidence(source, kase.id, join(t.dir, 'adapter.safetensors'), { inspector: plainInspector });
    await exportCase(source, kase.id, join(t.dir, 'honest.tar'));
    await source.close();
    entries = readTar(readFileSync(join(t.dir, 'honest.tar')));
    evidencePath = entries.find((e) => e.name.endsWith('adapter.safetensors'))!.name;
    dbPath = join(t.dir, 'target', 'cases.sqlite');
    db = await openDatabase(dbPath);
  });

  afterAll(async () => {
    await db.close();
    t.cleanup();
  });

  const entry = (name: string) => entries.find((e) => e.name === name)!;
  const manifestWith = (edit: (m: any) => void): TarEntry => { // eslint-disable-line @typescript-eslint/no-explicit-any
    const m = JSON.parse(entry('manifest.json').data.toString('utf8'));
    edit(m);
    return { name: 'manifest.json', type: '0', data: Buffer.from(JSON.stringify(m)) };
  };

  /** A .tar.gz: the given entries, then an entry whose header declares `size` bytes of zeros, written as
   *  2 GiB of gzip members of 1 MiB of zeros each (~1 KB apiece): a ~2 MB file. */
  function gzipBomb(file: string, before: TarEntry[], name: string, size: number): void {
    const fd = openSync(file, 'w');
    writeSync(fd, gzipSync(Buffer.concat(before.map(tarEntry))));
    writeSync(fd, gzipSync(tarHeader(name, size, '0')));
    const zeros = gzipSync(Buffer.alloc(MiB));
    for (let done = 0; done < size; done += MiB) writeSync(fd, zeros);
    writeSync(fd, gzipSync(TAR_END));
    closeSync(fd);
  }

  async function refusedSmall(file: string, words: string[]): Promise<void> {
    const before = await snapshot(dbPath);
    const written = bytesWritten();
    const peak = process.resourceUsage().maxRSS * 1024;
    const err = await importCase(db, file).then(() => null, (e: unknown) => e);
    expect(err).toMatchObject({ code: 'BAD_ARCHIVE' });
    for (const w of words) expect((err as Error).message).toContain(w);
    // at most a few MB written (the import's own small files), not the GBs the archive expands to
    expect(bytesWritten() - written).toBeLessThan(8 * MiB);
    expect(process.resourceUsage().maxRSS * 1024 - peak).toBeLessThan(256 * MiB);
    expect(await snapshot(dbPath)).toBe(before);
  }

  it('refuses a gzip bomb whose manifest lists the 2 GiB it expands to, at the manifest', async () => {
    const file = join(t.dir, 'bomb-listed.tar.gz');
    const manifest = manifestWith((m) => { m.files.find((f: { path: string }) => f.path === evidencePath).size = 2 * GiB; });
    gzipBomb(file, [manifest, entry('case.json')], evidencePath, 2 * GiB);
    await refusedSmall(file, ['more than 64 times', 'decompression bomb']);
  });

  it('refuses a gzip bomb entry whose header size is not the size the manifest lists, before its bytes', async () => {
    const file = join(t.dir, 'bomb-header.tar.gz');
    gzipBomb(file, [entry('manifest.json'), entry('case.json')], evidencePath, 2 * GiB);
    await refusedSmall(file, [`${evidencePath} is ${2 * GiB} bytes; the manifest lists 4096`]);
  });

  it('refuses a gzip bomb entry the manifest does not list, before its bytes', async () => {
    const file = join(t.dir, 'bomb-unlisted.tar.gz');
    gzipBomb(file, [entry('manifest.json'), entry('case.json')], 'store/zeros.bin', 2 * GiB);
    await refusedSmall(file, ['store/zeros.bin, which its manifest does not list']);
  });

  it('refuses an uncompressed archive whose manifest lists more bytes than the file has', async () => {
    const file = join(t.dir, 'liar.tar');
    writeFileSync(file, writeTar([manifestWith((m) => { m.files[0].size = 50 * GiB; }), entry('case.json')]));
    await refusedSmall(file, ['more than the whole', 'archive holds']);
  });

  it('refuses an archive whose first entry is not the manifest', async () => {
    const file = join(t.dir, 'order.tar');
    writeFileSync(file, writeTar([entry('case.json'), entry('manifest.json')]));
    await refusedSmall(file, ['first entry is case.json, not manifest.json']);
  });

  it('refuses 40k listed entries at the manifest, in bounded CPU', async () => {
    const count = 40_000;
    const files = Array.from({ length: count }, (_, i) => ({ path: `store/x/${i}`, size: 0, sha256: sha256Hex('') }));
    const manifest = manifestWith((m) => { m.files = [{ path: 'case.json', size: 2, sha256: sha256Hex('{}') }, ...files]; });
    const file = join(t.dir, 'many.tar');
    writeFileSync(file, writeTar([manifest, ...files.map((f) => ({ name: f.path, type: '0', data: Buffer.alloc(0) }))]));
    const cpu = process.cpuUsage();
    await refusedSmall(file, [`lists ${count + 1} files; a case archive holds at most ${ARCHIVE_LIMITS.files}`]);
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1e6).toBeLessThan(5); // seconds; it was 83 s with a list search per entry
  });

  it('checks a manifest and case.json of 10k files in bounded CPU (sets, not list searches)', async () => {
    const caseJson = JSON.parse(entry('case.json').data.toString('utf8'));
    const caseId = caseJson.case.id as string;
    const template = caseJson.evidence[0];
    const n = ARCHIVE_LIMITS.files - 1;
    caseJson.evidence = Array.from({ length: n }, (_, i) => {
      const sha = sha256Hex(String(i));
      return { ...template, id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, sha256: sha, size: 1,
        stored_path: `${caseId}/evidence/${sha}/f`, companions: '[]' };
    });
    const caseBytes = Buffer.from(JSON.stringify(caseJson));
    const manifest = manifestWith((m) => {
      m.files = [{ path: 'case.json', size: caseBytes.length, sha256: sha256Hex(caseBytes) },
        ...caseJson.evidence.map((r: { stored_path: string; sha256: string }) => ({ path: `store/${r.stored_path}`, size: 1, sha256: r.sha256 }))];
    });
    const file = join(t.dir, 'wide.tar');
    writeFileSync(file, writeTar([manifest, { name: 'case.json', type: '0', data: caseBytes }]));
    const cpu = process.cpuUsage();
    await refusedSmall(file, [`the manifest lists store/${caseId}/evidence/`, 'which the archive does not hold']);
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1e6).toBeLessThan(10);
  });

  it('removes the unpacking folder of an import whose process died, when the store is opened', async () => {
    const root = storeRoot(dbPath);
    const deadPid = spawnSync('true').pid!;
    const stale = join(root, `.partial-${deadPid}-x`);
    mkdirSync(join(stale, 'store'), { recursive: true });
    writeFileSync(join(stale, 'store', 'half-written.bin'), Buffer.alloc(1000));
    const live = join(root, `.partial-${process.pid}-still-importing`);
    mkdirSync(live, { recursive: true });
    await importCase(db, join(t.dir, 'honest.tar'));
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });
});
