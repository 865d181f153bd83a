// Issue 15 item 2: archives signed with the examiner's key (a detached CMS over manifest.json), an import
// that names the signer and whether it is trusted, refuses a broken signature, says plainly when an
// archive is unsigned, and finds reports dropped from an archive even when it is unsigned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportCase, importCase, type ArchiveSigning } from '../../../main/cases/archive.ts';
import { createCase } from '../../../main/cases/cases.ts';
import { addEvidence } from '../../../main/cases/evidence.ts';
import { addNote } from '../../../main/cases/notes.ts';
import { recordReport } from '../../../main/cases/reports.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { signDetachedCms, verifyDetachedCms } from '../../../main/reports/cms.ts';
import { loadKey, type LoadedKey } from '../../../main/reports/keys.ts';
import { createServices } from '../../../main/services/create.ts';
import { makePki, type TestPki } from '../reports/pki.ts';
import { editCaseJson, rehash, repack, snapshot, unpack, walk } from './archive-helpers.ts';
import { cliJson, plainInspector, runCli, tempDir } from './helpers.ts';

describe('case archive signatures', () => {
  const t = tempDir('lora-audit-archive-sig-');
  let pki: TestPki;
  let key: LoadedKey;
  let signing: ArchiveSigning;
  let sourcePath: string;
  let caseId: string;
  let reportId: string;
  let signed: string;
  let n = 0;

  beforeAll(async () => {
    pki = makePki();
    key = loadKey(readFileSync(pki.p12), pki.passphrase, pki.p12);
    signing = { sign: (data) => signDetachedCms(data, key), signer: key.info };
    sourcePath = join(t.dir, 'source', 'cases.sqlite');
    const source = await openDatabase(sourcePath);
    const kase = await createCase(source, { title: 'Signed', examiner: 'Ana Examiner' });
    caseId = kase.id;
    writeFileSync(join(t.dir, 'adapter.safetensors'), 'adapter bytes');
    await addEvidence(source, caseId, join(t.dir, 'adapter.safetensors'), { inspector: plainInspector });
    await addNote(source, caseId, 'estimate reviewed');
    writeFileSync(join(t.dir, 'report.pdf'), '%PDF-1.7 an issued report');
    reportId = (await recordReport(source, caseId, { file: join(t.dir, 'report.pdf'), signer: 'Ana Examiner', manifest: {} })).id;
    signed = join(t.dir, 'signed.tar');
    const r = await exportCase(source, caseId, signed, { signing });
    expect(r).toMatchObject({ signed: true, signer: { subject: 'Ana Examiner', sha256Fingerprint: key.info.sha256Fingerprint } });
    await source.close();
  });

  afterAll(() => {
    t.cleanup();
    rmSync(pki.dir, { recursive: true, force: true });
  });

  async function target() {
    const path = join(t.dir, `target-${++n}`, 'cases.sqlite');
    return { path, db: await openDatabase(path) };
  }

  /** The signed archive unpacked, edited, rehashed and repacked (the signature kept, or dropped). */
  async function forge(edit: (dir: string) => void, options: { dropSignature?: boolean } = {}): Promise<string> {
    const { dir } = await unpack(signed, join(t.dir, `forge-${++n}`));
    edit(dir);
    if (options.dropSignature) rmSync(join(dir, 'manifest.json.p7s'));
    await rehash(dir);
    return repack(dir, join(t.dir, `forged-${n}.tar`));
  }

  it('names the signer and trusts it only when its CA is given', async () => {
    const a = await target();
    const trusted = await importCase(a.db, signed, { trust: [pki.caPem], verifyCms: verifyDetachedCms });
    expect(trusted.signature).toEqual({
      status: 'signed', trusted: true, problems: [],
      signer: { subject: 'Ana Examiner', serial: key.info.serial, sha256Fingerprint: key.info.sha256Fingerprint },
    });
    // the import's audit entry records who signed what was imported
    const entry = await a.db.get<{ details: string }>("SELECT details FROM audit_log WHERE case_id = ? AND action = 'import'", [caseId]);
    expect(JSON.parse(entry!.details).signature).toEqual({ status: 'signed', subject: 'Ana Examiner', sha256Fingerprint: key.info.sha256Fingerprint, trusted: true });
    await a.db.close();

    const b = await target();
    const untrusted = await importCase(b.db, signed, { trust: [pki.otherCaPem], verifyCms: verifyDetachedCms });
    expect(untrusted.signature).toMatchObject({ status: 'signed', trusted: false, signer: { subject: 'Ana Examiner' } });
    expect(untrusted.signature.problems?.join(' ')).toContain('does not chain to a trusted anchor');
    await b.db.close();
  });

  it('refuses a signed archive edited and rehashed by anyone (SIGNATURE_INVALID), writing nothing', async () => {
    const edits: [string, (dir: string) => void][] = [
      ['a changed note', (dir) => editCaseJson(dir, (rows) => { rows.notes[0].text = 'estimate 500'; })],
      ['a swapped evidence file', (dir) => { const f = walk(join(dir, 'store')).find((p) => p.endsWith('adapter.safetensors'))!; writeFileSync(join(dir, 'store', f), 'other bytes'); }],
      ['a dropped report', (dir) => {
        editCaseJson(dir, (rows) => {
          rows.reports = [];
          rows.audit_log = rows.audit_log.filter((e: { action: string }) => e.action !== 'report');
        });
        rmSync(join(dir, 'store', caseId, 'reports'), { recursive: true });
      }],
    ];
    const { path, db } = await target();
    for (const [what, edit] of edits) {
      const forged = await forge(edit);
      const before = await snapshot(path);
      const err = await importCase(db, forged, { trust: [pki.caPem], verifyCms: verifyDetachedCms }).then(() => null, (e: unknown) => e);
      expect(err, what).toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringContaining('manifest signature does not verify') });
      expect(await snapshot(path), what).toBe(before);
    }
    await db.close();
  });

  it('refuses a signed archive when the import cannot check signatures', async () => {
    const { db } = await target();
    await expect(importCase(db, signed)).rejects.toMatchObject({ code: 'SIGNATURE_INVALID', message: expect.stringContaining('cannot check signatures') });
    await db.close();
  });

  it('says plainly that an archive without a signature is unsigned', async () => {
    const stripped = await forge(() => undefined, { dropSignature: true });
    const { db } = await target();
    const r = await importCase(db, stripped, { trust: [pki.caPem], verifyCms: verifyDetachedCms });
    expect(r.signature).toEqual({ status: 'unsigned' });
    await db.close();
  });

  it('refuses an unsigned archive whose reports were dropped, from the audit trail alone', async () => {
    const dropped = await forge((dir) => {
      editCaseJson(dir, (rows) => { rows.reports = []; });
      rmSync(join(dir, 'store', caseId, 'reports'), { recursive: true });
    }, { dropSignature: true });
    const { path, db } = await target();
    const before = await snapshot(path);
    await expect(importCase(db, dropped)).rejects.toMatchObject({
      code: 'BAD_ARCHIVE', message: expect.stringContaining(`records report ${reportId} as issued`),
    });
    expect(await snapshot(path)).toBe(before);
    await db.close();
  });

  it('signs from the CLI with --key and shows signer and trust on import (JSON and human)', async () => {
    // a case without reports: the CLI's export also compares issued reports with their signed manifests,
    // which the stand-in report above does not have
    const source = await openDatabase(sourcePath);
    const plain = (await createCase(source, { title: 'Plain', examiner: 'Ana Examiner' })).id;
    await source.close();
    const out = join(t.dir, 'cli', 'case.tar');
    const env = { LORA_AUDIT_KEY_PASSPHRASE: pki.passphrase };
    const ex = await cliJson<{ signed: boolean; signer: { subject: string } }>(['case', 'export', plain, '--out', out, '--key', pki.p12, '--db', sourcePath], env);
    expect(ex).toMatchObject({ code: 0, data: { signed: true, signer: { subject: 'Ana Examiner' } } });
    const im = await cliJson<{ signature: unknown }>(['case', 'import', out, '--trust', pki.caPem, '--db', join(t.dir, 'cli', 'a.sqlite')]);
    expect(im).toMatchObject({ code: 0, data: { signature: { status: 'signed', trusted: true, signer: { subject: 'Ana Examiner', sha256Fingerprint: key.info.sha256Fingerprint } } } });

    const unsigned = join(t.dir, 'cli', 'unsigned.tar');
    expect((await cliJson(['case', 'export', plain, '--out', unsigned, '--db', sourcePath])).data).toMatchObject({ signed: false });
    const human = await runCli(['case', 'import', unsigned, '--db', join(t.dir, 'cli', 'b.sqlite')]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain('UNSIGNED archive: its content could have been edited by anyone');
    const asJson = await cliJson(['case', 'import', unsigned, '--db', join(t.dir, 'cli', 'c.sqlite')]);
    expect(asJson.data).toMatchObject({ signature: { status: 'unsigned' } });
    expect(existsSync(join(t.dir, 'cli', 'c.sqlite'))).toBe(true);
  });
  it('signs and checks through the app channels (cases.export with a key, cases.import with trust)', async () => {
    const open = (dir: string) => createServices({ host: 'headless', dataDir: join(t.dir, dir), renderPdf: async () => { throw new Error('no PDF here'); },
      openFiles: async () => [], saveFile: async () => null });
    const job = { jobId: 'j', signal: new AbortController().signal, progress: () => undefined };
    const from = await open('app-from');
    const to = await open('app-to');
    try {
      const id = (await createCase(from.db, { title: 'App', examiner: 'Ana Examiner' })).id;
      const out = join(t.dir, 'app.tar');
      const ex = await from.handlers['cases.export']({ caseId: id, out, keyPath: pki.p12, passphrase: pki.passphrase }, job);
      expect(ex).toMatchObject({ path: out, signed: true, signer: { subject: 'Ana Examiner', sha256Fingerprint: key.info.sha256Fingerprint } });
      const im = await to.handlers['cases.import']({ archive: out, trust: [pki.caPem] }, job);
      expect(im).toMatchObject({ id, title: 'App', signature: { status: 'signed', trusted: true, signer: { subject: 'Ana Examiner' } } });
    } finally {
      await from.close();
      await to.close();
    }
  });
});
