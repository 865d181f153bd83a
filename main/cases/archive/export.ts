// Export: a case that verifies, as one uncompressed tar in the order format.ts describes, its manifest
// optionally signed with the examiner's key (a detached CMS over the manifest's exact bytes).
import { constants } from 'node:fs';
import { cp, mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { create } from 'tar';
import type { Database, Queryable, SqlValue } from '../../db/database.ts';
import { AuditError } from '../../errors.ts';
import { resolveActor } from '../actor.ts';
import { appendAudit, auditRows } from '../audit.ts';
import { getCase, type CaseRow } from '../cases.ts';
import { canonicalJson, sha256File } from '../../common/hashing.ts';
import { newId } from '../ids.ts';
import { storeRoot } from '../store.ts';
import { requireVerified, type VerifyCaseOptions } from '../verify.ts';
import { appVersion } from '../version.ts';
import { ARCHIVE_FORMAT, ARCHIVE_VERSION, CASE_JSON, MANIFEST, ROW_TABLES, SIGNATURE, throwIfCancelled, type ArchiveJob, type ArchiveManifest, type ArchiveSigning, type CaseRows, type ExportResult } from './format.ts';
import { makeFolders, syncPath } from '../../common/fs.ts';

/** What verifyCase takes (the actor, and the signed-report checker the service layer hands in), and
 *  how to sign the manifest: without `signing` the archive is unsigned (and an import says so). */
export type ExportOptions = VerifyCaseOptions & ArchiveJob & { signing?: ArchiveSigning };

/** Exports a case that verifies (an archive vouches for what it holds, so a case that fails
 *  verification is refused, naming the first problem). */
export async function exportCase(db: Database, caseIdOrPrefix: string, outFile: string, options: ExportOptions = {}): Promise<ExportResult> {
  const kase = await getCase(db, caseIdOrPrefix);
  await requireVerified(db, kase.id, options, 'it is not exported');
  const root = storeRoot(db.path);
  const out = resolve(outFile);
  const work = join(tmpdir(), `lora-audit-export-${process.pid}-${newId()}`);
  await mkdir(work, { recursive: true });
  try {
    const rows = await readCaseRows(db, kase.id);
    await writeFile(join(work, CASE_JSON), canonicalJson(rows));
    // every file in the folder of each evidence item and report (the stored copy, its companions and
    // whatever else was recorded with it), so the import finds each folder whole
    const storeFiles: string[] = [];
    for (const folder of rowFolders(rows)) {
      for (const name of (await readdir(join(root, folder), { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name).sort()) {
        storeFiles.push(`${folder}/${name}`);
      }
    }
    const total = 2 * storeFiles.length + 1;   // each stored file copied, then every file hashed
    let done = 0;
    for (const rel of storeFiles) {
      throwIfCancelled(options, out);
      await mkdir(dirname(join(work, 'store', rel)), { recursive: true });
      await cp(join(root, rel), join(work, 'store', rel));
      options.onProgress?.(++done, total, rel);
    }
    const files: ArchiveManifest['files'] = [];
    for (const rel of [CASE_JSON, ...storeFiles.map((p) => `store/${p}`)]) {
      throwIfCancelled(options, out);
      files.push({ path: rel, ...(await sha256File(join(work, rel), { signal: options.signal })) });
      options.onProgress?.(++done, total, rel);
    }
    const manifest: ArchiveManifest = {
      format: ARCHIVE_FORMAT, version: ARCHIVE_VERSION, caseId: kase.id, title: kase.title,
      exportedAt: new Date().toISOString(), appVersion: appVersion(),
      auditHead: { seq: rows.case.audit_head_seq, hash: rows.case.audit_head_hash }, files,
      reports: rows.reports.map((r) => ({ id: r.id as string, sha256: r.sha256 as string })),
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2));
    await writeFile(join(work, MANIFEST), manifestBytes);
    if (options.signing) await writeFile(join(work, SIGNATURE), await options.signing.sign(manifestBytes));
    // written beside the target and renamed, so a crash never leaves a half archive under its name
    await makeFolders(dirname(out));
    // an unpredictable name created here first (O_EXCL): a link planted at a guessable one would have
    // sent the archive into its target; the tar writer then opens this regular file of ours
    const partial = `${out}.partial-${process.pid}-${newId()}`;
    await (await open(partial, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644)).close();
    // Not compressed: adapter weights are float noise to gzip (measured 0.90 of the size on the real
    // fixtures) and compression was most of the export's time (docs/BENCHMARKS.md, case files section).
    // Import reads gzipped archives too. The order is the format's: the import requires it.
    await create({ file: partial, cwd: work, portable: true },
      [MANIFEST, ...(options.signing ? [SIGNATURE] : []), CASE_JSON, ...(storeFiles.length ? ['store'] : [])]);
    await syncPath(partial);
    await rename(partial, out);
    const { sha256, size } = await sha256File(out);
    const s = options.signing?.signer;
    const signer = s ? { subject: s.subject, serial: s.serial, sha256Fingerprint: s.sha256Fingerprint } : undefined;
    await db.transaction((tx) => appendAudit(tx, kase.id, resolveActor(kase.examiner, options.actor), 'export',
      { file: out, sha256, size, files: files.length, auditHead: manifest.auditHead, signed: signer !== undefined,
        ...(signer ? { signer: { subject: signer.subject, sha256Fingerprint: signer.sha256Fingerprint } } : {}) }));
    return { caseId: kase.id, file: out, size, sha256, files: files.length, signed: signer !== undefined, ...(signer ? { signer } : {}) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function readCaseRows(q: Queryable, caseId: string): Promise<CaseRows> {
  const kase = await q.get<CaseRow>('SELECT * FROM cases WHERE id = ?', [caseId]);
  if (!kase) throw new AuditError('NOT_FOUND', `no case with id ${caseId}`);
  const rows: CaseRows = { case: kase, evidence: [], analyses: [], reports: [], notes: [], audit_log: [] };
  for (const table of ROW_TABLES) rows[table] = await q.all<Record<string, SqlValue>>(`SELECT * FROM ${table} WHERE case_id = ? ORDER BY id`, [caseId]);
  rows.audit_log = await auditRows(q, caseId);
  return rows;
}

/** The store folder of each evidence item and report (relative to the store root). */
function rowFolders(rows: CaseRows): string[] {
  return [...rows.evidence, ...rows.reports].map((r) => dirname(r.stored_path as string));
}
