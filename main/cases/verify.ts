// Verifying a case: is everything it recorded still exactly what was recorded? The audit chain is
// walked (first broken link) and compared with the journal kept beside the database (journal.ts),
// every row is held to the audit entry that recorded it (trail-rows.ts),
// every stored evidence copy and companion is re-hashed against its row, every issued report's copy
// likewise, and every report's signed manifest is compared with the database now (anchors.ts). The
// verification itself is audited, unless the chain is broken: an entry appended after a cut tail
// would hide the cut.
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import { resolveActor } from './actor.ts';
import { appendAudit, auditRows, verifyAudit, type ChainVerification } from './audit.ts';
import { checkStoredCopy, compareSignedReports, storedCopyPhrase, type CheckSignedStatement } from './anchors.ts';
import { getCase } from './cases.ts';
import { listEvidence } from './evidence.ts';
import { compareWithJournal, readJournal } from './journal.ts';
import { listReports } from './reports.ts';
import { recoverStore } from './store.ts';
import { compareCaseRowsWithTrail } from './trail-rows.ts';

export type ProblemKind = 'audit-chain' | 'audit-journal' | 'evidence-hash' | 'evidence-missing' | 'report-hash' | 'report-missing'
  | 'report-unsigned' | 'report-signature' | 'report-divergence' | 'record-divergence'
  // warnings: they do not make a case fail, and say what could not be checked
  | 'journal-missing' | 'journal-unreadable' | 'reports-not-compared';

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
  /** What could not be checked (no journal, unreadable journal lines, no signature checker given). */
  warnings: VerifyProblem[];
  audit: ChainVerification;
  checked: { evidence: number; companions: number; reports: number; auditEntries: number; journalLines: number };
  /** Leftovers of interrupted imports that were removed first (never part of the record). */
  recovered: string[];
  verifiedAt: string;
}

export interface VerifyCaseOptions {
  actor?: string;
  /** Checks a report's stored signed manifest (main/reports/signed-statement.ts: checkSignedStatement).
   *  Without it the reports' signed manifests are not compared, and a warning says so. */
  checkSignedStatement?: CheckSignedStatement;
}

export async function verifyCase(db: Database, caseIdOrPrefix: string, options: VerifyCaseOptions = {}): Promise<CaseVerification> {
  const kase = await getCase(db, caseIdOrPrefix);
  const { removed } = await recoverStore(db, kase.id);
  const problems: VerifyProblem[] = [];
  const warnings: VerifyProblem[] = [];
  // the journal before the trail: a line is written after its commit, so every line read here is in
  // the trail read next unless the trail was changed
  const journal = await readJournal(db.path, kase.id);
  const audit = await verifyAudit(db, kase.id);
  if (!audit.ok && audit.problem) {
    problems.push({ kind: 'audit-chain', seq: audit.problem.seq, message: `audit_log: ${audit.problem.message}` });
  }
  const anchored = compareWithJournal(journal, await auditRows(db, kase.id));
  problems.push(...anchored.problems);
  warnings.push(...anchored.warnings);
  // the rows beside the trail: each must be what its entry recorded
  problems.push(...(await compareCaseRowsWithTrail(db, kase.id)));
  const evidence = await listEvidence(db, kase.id);
  let companions = 0;
  for (const item of evidence) {
    const files = [{ path: item.storedPath, sha256: item.sha256, name: item.fileName }, ...item.companions.map((c) => ({ path: c.storedPath, sha256: c.sha256, name: c.fileName }))];
    companions += item.companions.length;
    for (const f of files) {
      const problem = await checkStoredCopy(f.path, f.sha256);
      if (problem) {
        problems.push({ kind: problem === 'missing' ? 'evidence-missing' : 'evidence-hash', evidenceId: item.id, file: f.path,
          message: `evidence ${item.id} (${f.name}): the stored copy ${storedCopyPhrase(problem, f.sha256)}` });
      }
    }
  }
  const reports = await listReports(db, kase.id);
  for (const r of reports) {
    const problem = await checkStoredCopy(r.storedPath, r.sha256);
    if (problem) {
      problems.push({ kind: problem === 'missing' ? 'report-missing' : 'report-hash', reportId: r.id, file: r.storedPath,
        message: `report ${r.id}: its stored copy ${storedCopyPhrase(problem, r.sha256)}` });
    }
  }
  if (options.checkSignedStatement) {
    problems.push(...(await compareSignedReports(db, kase.id, options.checkSignedStatement)));
  } else if (reports.length > 0) {
    warnings.push({ kind: 'reports-not-compared', message: `the signed manifests of ${reports.length} report(s) were not compared with the case: this verification was given no signature checker` });
  }
  const result: CaseVerification = {
    caseId: kase.id, ok: problems.length === 0, problems, warnings, audit,
    checked: { evidence: evidence.length, companions, reports: reports.length, auditEntries: audit.entries, journalLines: journal.lines.length },
    recovered: removed, verifiedAt: new Date().toISOString(),
  };
  if (audit.ok) {
    await db.transaction((tx) => appendAudit(tx, kase.id, resolveActor(kase.examiner, options.actor), 'verify', {
      ok: result.ok, problems: problems.map((p) => ({ kind: p.kind, message: p.message })),
      warnings: warnings.map((w) => ({ kind: w.kind, message: w.message })), checked: result.checked, recovered: removed,
    }, result.verifiedAt));
  }
  return result;
}

/** For what vouches for a case (a signed report, an archive): the case must verify first, and the
 *  first problem is named when it does not, with `what` saying what was not done. `tolerate`: kinds
 *  of problem the caller states itself (a report shows a broken chain and refused evidence). */
export async function requireVerified(db: Database, caseIdOrPrefix: string, options: VerifyCaseOptions, what: string,
  tolerate: ProblemKind[] = []): Promise<CaseVerification> {
  const check = await verifyCase(db, caseIdOrPrefix, options);
  const first = check.problems.find((p) => !tolerate.includes(p.kind));
  if (first) {
    throw new AuditError(first.kind === 'audit-chain' ? 'AUDIT_BROKEN' : 'HASH_MISMATCH',
      `case ${check.caseId} does not verify, so ${what}: ${first.message}`);
  }
  return check;
}
