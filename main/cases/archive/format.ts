// The case archive's format: what the manifest holds, the limits an import enforces before it writes a
// byte, and the manifest's own checks. An archive is a tar whose entries come in this order:
//   manifest.json        format, case id, audit head, the size and SHA-256 of every other file, and the
//                        issued reports (id, SHA-256)
//   manifest.json.p7s    optional: a detached CMS signature over manifest.json's exact bytes (the examiner's key)
//   case.json            every row of the case
//   store/<caseId>/evidence/<sha256>/<file>, store/<caseId>/reports/<id>/<file>   the stored copies
// The order is what lets an import decide everything from the manifest and case.json before it writes
// the large files, and refuse any entry from its header alone.
import type { AuditRow } from '../audit.ts';
import type { CaseRow } from '../cases.ts';
import type { SqlValue } from '../../db/database.ts';
import { AuditError } from '../../errors.ts';

/** A long archive job's progress and cancel (the app shows the first and honours the second). */
export interface ArchiveJob {
  signal?: AbortSignal;
  /** Files handled so far of the total the manifest lists (export: copied and hashed). */
  onProgress?(done: number, total: number, file: string): void;
}

export function throwIfCancelled(job: ArchiveJob, file: string): void {
  if (job.signal?.aborted) throw new AuditError('CANCELLED', 'the archive job was cancelled; nothing was written', file);
}

export const ARCHIVE_FORMAT = 'lora-audit-case-archive';
/** 2: the manifest lists the issued reports, and may be signed (manifest.json.p7s). 1 is still read. */
export const ARCHIVE_VERSION = 2;
export const MANIFEST = 'manifest.json';
export const SIGNATURE = 'manifest.json.p7s';
export const CASE_JSON = 'case.json';

/** Bounds checked before anything is read into memory or written to disk. */
export const LIMITS = {
  /** Files an archive may list (case.json, evidence copies and companions, reports). */
  files: 10_000,
  manifestBytes: 8 << 20,
  signatureBytes: 1 << 20,
  /** case.json is parsed in memory. */
  caseJsonBytes: 128 << 20,
  /** Bytes of one path, and of one segment (what file systems allow). */
  pathBytes: 1024,
  segmentBytes: 255,
  /** A compressed archive may expand to at most this many times its size. Adapter weights are float
   *  noise (gzip keeps ~0.9 of them) and JSON shrinks ~10×, so an honest archive stays far below. */
  expansion: 64,
  /** Free space left on the data folder's disk after the import. */
  diskMargin: 64 << 20,
} as const;

export const ROW_TABLES = ['evidence', 'analyses', 'reports', 'notes'] as const;
export type RowTable = typeof ROW_TABLES[number];
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const SHA256 = /^[0-9a-f]{64}$/;

export interface ListedFile { path: string; size: number; sha256: string }

export interface ArchiveManifest {
  format: typeof ARCHIVE_FORMAT;
  version: number;
  caseId: string;
  title: string;
  exportedAt: string;
  appVersion: string;
  auditHead: { seq: number; hash: string };
  files: ListedFile[];
  /** Every issued report of the case (version 2 on). */
  reports?: { id: string; sha256: string }[];
}

export interface CaseRows {
  case: CaseRow;
  evidence: Record<string, SqlValue>[];
  analyses: Record<string, SqlValue>[];
  reports: Record<string, SqlValue>[];
  notes: Record<string, SqlValue>[];
  audit_log: AuditRow[];
}

export interface ArchiveSigner { subject: string; serial: string; sha256Fingerprint: string }

/** Who signed an imported archive's manifest, as the import result shows it. */
export interface ArchiveSignature {
  status: 'signed' | 'unsigned';
  signer?: ArchiveSigner;
  trusted?: boolean;
  problems?: string[];
}

/** The detached CMS check (main/reports/cms.ts verifyDetachedCms), handed in by the caller: cases do
 *  not import the reports layer. */
export type VerifyCms = (data: Uint8Array, cms: Uint8Array, options: { trust?: string[] }) => Promise<{
  signatureValid: boolean; signer: ArchiveSigner | null; trusted: boolean; problems: string[];
}>;

/** How an export signs its manifest (main/reports/cms.ts signDetachedCms with the examiner's key). */
export interface ArchiveSigning {
  sign(data: Uint8Array): Promise<Uint8Array>;
  signer: ArchiveSigner;
}

export interface ExportResult {
  caseId: string;
  file: string;
  size: number;
  sha256: string;
  files: number;
  signed: boolean;
  signer?: ArchiveSigner;
}

export interface ImportResult {
  caseId: string;
  title: string;
  archiveSha256: string;
  counts: { evidence: number; analyses: number; reports: number; notes: number; auditEntries: number };
  signature: ArchiveSignature;
}

/** What the archive file is, for bounding what its manifest may claim. */
export interface ArchiveFile { path: string; size: number; compressed: boolean }

/**
 * Parses and checks manifest.json: shape, version, case id, every listed path (safe, in the store's
 * layout, listed once), and the listed total, which must fit in the archive (uncompressed: its bytes
 * are in the file; compressed: at most LIMITS.expansion times it) and on the disk. Nothing has been
 * written when this refuses.
 */
export function parseManifest(bytes: Buffer, archive: ArchiveFile, freeBytes: number): ArchiveManifest {
  const file = archive.path;
  const badManifest = (m: string) => new AuditError('BAD_MANIFEST', m, file);
  const bad = (m: string) => new AuditError('BAD_ARCHIVE', m, file);
  let m: ArchiveManifest;
  try {
    m = JSON.parse(bytes.toString('utf8')) as ArchiveManifest;
  } catch {
    throw badManifest('the archive has no readable manifest.json: it is not a LoRA Auditor case archive');
  }
  if (!isObject(m) || m.format !== ARCHIVE_FORMAT || !Array.isArray(m.files) || typeof m.caseId !== 'string') {
    throw badManifest('manifest.json is not a LoRA Auditor case manifest');
  }
  if (!Number.isSafeInteger(m.version) || m.version < 1 || m.version > ARCHIVE_VERSION) {
    throw badManifest(`the archive was written in format version ${String(m.version)} by LoRA Auditor ${String(m.appVersion)}; this version reads 1 to ${ARCHIVE_VERSION}`);
  }
  for (const key of ['title', 'exportedAt', 'appVersion'] as const) {
    if (typeof m[key] !== 'string' || m[key].length > 10_000) throw badManifest(`the manifest's ${key} is not a text`);
  }
  if (!isObject(m.auditHead) || !Number.isSafeInteger(m.auditHead.seq) || typeof m.auditHead.hash !== 'string') {
    throw badManifest('the manifest has no audit head');
  }
  // the id names a folder in the store: only the ids this app makes (UUIDs) are accepted
  if (!UUID.test(m.caseId)) throw bad(`"${m.caseId.slice(0, 100)}" is not a case id`);
  if (m.files.length > LIMITS.files) throw bad(`the manifest lists ${m.files.length} files; a case archive holds at most ${LIMITS.files}`);
  const seen = new Set<string>();
  let total = 0;
  for (const f of m.files) {
    if (!isObject(f) || typeof f.path !== 'string' || typeof f.sha256 !== 'string' || !Number.isSafeInteger(f.size) || f.size < 0) {
      throw badManifest('manifest.json is not a LoRA Auditor case manifest (a listed file lacks its path, size or SHA-256)');
    }
    if (!SHA256.test(f.sha256)) throw badManifest(`the manifest's SHA-256 of ${f.path.slice(0, 200)} is not a SHA-256`);
    checkListedPath(f.path, m.caseId, bad);
    if (seen.has(f.path)) throw bad(`the manifest lists ${f.path} twice`);
    seen.add(f.path);
    total += f.size;
  }
  if (!seen.has(CASE_JSON)) throw badManifest('the manifest does not list case.json');
  if (m.version >= 2) {
    if (!Array.isArray(m.reports) || m.reports.length > LIMITS.files
      || !m.reports.every((r) => isObject(r) && typeof r.id === 'string' && typeof r.sha256 === 'string')) {
      throw badManifest('the manifest does not list the issued reports (id, SHA-256)');
    }
  }
  const room = archive.compressed ? archive.size * LIMITS.expansion : archive.size;
  if (total > room) {
    throw bad(archive.compressed
      ? `the manifest lists ${total} bytes of files, more than ${LIMITS.expansion} times the ${archive.size}-byte compressed archive: refused as a decompression bomb`
      : `the manifest lists ${total} bytes of files, more than the whole ${archive.size}-byte archive holds`);
  }
  if (total + LIMITS.diskMargin > freeBytes) {
    throw new AuditError('LIMIT_EXCEEDED', `the archive's files take ${total} bytes; the data folder's disk has ${freeBytes} bytes free`, file);
  }
  return m;
}

/** case.json, or store/<caseId>/(evidence|reports)/<folder>/<file>: nothing else, and no segment that
 *  could leave the folder it is unpacked into. */
function checkListedPath(path: string, caseId: string, bad: (m: string) => AuditError): void {
  const shown = path.slice(0, 200);
  if (path === CASE_JSON) return;
  if (Buffer.byteLength(path) > LIMITS.pathBytes) throw bad(`the manifest lists a path of more than ${LIMITS.pathBytes} bytes (${shown}…)`);
  const parts = path.split('/');
  const safe = parts.every((s) => s !== '' && s !== '.' && s !== '..' && Buffer.byteLength(s) <= LIMITS.segmentBytes && !/[\\\0]/.test(s));
  if (!safe || parts.length !== 5 || parts[0] !== 'store' || parts[1] !== caseId || (parts[2] !== 'evidence' && parts[2] !== 'reports')) {
    throw bad(`the manifest lists "${shown}", which is not a file of case ${caseId}'s store (store/${caseId}/evidence|reports/<folder>/<file>)`);
  }
}

/** The folders a listed path lies in (for a tar's folder entries: only these are accepted). */
export function foldersOf(paths: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) out.add(parts.slice(0, i).join('/'));
  }
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
