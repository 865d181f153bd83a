// Where did this adapter come from: a file against every evidence item of every case and every adapter
// of every reference set. Two hosts: `lora-audit provenance` (syncIndex once, then checkFingerprinted per
// file) and a case's add-evidence (checkEvidence: the matches become findings and part of the audit
// entry, and the new item's fingerprint joins the index in the same transaction as its row).
import type { Database, Queryable } from '../db/database.ts';
import { isAuditError, toApiError, type ErrorCode } from '../errors.ts';
import type { Finding } from '../intake/model.ts';
import type { ProvenanceMatch } from './describe.ts';
import { fingerprintFile, type FileFingerprint } from './file.ts';
import { FLOOR_COMPUTED } from './keys.ts';
import { searchIndex, type SearchResult } from './search.ts';
import { insertFingerprints } from './store.ts';
import { syncIndex, type SyncOptions, type SyncReport } from './sync.ts';

export { syncIndex };

export interface ProvenanceReport extends SearchResult {
  file: string;
  sha256: string;
  fingerprint: { status: 'indexed'; family: string; modules: number } | { status: 'refused'; family: string; code: ErrorCode; message: string };
}

export type CheckOptions = SyncOptions;

export async function checkFingerprinted(q: Queryable, file: FileFingerprint, sync: SyncReport | null): Promise<ProvenanceReport> {
  const result = await searchIndex(q, { sha256: file.sha256, fp: file.fp, describe: { family: file.family, dtypes: file.dtypes } });
  return {
    file: file.file, sha256: file.sha256,
    fingerprint: file.fp ? { status: 'indexed', family: file.family, modules: file.fp.modules.length }
      : { status: 'refused', family: file.family, code: file.refusal!.code, message: file.refusal!.message },
    ...result,
    notes: [...(sync?.notes ?? []), ...result.notes],
  };
}

export interface EvidenceProvenance {
  /** null when the check itself failed (the findings say why). */
  report: ProvenanceReport | null;
  /** PROVENANCE_MATCH findings for the stored inspection. */
  findings: Finding[];
  /** What the audit entry records: each match's kind, where (by id) and detail. */
  audit: Record<string, unknown>;
  /** Adds the item's fingerprint to the index; call in the transaction that inserts its row. */
  record(tx: Queryable, evidenceId: string): Promise<void>;
}

/** Provenance of a file being added as evidence (its staged copy, already hashed by the store). The
 *  evidence is kept whatever happens here: a check that fails says so in a finding and the audit entry. */
export async function checkEvidence(db: Database, stagedFile: string, sha256: string, opts: CheckOptions): Promise<EvidenceProvenance> {
  let file: FileFingerprint;
  let report: ProvenanceReport;
  try {
    const sync = await syncIndex(db, opts);
    file = await fingerprintFile(stagedFile, { expectedSha256: sha256, signal: opts.signal });
    report = await checkFingerprinted(db, file, sync);
  } catch (e) {
    if (isAuditError(e, 'CANCELLED')) throw e;
    const api = toApiError(e);
    return {
      report: null,
      findings: [{ severity: 'warning', code: 'PROVENANCE_UNCHECKED', message: `provenance was not checked: ${api.message}` }],
      audit: { error: { code: api.code, message: api.message } },
      record: async () => undefined,
    };
  }
  return {
    report,
    findings: provenanceFindings(report),
    audit: auditSummary(report),
    record: async (tx, evidenceId) => {
      await insertFingerprints(tx, [{
        source: 'evidence', evidenceId, sha256, describe: { family: file.family, dtypes: file.dtypes }, fp: file.fp, floor: FLOOR_COMPUTED,
        ...(file.refusal ? { reason: `${file.refusal.code}: ${file.refusal.message}` } : {}),
      }]);
    },
  };
}

/** One finding per match: a warning for a copy of something already seen, info for a near one. */
export function provenanceFindings(report: ProvenanceReport): Finding[] {
  const out: Finding[] = report.matches.map((m) => ({
    severity: m.kind === 'near' ? 'info' : 'warning', code: 'PROVENANCE_MATCH', message: m.detail,
  }));
  if (report.truncated > 0) {
    out.push({ severity: 'info', code: 'PROVENANCE_MATCH', message: `${report.truncated} further provenance matches not listed (lora-audit provenance lists them all)` });
  }
  return out;
}

export function auditSummary(report: ProvenanceReport): Record<string, unknown> {
  return {
    fingerprint: report.fingerprint.status === 'indexed' ? { status: 'indexed', modules: report.fingerprint.modules }
      : { status: 'refused', code: report.fingerprint.code },
    searched: report.searched,
    matches: report.matches.map((m) => ({ kind: m.kind, where: auditWhere(m), basis: m.basis, ...(m.factor !== undefined ? { factor: m.factor } : {}), detail: m.detail })),
    ...(report.truncated ? { truncated: report.truncated } : {}),
    ...(report.skipped.length ? { skipped: report.skipped.length } : {}),
  };
}

function auditWhere(m: ProvenanceMatch): Record<string, unknown> {
  const w = m.where;
  return w.source === 'evidence' ? { caseId: w.caseId, evidenceId: w.evidenceId } : { set: w.set, adapterId: w.adapterId, name: w.name, label: w.label };
}

