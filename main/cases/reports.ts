// Reports issued for a case. The reports engineer renders and signs the PDF, then calls
// recordReport(): the file is hashed, a read-only copy kept in the case folder (so an archive and a
// later verify have the exact bytes that were issued), and the row and its audit entry written in one
// transaction. The signed manifest written beside the PDF and its signature are copied into the same
// folder and hashed in the row (`companions`) and in the audit entry: verification compares the case
// with what was signed (anchors.ts), never with the unsigned copy in the `manifest` column.
import { basename, join, resolve } from 'node:path';
import type { Database, Queryable } from '../db/database.ts';
import { resolveActor } from './actor.ts';
import { AuditError } from '../errors.ts';
import { appendAudit } from './audit.ts';
import { getCase } from './cases.ts';
import { newId } from './ids.ts';
import { commitStaging, discardStaging, newStaging, stageCopy, storeRoot, storedFile } from './store.ts';

export type ReportCompanionRole = 'manifest' | 'signature';

export interface ReportCompanion {
  role: ReportCompanionRole;
  fileName: string;
  storedPath: string;   // absolute: the copy in the report's folder
  size: number;
  sha256: string;
}

export interface ReportRecord {
  id: string;
  caseId: string;
  file: string;         // where it was written
  storedPath: string;   // absolute: the copy in the case folder
  sha256: string;
  size: number;
  signer: string;
  createdAt: string;
  manifest: Record<string, unknown>;
  /** The signed manifest and its signature kept with the PDF copy; empty for reports recorded without them. */
  companions: ReportCompanion[];
}

export interface RecordReportInput {
  file: string;
  /** The signing certificate's subject (or a name), as the report shows it. */
  signer: string;
  /** What the report covers (evidence ids and hashes, analyses, reference set …): stored as given. */
  manifest: Record<string, unknown>;
  /** The signed manifest file and its signature file, as the report pipeline wrote them beside the PDF. */
  signedManifest?: { manifest: string; signature: string };
  actor?: string;
}

export interface ReportRow {
  id: string; case_id: string; file: string; stored_path: string; sha256: string; size: number; signer: string;
  created_at: string; manifest: string; companions: string;
}

interface StoredCompanion { role: ReportCompanionRole; fileName: string; storedPath: string; size: number; sha256: string }

export function rowToReport(root: string, r: ReportRow): ReportRecord {
  return {
    id: r.id, caseId: r.case_id, file: r.file, storedPath: storedFile(root, r.stored_path), sha256: r.sha256,
    size: r.size, signer: r.signer, createdAt: r.created_at, manifest: JSON.parse(r.manifest) as Record<string, unknown>,
    companions: companionsOf(r.companions).map((c) => ({ ...c, storedPath: storedFile(root, c.storedPath) })),
  };
}

/** The row's companions, keeping only well-formed entries: a hand-edited column reads as "no signed
 *  manifest stored", which verification reports. */
function companionsOf(text: string | undefined): StoredCompanion[] {
  let list: unknown;
  try {
    list = JSON.parse(text ?? '[]');
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.filter((c): c is StoredCompanion => !!c && typeof c === 'object' && (c.role === 'manifest' || c.role === 'signature')
    && typeof c.fileName === 'string' && typeof c.storedPath === 'string' && Number.isSafeInteger(c.size) && typeof c.sha256 === 'string');
}

export async function recordReport(db: Database, caseIdOrPrefix: string, input: RecordReportInput): Promise<ReportRecord> {
  const kase = await getCase(db, caseIdOrPrefix);
  const actor = resolveActor(kase.examiner, input.actor);
  const root = storeRoot(db.path);
  const file = resolve(input.file);
  const fileName = basename(file);
  const extra: [ReportCompanionRole, string][] = input.signedManifest
    ? [['manifest', resolve(input.signedManifest.manifest)], ['signature', resolve(input.signedManifest.signature)]] : [];
  const names = [fileName, ...extra.map(([, p]) => basename(p))];
  if (new Set(names).size !== names.length) {
    throw new AuditError('BAD_REQUEST', `the report, its manifest and its signature need three different file names (got ${names.join(', ')})`, file);
  }
  const staging = await newStaging(root, kase.id, 'reports');
  try {
    const staged = await stageCopy(file, staging, fileName);
    const stagedExtra = [];
    for (const [role, path] of extra) stagedExtra.push({ role, ...(await stageCopy(path, staging, basename(path))) });
    const id = newId();
    const createdAt = new Date().toISOString();
    // one folder per report: the same PDF bytes recorded twice are still two issued reports
    const rel = `${kase.id}/reports/${id}`;
    const companions: StoredCompanion[] = stagedExtra.map((c) => ({ role: c.role, fileName: c.fileName, storedPath: `${rel}/${c.fileName}`, size: c.size, sha256: c.sha256 }));
    const signed = Object.fromEntries(companions.map((c) => [`${c.role}Sha256`, c.sha256]));
    await db.transaction(async (tx) => {
      await commitStaging(staging, join(root, rel));
      await tx.run(`INSERT INTO reports (id, case_id, file, stored_path, sha256, size, signer, created_at, manifest, companions)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [id, kase.id, file, `${rel}/${fileName}`, staged.sha256, staged.size, input.signer, createdAt, JSON.stringify(input.manifest), JSON.stringify(companions)]);
      await appendAudit(tx, kase.id, actor, 'report', { reportId: id, file, sha256: staged.sha256, size: staged.size, signer: input.signer, ...signed }, createdAt);
    });
    return (await listReports(db, kase.id)).find((r) => r.id === id)!;
  } finally {
    await discardStaging(staging);
  }
}

export async function listReports(db: Database, caseId: string): Promise<ReportRecord[]> {
  return listReportsIn(db, storeRoot(db.path), caseId);
}

export async function listReportsIn(q: Queryable, root: string, caseId: string): Promise<ReportRecord[]> {
  const rows = await q.all<ReportRow>('SELECT * FROM reports WHERE case_id = ? ORDER BY created_at, id', [caseId]);
  return rows.map((r) => rowToReport(root, r));
}
