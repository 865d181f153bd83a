// The case commands as an examiner runs them, and tampering done by hand behind the app's back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, writeSync, closeSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { create as tarCreate, extract as tarExtract } from 'tar';
import { exportCase, importCase } from '../../../main/cases/archive.ts';
import { sha256File } from '../../../main/common/hashing.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { CATUNDCHAT, PEFT_BERT, TRUNCATED, cliJson, rawSql, runCli, tempDir } from './helpers.ts';

interface Added { caseId: string; evidence: { id: string; sha256: string; storedPath: string; family: string; companions: unknown[] }[]; errors: { input: string; code: string }[] }
interface Verified { ok: boolean; problems: { kind: string; message: string; seq?: number; evidenceId?: string }[] }

let t: ReturnType<typeof tempDir>;
let base: { dbPath: string; caseId: string; added: Added };

/** One case made through the CLI: two evidence items (one PEFT with its config) and a note. Each test
 *  works on its own copy of the folder (database and store), so a tamper in one cannot leak into another. */
beforeAll(async () => {
  t = tempDir();
  const dbPath = join(t.dir, 'base', 'cases.sqlite');
  const created = await cliJson<{ id: string }>(['case', 'create', '--title', 'Base case', '--examiner', 'Ada Examiner', '--organisation', 'DPA', '--db', dbPath]);
  expect(created.code).toBe(0);
  const caseId = created.data.id;
  const added = await cliJson<Added>(['case', 'add-evidence', caseId, CATUNDCHAT.path, PEFT_BERT.path, '--tags', 'web,sd', '--db', dbPath]);
  expect(added.code).toBe(0);
  expect((await cliJson(['case', 'note', caseId, 'first', 'look', '--db', dbPath])).code).toBe(0);
  base = { dbPath, caseId, added: added.data };
});
afterAll(() => t.cleanup());

function newCase(name: string): { dbPath: string; caseId: string; added: Added } {
  cpSync(join(t.dir, 'base'), join(t.dir, name), { recursive: true });
  const moved = (p: string) => p.replace(join(t.dir, 'base'), join(t.dir, name));
  return {
    dbPath: moved(base.dbPath), caseId: base.caseId,
    added: { ...base.added, evidence: base.added.evidence.map((e) => ({ ...e, storedPath: moved(e.storedPath) })) },
  };
}

describe('lora-audit case', () => {
  it('creates a case, adds evidence (sha256, storedPath, family), shows it and verifies it', async () => {
    const { dbPath, caseId, added } = newCase('basic');
    expect(caseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(added.evidence.map((e) => e.sha256)).toEqual([CATUNDCHAT.sha256, PEFT_BERT.sha256]);
    expect(base.added.evidence[0].storedPath).toBe(join(t.dir, 'base', 'cases', caseId, 'evidence', CATUNDCHAT.sha256, 'pytorch_lora_weights.safetensors'));
    expect(added.evidence.map((e) => e.family)).toEqual(['diffusers-attnproc', 'peft']);
    expect(added.evidence[1].companions).toHaveLength(1);
    const shown = await cliJson<{ case: { id: string }; evidence: unknown[]; notes: { text: string }[]; audit: { ok: boolean; entries: number } }>(['case', 'show', caseId.slice(0, 8), '--db', dbPath]);
    expect(shown.data).toMatchObject({ case: { id: caseId }, notes: [{ text: 'first look' }], audit: { ok: true, entries: 4 } });
    expect(shown.data.evidence).toHaveLength(2);
    const listed = await cliJson<{ cases: { id: string }[] }>(['case', 'list', '--db', dbPath]);
    expect(listed.data.cases.map((c) => c.id)).toEqual([caseId]);
    const v = await cliJson<Verified>(['case', 'verify', caseId, '--db', dbPath]);
    expect(v).toMatchObject({ code: 0, data: { ok: true, problems: [] } });
  });

  it('keeps a file intake refuses (truncated) as evidence, and names files it could not read', async () => {
    const { dbPath, caseId } = newCase('refusals');
    const r = await cliJson<Added>(['case', 'add-evidence', caseId, TRUNCATED.path, join(t.dir, 'missing.safetensors'), '--db', dbPath]);
    expect(r.code).toBe(1);
    expect(r.data.evidence).toMatchObject([{ sha256: TRUNCATED.sha256, family: 'unknown' }]);
    expect(r.data.errors).toMatchObject([{ code: 'FILE_NOT_FOUND' }]);
  });

  it('refuses a database from a newer version, saying so, and leaves its bytes alone', async () => {
    const { dbPath } = newCase('too-new');
    await rawSql(dbPath, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (150, 'cases from the future', '2030-01-01')");
    const before = readFileSync(dbPath);
    const r = await runCli(['case', 'list', '--db', dbPath]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/newer version of LoRA Auditor \(schema 150 cases from the future\)/);
    expect(readFileSync(dbPath).equals(before)).toBe(true);
  });

  it('closes a case, after which it takes no new evidence', async () => {
    const { dbPath, caseId } = newCase('closed');
    const closed = await cliJson<{ status: string }>(['case', 'status', caseId, 'closed', '--db', dbPath]);
    expect(closed).toMatchObject({ code: 0, data: { status: 'closed' } });
    const r = await cliJson<Added>(['case', 'add-evidence', caseId, TRUNCATED.path, '--db', dbPath]);
    expect(r.code).toBe(1);
    expect(r.data.errors).toMatchObject([{ code: 'BAD_REQUEST', message: expect.stringContaining('closed') }]);
  });

  it('prints a usage error for a missing --examiner', async () => {
    const r = await runCli(['case', 'create', '--title', 'x', '--db', join(t.dir, 'u.sqlite')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--examiner is required');
  });

  it('detects an audit row edited by hand: non-zero exit naming audit_log and the entry', async () => {
    const { dbPath, caseId } = newCase('edit-audit');
    await rawSql(dbPath, "UPDATE audit_log SET actor = 'Mallory' WHERE case_id = ? AND seq = 2", [caseId]);
    const v = await cliJson<Verified>(['case', 'verify', caseId, '--db', dbPath]);
    expect(v.code).toBe(1);
    expect(v.data.problems[0]).toMatchObject({ kind: 'audit-chain', seq: 2, message: expect.stringMatching(/^audit_log: entry 2 .*edited/) });
    const human = await runCli(['case', 'verify', caseId, '--db', dbPath]);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/does NOT verify: audit_log: entry 2/);
  });

  it('detects an audit row deleted by hand', async () => {
    const { dbPath, caseId } = newCase('delete-audit');
    await rawSql(dbPath, 'DELETE FROM audit_log WHERE case_id = ? AND seq = 3', [caseId]);
    const v = await cliJson<Verified>(['case', 'verify', caseId, '--db', dbPath]);
    expect(v.code).toBe(1);
    expect(v.data.problems[0]).toMatchObject({ kind: 'audit-chain', seq: 3, message: expect.stringContaining('deleted') });
  });

  it('detects a stored evidence byte changed (after making the copy writable)', async () => {
    const { dbPath, caseId, added } = newCase('edit-evidence');
    const stored = added.evidence[0].storedPath;
    chmodSync(stored, 0o644);
    const fd = openSync(stored, 'r+');
    writeSync(fd, Buffer.from([readFileSync(stored)[5000] ^ 0xff]), 0, 1, 5000);
    closeSync(fd);
    const v = await cliJson<Verified>(['case', 'verify', caseId, '--db', dbPath]);
    expect(v.code).toBe(1);
    expect(v.data.problems).toEqual([expect.objectContaining({ kind: 'evidence-hash', evidenceId: added.evidence[0].id, message: expect.stringContaining('no longer matches its recorded SHA-256') })]);
    // the failed verification is itself on the record
    const trail = await rawSql(dbPath, "SELECT details FROM audit_log WHERE case_id = ? AND action = 'verify'", [caseId]);
    expect(JSON.parse(trail.at(-1)!.details as string)).toMatchObject({ ok: false });
  });

  it('exports a case and imports it into another database, verified', async () => {
    const { dbPath, caseId } = newCase('export');
    const archive = join(t.dir, 'export', 'case.tar');
    const ex = await cliJson<{ file: string; sha256: string; files: number }>(['case', 'export', caseId, '--out', archive, '--db', dbPath]);
    expect(ex.code).toBe(0);
    expect(ex.data).toMatchObject({ file: archive, files: 4 }); // case.json, two adapters, one config
    const otherDb = join(t.dir, 'elsewhere', 'cases.sqlite');
    const im = await cliJson<{ caseId: string; counts: { evidence: number; notes: number } }>(['case', 'import', archive, '--db', otherDb, '--actor', 'Receiving Examiner']);
    expect(im).toMatchObject({ code: 0, data: { caseId, counts: { evidence: 2, notes: 1 } } });
    const shown = await cliJson<{ evidence: { storedPath: string; sha256: string }[]; audit: { ok: boolean } }>(['case', 'show', caseId, '--db', otherDb]);
    expect(shown.data.audit.ok).toBe(true);
    for (const e of shown.data.evidence) expect(e.storedPath.startsWith(join(t.dir, 'elsewhere', 'cases', caseId))).toBe(true);
    expect((await cliJson<Verified>(['case', 'verify', caseId, '--db', otherDb])).data.ok).toBe(true);
    const trail = await rawSql(otherDb, 'SELECT action, actor FROM audit_log WHERE case_id = ? ORDER BY seq', [caseId]);
    expect(trail.at(-2)).toEqual({ action: 'import', actor: 'Receiving Examiner' });
    // importing it twice is refused
    const again = await cliJson(['case', 'import', archive, '--db', otherDb]);
    expect(again.code).toBe(1);
    expect(again.data).toMatchObject({ error: { code: 'ALREADY_EXISTS', message: expect.stringContaining('already in this database') } });
  });

  it('refuses a tampered archive on import and writes nothing', async () => {
    // in-process (the CLI round trip is above): export, alter the archive by hand, import
    const { dbPath, caseId, added } = newCase('tamper-archive');
    const archive = join(t.dir, 'tamper-archive', 'case.tar');
    const source = await openDatabase(dbPath);
    await exportCase(source, caseId, archive);
    await source.close();
    const unpacked = join(t.dir, 'tamper-archive', 'unpacked');
    mkdirSync(unpacked);
    await tarExtract({ file: archive, cwd: unpacked });
    const stored = join(unpacked, 'store', caseId, 'evidence', added.evidence[0].sha256, 'pytorch_lora_weights.safetensors');
    chmodSync(stored, 0o644);
    const bytes = readFileSync(stored);
    bytes[100] ^= 0x01;
    writeFileSync(stored, bytes);
    const bad = join(t.dir, 'tamper-archive', 'bad.tar.gz');
    // rebuilt in the archive's own order: an import requires the manifest first and case.json before the store
    const ARCHIVE_ORDER = ['manifest.json', 'case.json', 'store'];
    await tarCreate({ gzip: true, file: bad, cwd: unpacked }, ARCHIVE_ORDER);
    const otherDb = join(t.dir, 'tamper-target', 'cases.sqlite');
    const target = await openDatabase(otherDb);
    try {
      await expect(importCase(target, bad)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('does not match the manifest') });
      expect(await target.all('SELECT id FROM cases')).toEqual([]);
      expect(readdirSync(join(t.dir, 'tamper-target', 'cases'))).toEqual([]);

      // an extra file the manifest does not list is refused too
      bytes[100] ^= 0x01;
      writeFileSync(stored, bytes);
      copyFileSync(CATUNDCHAT.path, join(unpacked, 'store', 'smuggled.safetensors'));
      await tarCreate({ gzip: true, file: bad, cwd: unpacked }, ARCHIVE_ORDER);
      await expect(importCase(target, bad)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('does not list') });

      // and so is an audit trail edited inside the archive with the manifest updated to match
      const rmSmuggled = join(unpacked, 'store', 'smuggled.safetensors');
      chmodSync(rmSmuggled, 0o644);
      const { rmSync } = await import('node:fs');
      rmSync(rmSmuggled);
      const caseJson = JSON.parse(readFileSync(join(unpacked, 'case.json'), 'utf8'));
      caseJson.audit_log[1].actor = 'Mallory';
      writeFileSync(join(unpacked, 'case.json'), JSON.stringify(caseJson));
      const manifest = JSON.parse(readFileSync(join(unpacked, 'manifest.json'), 'utf8'));
      const entry = manifest.files.find((f: { path: string }) => f.path === 'case.json');
      Object.assign(entry, await sha256File(join(unpacked, 'case.json')));
      writeFileSync(join(unpacked, 'manifest.json'), JSON.stringify(manifest));
      await tarCreate({ gzip: true, file: bad, cwd: unpacked }, ARCHIVE_ORDER);
      await expect(importCase(target, bad)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('audit trail does not verify') });

      // a case id that would name a folder outside the store is refused before anything is touched
      const json = readFileSync(join(unpacked, 'case.json'), 'utf8').replaceAll(caseId, '..');
      writeFileSync(join(unpacked, 'case.json'), json);
      manifest.caseId = '..';
      Object.assign(entry, await sha256File(join(unpacked, 'case.json')));
      manifest.files = [entry];
      writeFileSync(join(unpacked, 'manifest.json'), JSON.stringify(manifest));
      await tarCreate({ file: bad, cwd: unpacked }, ['manifest.json', 'case.json']);
      await expect(importCase(target, bad)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('is not a case id') });
      expect(existsSync(join(t.dir, 'tamper-target', 'cases.sqlite'))).toBe(true);

      // the untouched archive still imports
      expect((await importCase(target, archive)).caseId).toBe(caseId);
    } finally {
      await target.close();
    }
  });

  it('refuses to export a case that no longer verifies', async () => {
    const { dbPath, caseId } = newCase('export-broken');
    await rawSql(dbPath, "UPDATE audit_log SET details = '{}' WHERE case_id = ? AND seq = 2", [caseId]);
    const r = await cliJson<{ error: { code: string; message: string } }>(['case', 'export', caseId, '--out', join(t.dir, 'x.tar'), '--db', dbPath]);
    expect(r.code).toBe(1);
    expect(r.data.error).toMatchObject({ code: 'AUDIT_BROKEN' });
    expect(existsSync(join(t.dir, 'x.tar'))).toBe(false);
  });
});
