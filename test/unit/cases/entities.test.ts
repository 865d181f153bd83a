import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync, copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createCase, getCase, listCases, setCaseStatus } from '../../../main/cases/cases.ts';
import { addEvidence, listEvidence } from '../../../main/cases/evidence.ts';
import { addNote, listNotes } from '../../../main/cases/notes.ts';
import { recordReport, listReports } from '../../../main/cases/reports.ts';
import { listAudit, verifyAudit } from '../../../main/cases/audit.ts';
import { recoverStore, storeRoot } from '../../../main/cases/store.ts';
import { verifyCase } from '../../../main/cases/verify.ts';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import type { Database } from '../../../main/db/database.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { CATUNDCHAT, PEFT_BERT, plainInspector, rawSql, tempDb } from './helpers.ts';

let t: Awaited<ReturnType<typeof tempDb>>;
let db: Database;
beforeEach(async () => { t = await tempDb(); db = t.db; });
afterEach(async () => { await t.cleanup(); });

describe('migrations', () => {
  it('creates every case table and records each case migration once, also when reopened', async () => {
    const tables = (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")).map((r) => r.name);
    for (const name of ['cases', 'evidence', 'analyses', 'reports', 'notes', 'audit_log']) expect(tables).toContain(name);
    await db.close();
    db = await openDatabase(t.dbPath);
    t.db = db;
    const versions = await db.all<{ version: number }>('SELECT version FROM schema_migrations WHERE version BETWEEN 100 AND 199');
    expect(versions.map((v) => v.version)).toEqual([100, 101]);
    expect((await db.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode).toBe('wal');
    expect((await db.get<{ foreign_keys: number }>('PRAGMA foreign_keys'))?.foreign_keys).toBe(1);
  });

  it('refuses a database written by a newer version and leaves its bytes alone', async () => {
    await createCase(db, { title: 'T', examiner: 'E' });
    await db.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (199, 'from the future', '2030-01-01')");
    await db.close();
    const before = readFileSync(t.dbPath);
    await expect(openDatabase(t.dbPath)).rejects.toMatchObject({ code: 'DB_TOO_NEW', message: expect.stringMatching(/newer version of LoRA Auditor.*199/) });
    expect(readFileSync(t.dbPath).equals(before)).toBe(true);
    db = await openDatabase(join(t.dir, 'other.sqlite'));
    t.db = db;
  });
});

describe('cases', () => {
  it('creates, lists, finds by prefix and changes status, auditing each change', async () => {
    const c = await createCase(db, { title: '  Leak inquiry ', examiner: 'Ada Examiner', organisation: 'DPA' });
    expect(c).toMatchObject({ title: 'Leak inquiry', examiner: 'Ada Examiner', organisation: 'DPA', status: 'open' });
    expect(await getCase(db, c.id.slice(0, 6))).toMatchObject({ id: c.id });
    expect((await listCases(db)).map((x) => x.id)).toEqual([c.id]);
    const closed = await setCaseStatus(db, c.id, 'closed', 'Second Reviewer');
    expect(closed.status).toBe('closed');
    const trail = await listAudit(db, c.id);
    expect(trail.map((e) => e.action)).toEqual(['case-created', 'case-status']);
    expect(trail[0].actor).toBe('Ada Examiner');
    expect(trail[1]).toMatchObject({ actor: 'Second Reviewer', details: { from: 'open', to: 'closed' } });
    expect(trail[0].osUser).not.toBe('');
    expect((await verifyAudit(db, c.id)).ok).toBe(true);
  });

  it('refuses a case without title or examiner, and unknown ids, with a code', async () => {
    await expect(createCase(db, { title: '', examiner: 'x' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(createCase(db, { title: 'x', examiner: ' ' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(getCase(db, 'abcd1234')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(setCaseStatus(db, (await createCase(db, { title: 'x', examiner: 'y' })).id, 'lost' as 'open')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('takes the actor from LORA_AUDIT_ACTOR when set', async () => {
    process.env.LORA_AUDIT_ACTOR = 'Env Actor';
    try {
      const c = await createCase(db, { title: 'T', examiner: 'E' });
      expect((await listAudit(db, c.id))[0].actor).toBe('Env Actor');
    } finally {
      delete process.env.LORA_AUDIT_ACTOR;
    }
  });
});

describe('evidence', () => {
  it('stores a read-only byte-exact copy under <store>/<case>/evidence/<sha256>/<name> and records it', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const item = await addEvidence(db, c.id, CATUNDCHAT.path, { notes: 'from the web', tags: ['web', ' web', 'sd1'], inspector: plainInspector });
    expect(item.sha256).toBe(CATUNDCHAT.sha256);
    expect(item.size).toBe(CATUNDCHAT.size);
    expect(item.storedPath).toBe(join(t.dir, 'cases', c.id, 'evidence', CATUNDCHAT.sha256, 'pytorch_lora_weights.safetensors'));
    expect(storeRoot(t.dbPath)).toBe(join(t.dir, 'cases'));
    expect(statSync(item.storedPath).mode & 0o777).toBe(0o444);
    expect(readFileSync(item.storedPath).equals(readFileSync(CATUNDCHAT.path))).toBe(true);
    expect(item).toMatchObject({ family: 'diffusers-attnproc', method: 'lora', baseModel: 'sd1', notes: 'from the web', tags: ['web', 'sd1'], duplicate: false, examiner: 'E' });
    const trail = await listAudit(db, c.id);
    expect(trail[1]).toMatchObject({ action: 'evidence-added', details: { evidenceId: item.id, sha256: CATUNDCHAT.sha256 } });
    // no staging leftovers
    expect(existsSync(join(t.dir, 'cases', c.id, 'evidence'))).toBe(true);
    expect(readdirSync(join(t.dir, 'cases', c.id, 'evidence'))).toEqual([CATUNDCHAT.sha256]);
  });

  it('copies adapter_config.json beside a PEFT adapter and hashes it too', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const item = await addEvidence(db, c.id, PEFT_BERT.path, { inspector: plainInspector });
    expect(item.companions).toHaveLength(1);
    expect(item.companions[0]).toMatchObject({ fileName: 'adapter_config.json', sha256: PEFT_BERT.configSha256 });
    expect(item.companions[0].storedPath).toBe(join(item.storedPath, '..', 'adapter_config.json'));
    expect(statSync(item.companions[0].storedPath).mode & 0o777).toBe(0o444);
  });

  it('records the same bytes once per case, and refuses a missing file or a closed case', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const first = await addEvidence(db, c.id, CATUNDCHAT.path, { inspector: plainInspector });
    const again = await addEvidence(db, c.id, CATUNDCHAT.path, { inspector: plainInspector });
    expect(again).toMatchObject({ id: first.id, duplicate: true });
    expect(await listEvidence(db, c.id)).toHaveLength(1);
    await expect(addEvidence(db, c.id, join(t.dir, 'nope.safetensors'), { inspector: plainInspector })).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(addEvidence(db, c.id, t.dir, { inspector: plainInspector })).rejects.toMatchObject({ code: 'IS_DIRECTORY' });
    await setCaseStatus(db, c.id, 'closed');
    await expect(addEvidence(db, c.id, PEFT_BERT.path, { inspector: plainInspector })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('closed') });
    expect((await listAudit(db, c.id)).filter((e) => e.action === 'evidence-added')).toHaveLength(1);
  });

  it('keeps the stored copy exactly as imported when the original changes afterwards', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const original = join(t.dir, 'mine.safetensors');
    copyFileSync(CATUNDCHAT.path, original);
    const item = await addEvidence(db, c.id, original, { inspector: plainInspector });
    writeFileSync(original, 'overwritten');
    expect(readFileSync(item.storedPath).length).toBe(CATUNDCHAT.size);
  });
});

describe('store recovery', () => {
  it('removes what a killed import left (dead staging, unrecorded folders) and keeps recorded evidence and live staging', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const item = await addEvidence(db, c.id, CATUNDCHAT.path, { inspector: plainInspector });
    const evidenceDir = join(t.dir, 'cases', c.id, 'evidence');
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
    for (const leftover of [`.partial-${deadPid}-x`, `.partial-${process.pid}-mine`, 'f'.repeat(64)]) {
      mkdirSync(join(evidenceDir, leftover));
      writeFileSync(join(evidenceDir, leftover, 'half.safetensors'), 'half');
    }
    const { removed } = await recoverStore(db, c.id);
    expect(removed.sort()).toEqual([`${c.id}/evidence/.partial-${deadPid}-x`, `${c.id}/evidence/${'f'.repeat(64)}`].sort());
    expect(readdirSync(evidenceDir).sort()).toEqual([`.partial-${process.pid}-mine`, CATUNDCHAT.sha256].sort());
    expect(existsSync(item.storedPath)).toBe(true);
  });
});

describe('notes and reports', () => {
  it('adds notes with their author and audit entry', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    const n = await addNote(db, c.id, '  checked the metadata claim ', 'Reviewer');
    expect(n).toMatchObject({ author: 'Reviewer', text: 'checked the metadata claim' });
    expect(await listNotes(db, c.id)).toEqual([n]);
    expect((await listAudit(db, c.id)).at(-1)).toMatchObject({ action: 'note', details: { noteId: n.id } });
    await expect(addNote(db, c.id, '   ')).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });

  it('records a report with a read-only copy, its hash and signer', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    mkdirSync(join(t.dir, 'out'));
    const pdf = join(t.dir, 'out', 'report.pdf');
    writeFileSync(pdf, '%PDF-1.7 test body');
    const r = await recordReport(db, c.id, { file: pdf, signer: 'CN=Ada', manifest: { evidence: ['x'] } });
    expect(r).toMatchObject({ file: pdf, signer: 'CN=Ada', size: 18, manifest: { evidence: ['x'] } });
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(readFileSync(r.storedPath, 'utf8')).toBe('%PDF-1.7 test body');
    expect(statSync(r.storedPath).mode & 0o777).toBe(0o444);
    expect(await listReports(db, c.id)).toEqual([r]);
    expect((await listAudit(db, c.id)).at(-1)).toMatchObject({ action: 'report', details: { reportId: r.id, sha256: r.sha256 } });
  });

  it('verifyCase re-hashes report copies and evidence, and audits the verification', async () => {
    const c = await createCase(db, { title: 'T', examiner: 'E' });
    await addEvidence(db, c.id, PEFT_BERT.path, { inspector: plainInspector });
    const pdf = join(t.dir, 'r.pdf');
    writeFileSync(pdf, '%PDF-1.7 body');
    const r = await recordReport(db, c.id, { file: pdf, signer: 'CN=Ada', manifest: {} });
    expect(await verifyCase(db, c.id)).toMatchObject({ ok: true, checked: { evidence: 1, companions: 1, reports: 1 } });
    chmodSync(r.storedPath, 0o644);
    writeFileSync(r.storedPath, '%PDF-1.7 bodY');
    const v = await verifyCase(db, c.id);
    expect(v.ok).toBe(false);
    expect(v.problems).toEqual([expect.objectContaining({ kind: 'report-hash', reportId: r.id })]);
    expect((await listAudit(db, c.id)).at(-1)).toMatchObject({ action: 'verify', details: { ok: false } });
  });

  it('rejects rows that point at a case that does not exist (foreign keys on)', async () => {
    await expect(db.run("INSERT INTO notes (id, case_id, author, text, created_at) VALUES ('n', 'no-such-case', 'a', 't', 'now')"))
      .rejects.toMatchObject({ code: 'DB_ERROR' });
    expect(await rawSql(t.dbPath, 'SELECT count(*) AS n FROM notes')).toEqual([{ n: 0 }]);
  });
});
