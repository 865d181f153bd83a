// Verifying a case: is everything it recorded still exactly what was recorded? The audit chain is
// walked (first broken link), every stored evidence copy and companion is re-hashed against its row,
// and every issued report's copy likewise. The verification itself is audited, unless the chain is
// broken: an entry appended after a cut tail would hide the cut.
import { access } from 'node:fs/promises';
import type { Database } from '../db/database.ts';
import { resolveActor } from './actor.ts';
import { appendAudit, verifyAudit, type ChainVerification } from './audit.ts';
import { getCase } from './cases.ts';
import { listEvidence } from './evidence.ts';
import { sha256File } from './hashing.ts';
import { listReports } from './reports.ts';
import { recoverStore } from './store.ts';

export type ProblemKind = 'audit-chain' | 'evidence-hash' | 'evidence-missing' | 'report-hash' | 'report-missing';

export interface VerifyProblem {
  kind: ProblemKind;
  message: string;
  seq?: number;
  evidenceId?: string;
  reportId?: string;
  file?: string;
}

export interface CaseVerification {
  caseId: string;
  ok: boolean;
  problems: VerifyProblem[];
  audit: ChainVerification;
  checked: { evidence: number; companions: number; reports: number; auditEntries: number };
  /** Leftovers of interrupted imports that were removed first (never part of the record). */
  recovered: string[];
  verifiedAt: string;
}

export async function verifyCase(db: Database, caseIdOrPrefix: string, options: { actor?: string } = {}): Promise<CaseVerification> {
  const kase = await getCase(db, caseIdOrPrefix);
  const { removed } = await recoverStore(db, kase.id);
  const problems: VerifyProblem[] = [];
  const audit = await verifyAudit(db, kase.id);
  if (!audit.ok && audit.problem) {
    problems.push({ kind: 'audit-chain', seq: audit.problem.seq, message: `audit_log: ${audit.problem.message}` });
  }
  const evidence = await listEvidence(db, kase.id);
  let companions = 0;
  for (const item of evidence) {
    const files = [{ path: item.storedPath, sha256: item.sha256, name: item.fileName }, ...item.companions.map((c) => ({ path: c.storedPath, sha256: c.sha256, name: c.fileName }))];
    companions += item.companions.length;
    for (const f of files) {
      const problem = await checkFile(f.path, f.sha256);
      if (problem === 'missing') {
        problems.push({ kind: 'evidence-missing', evidenceId: item.id, file: f.path, message: `evidence ${item.id} (${f.name}): the stored copy is gone` });
      } else if (problem) {
        problems.push({ kind: 'evidence-hash', evidenceId: item.id, file: f.path,
          message: `evidence ${item.id} (${f.name}): the stored copy no longer matches its recorded SHA-256 (recorded ${f.sha256}, now ${problem})` });
      }
    }
  }
  const reports = await listReports(db, kase.id);
  for (const r of reports) {
    const problem = await checkFile(r.storedPath, r.sha256);
    if (problem === 'missing') {
      problems.push({ kind: 'report-missing', reportId: r.id, file: r.storedPath, message: `report ${r.id}: its stored copy is gone` });
    } else if (problem) {
      problems.push({ kind: 'report-hash', reportId: r.id, file: r.storedPath, message: `report ${r.id}: its stored copy no longer matches its recorded SHA-256 (recorded ${r.sha256}, now ${problem})` });
    }
  }
  const result: CaseVerification = {
    caseId: kase.id, ok: problems.length === 0, problems, audit,
    checked: { evidence: evidence.length, companions, reports: reports.length, auditEntries: audit.entries },
    recovered: removed, verifiedAt: new Date().toISOString(),
  };
  if (audit.ok) {
    await db.transaction((tx) => appendAudit(tx, kase.id, resolveActor(kase.examiner, options.actor), 'verify', {
      ok: result.ok, problems: problems.map((p) => ({ kind: p.kind, message: p.message })), checked: result.checked,
      recovered: removed,
    }, result.verifiedAt));
  }
  return result;
}

/** null when the file matches; 'missing'; or the hash it has now. */
async function checkFile(path: string, sha256: string): Promise<string | null> {
  try {
    await access(path);
  } catch {
    return 'missing';
  }
  const now = await sha256File(path);
  return now.sha256 === sha256 ? null : now.sha256;
}
