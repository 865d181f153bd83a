// Import: trusts nothing in the archive. It reads the entries in the format's order and decides each
// from its header before reading its bytes: the manifest first (bounded, its listed total bounded by
// the archive's size and the free disk), then its signature if there is one (a broken one refuses the
// archive), then case.json, whose rows are checked in full (rows of the archived case only, ids new to
// this database, the audit trail, issued reports, files) before any stored file is written; then each
// stored file, which must be listed with the size its header gives, is streamed to disk and hashed.
// Only when every listed file has arrived are the rows written (one transaction) and the files moved
// into the store. The unpacking folder is named after this process, so a killed import's leftovers are
// removed the next time the store is opened for an import (store.ts openStore).
import { createHash } from 'node:crypto';
import { mkdir, open, rm, stat, statfs } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Database } from '../../db/database.ts';
import { AuditError } from '../../errors.ts';
import { resolveActor } from '../actor.ts';
import { appendAudit } from '../audit.ts';
import { newId } from '../ids.ts';
import { commitStaging, openStore } from '../store.ts';
import { CASE_JSON, LIMITS, MANIFEST, SIGNATURE, foldersOf, throwIfCancelled, type ArchiveJob, parseManifest, type ArchiveFile, type ArchiveManifest, type ArchiveSignature,
  type CaseRows, type ImportResult, type ListedFile, type VerifyCms } from './format.ts';
import { readArchive, type EntryHeader, type EntryPlan } from './reader.ts';
import { checkNewToDatabase, checkRows, checkRowsRecorded, insertCaseRows, parseCaseRows } from './rows.ts';

export interface ImportOptions extends ArchiveJob {
  actor?: string;
  /** PEM files of certificates to trust as the signer (or its issuer). */
  trust?: string[];
  /** Checks the manifest's signature; an archive that carries one is refused without it. */
  verifyCms?: VerifyCms;
}

export async function importCase(db: Database, archive: string, options: ImportOptions = {}): Promise<ImportResult> {
  const file = resolve(archive);
  const bad = (message: string): AuditError => new AuditError('BAD_ARCHIVE', message, file);
  const info = await describeArchive(file);
  const root = await openStore(db);
  const free = await statfs(root).then((s) => s.bavail * s.bsize);
  const work = join(root, `.partial-${process.pid}-${newId()}`);
  await mkdir(work);
  try {
    const state = new ImportState(db, info, free, work, bad, options);
    const { sha256: archiveSha256 } = await readArchive(file, (h) => state.plan(h), { readSize: info.compressed ? 16 << 10 : 1 << 20, bad });
    const { manifest, rows, signature } = state.finish();
    checkRowsRecorded(rows, bad);
    const caseId = rows.case.id;
    await db.transaction(async (tx) => {
      // checked again under the write lock: another import of the same case may have committed meanwhile
      await checkNewToDatabase(tx, rows, file);
      await insertCaseRows(tx, rows, bad);
      // a folder there without a case row is a crashed import's leftover: commitStaging replaces it
      if (manifest.files.length > 1) await commitStaging(join(work, 'store', caseId), join(root, caseId));
      await appendAudit(tx, caseId, resolveActor(rows.case.examiner, options.actor), 'import', {
        archive: basename(file), archiveSha256, exportedAt: manifest.exportedAt, exportedBy: manifest.appVersion,
        files: manifest.files.length, signature: signatureRecord(signature),
      });
    });
    return {
      caseId, title: rows.case.title, archiveSha256, signature,
      counts: { evidence: rows.evidence.length, analyses: rows.analyses.length, reports: rows.reports.length,
        notes: rows.notes.length, auditEntries: rows.audit_log.length + 1 },
    };
  } finally {
    await rm(work, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
  }
}

/** The archive's size and whether it is gzipped (its first two bytes), before anything is read. */
async function describeArchive(file: string): Promise<ArchiveFile> {
  const info = await stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new AuditError('FILE_NOT_FOUND', e.code === 'ENOENT' ? 'no such file' : e.message, file);
  });
  // checked before opening: opening a FIFO would wait for a writer
  if (!info.isFile()) throw new AuditError('IS_DIRECTORY', 'is not a file: give the case archive itself', file);
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(2);
    await handle.read(head, 0, 2, 0);
    return { path: file, size: info.size, compressed: head[0] === 0x1f && head[1] === 0x8b };
  } finally {
    await handle.close();
  }
}

/** The import's progress through the archive's entries: which entry may come next, and what was learnt. */
class ImportState {
  private manifest: ArchiveManifest | null = null;
  private listed = new Map<string, ListedFile>();
  private folders = new Set<string>();
  private arrived = new Set<string>();
  /** Listed files among `arrived` (which holds folders too): the import's progress. */
  private filesArrived = 0;
  private made = new Set<string>();
  private rows: CaseRows | null = null;
  private signature: ArchiveSignature = { status: 'unsigned' };
  private manifestBytes: Buffer | null = null;
  private readonly db: Database;
  private readonly info: ArchiveFile;
  private readonly free: number;
  private readonly work: string;
  private readonly bad: (m: string) => AuditError;
  private readonly options: ImportOptions;

  constructor(db: Database, info: ArchiveFile, free: number, work: string, bad: (m: string) => AuditError, options: ImportOptions) {
    this.db = db;
    this.info = info;
    this.free = free;
    this.work = work;
    this.bad = bad;
    this.options = options;
  }

  async plan(h: EntryHeader): Promise<EntryPlan> {
    const { bad } = this;
    throwIfCancelled(this.options, this.info.path);
    if (this.manifest) this.options.onProgress?.(this.filesArrived, this.manifest.files.length, h.path);
    const isFile = h.type === 'File';
    if (!this.manifest) {
      if (h.path !== MANIFEST || !isFile) throw bad(`the archive's first entry is ${h.path.slice(0, 200)}, not manifest.json: it is not a LoRA Auditor case archive (or was rebuilt out of order)`);
      if (h.size > LIMITS.manifestBytes) throw bad(`manifest.json is ${h.size} bytes; a manifest is at most ${LIMITS.manifestBytes}`);
      return { kind: 'memory', done: (bytes) => this.onManifest(bytes) };
    }
    if (h.path === SIGNATURE && isFile && this.arrived.size === 0 && this.signature.status === 'unsigned') {
      if (h.size > LIMITS.signatureBytes) throw bad(`${SIGNATURE} is ${h.size} bytes; a signature is at most ${LIMITS.signatureBytes}`);
      return { kind: 'memory', done: (bytes) => this.onSignature(bytes) };
    }
    if (h.type === 'Directory') {
      // folders are not listed: each folder of a listed file may appear once, nothing else
      const folder = h.path.replace(/\/$/, '');
      if (h.size !== 0 || !this.folders.has(folder) || this.arrived.has(folder)) throw bad(`the archive holds a folder ${h.path.slice(0, 200)} that its manifest does not account for`);
      this.arrived.add(folder);
      return { kind: 'skip' };
    }
    if (!isFile) throw bad(`the archive holds ${h.path.slice(0, 200)} of type ${h.type}: a case archive holds only files and folders`);
    const f = this.listed.get(h.path);
    if (!f) throw bad(`the archive holds ${h.path.slice(0, 200)}, which its manifest does not list`);
    if (this.arrived.has(h.path)) throw bad(`the archive holds ${h.path} twice`);
    if (h.size !== f.size) throw bad(`the archive's ${h.path} is ${h.size} bytes; the manifest lists ${f.size}`);
    this.arrived.add(h.path);
    this.filesArrived++;
    if (!this.rows) {
      if (h.path !== CASE_JSON) throw bad(`${h.path} comes before case.json: the archive was rebuilt out of order`);
      if (h.size > LIMITS.caseJsonBytes) throw bad(`case.json is ${h.size} bytes; an import reads at most ${LIMITS.caseJsonBytes}`);
      return { kind: 'memory', done: (bytes) => this.onCaseJson(bytes, f) };
    }
    const target = join(this.work, h.path);
    if (!this.made.has(dirname(target))) {
      await mkdir(dirname(target), { recursive: true });
      this.made.add(dirname(target));
    }
    return { kind: 'file', target, sha256: f.sha256 };
  }

  private onManifest(bytes: Buffer): void {
    this.manifest = parseManifest(bytes, this.info, this.free);
    this.manifestBytes = bytes;
    for (const f of this.manifest.files) this.listed.set(f.path, f);
    this.folders = foldersOf(this.listed.keys());
  }

  private async onSignature(cms: Buffer): Promise<void> {
    if (!this.options.verifyCms) throw new AuditError('SIGNATURE_INVALID', 'the archive is signed but this import cannot check signatures', this.info.path);
    const v = await this.options.verifyCms(new Uint8Array(this.manifestBytes!), new Uint8Array(cms), { trust: this.options.trust ?? [] });
    if (!v.signatureValid || !v.signer) {
      throw new AuditError('SIGNATURE_INVALID', `the archive's manifest signature does not verify: the archive was altered after it was signed${v.problems.length ? ` (${v.problems.join('; ')})` : ''}; nothing was imported`, this.info.path);
    }
    const { subject, serial, sha256Fingerprint } = v.signer;
    this.signature = { status: 'signed', signer: { subject, serial, sha256Fingerprint }, trusted: v.trusted, problems: v.problems };
  }

  private async onCaseJson(bytes: Buffer, listed: ListedFile): Promise<void> {
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== listed.sha256) throw this.bad(`case.json does not match the manifest (SHA-256 ${got}, manifest says ${listed.sha256}): the archive was altered`);
    const rows = parseCaseRows(bytes, this.bad);
    checkRows(rows, this.manifest!, this.bad);
    await checkNewToDatabase(this.db, rows, this.info.path);
    this.rows = rows;
  }

  finish(): { manifest: ArchiveManifest; rows: CaseRows; signature: ArchiveSignature } {
    if (!this.manifest || !this.rows) throw this.bad('the archive ends before its manifest and case.json');
    for (const path of this.listed.keys()) if (!this.arrived.has(path)) throw this.bad(`the manifest lists ${path}, which the archive does not hold`);
    return { manifest: this.manifest, rows: this.rows, signature: this.signature };
  }
}

/** What the import's audit entry records of the signature. */
function signatureRecord(s: ArchiveSignature): Record<string, unknown> {
  return s.status === 'unsigned' ? { status: 'unsigned' }
    : { status: 'signed', subject: s.signer?.subject, sha256Fingerprint: s.signer?.sha256Fingerprint, trusted: s.trusted };
}
