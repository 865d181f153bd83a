// Analyses of evidence items. Before anything is computed the stored copy is re-hashed: if its bytes
// are no longer the ones recorded at import, the analysis is refused with a finding and an audit entry,
// and no result is written. Otherwise the straight pipeline runs on the stored copy (intake → features
// → DSiRe) and the result, with the reference set's provenance as it was at that moment, the method
// and app versions and the compute backend, is written with its audit entry in one transaction: a
// crash at any point leaves either both or neither.
import { DEFAULT_MODE } from '../analysis/mode.ts';
import { checkJustification } from '../analysis/override.ts';
import type { Database, Queryable } from '../db/database.ts';
import type { AnalysisResult, DsireMode } from '../dsire/types.ts';
import { toApiError } from '../errors.ts';
import type { Finding } from '../intake/model.ts';
import type { ReferenceProvenance } from '../reference/types.ts';
import type { FeatureEngine } from '../../native/types.ts';
import { resolveActor } from './actor.ts';
import { appendAudit } from './audit.ts';
import { getCase } from './cases.ts';
import { getEvidence } from './evidence.ts';
import { sha256Hex } from '../common/hashing.ts';
import { checkStoredCopy, NOT_A_FILE, storedCopyPhrase } from './anchors.ts';
import { newId } from './ids.ts';
import { appVersion } from './version.ts';

export interface AnalysisRecord {
  id: string;
  caseId: string;
  evidenceId: string;
  referenceSet: string;
  referenceSetId: number;
  referenceProvenance: ReferenceProvenance;
  mode: DsireMode;
  parameters: Record<string, unknown>;
  result: AnalysisResult;
  methodVersion: string;
  appVersion: string;
  backend: string;
  startedAt: string;
  finishedAt: string;
}

export type AnalysisOutcome =
  | { status: 'done'; evidenceId: string; analysis: AnalysisRecord }
  | { status: 'refused'; evidenceId: string; finding: Finding };

export interface AnalysisOptions {
  /** Absent: the pipeline's DEFAULT_MODE, the same for every host. */
  mode?: DsireMode;
  actor?: string;
  /** The examiner's justification for comparing despite soft refusal reasons (issue 18): checked before
   *  anything runs; a hard reason refuses the analysis (recorded, code OVERRIDE_REFUSED). The result
   *  carries the override and its audit entry records it. */
  override?: string;
}

interface AnalysisRow {
  id: string; case_id: string; evidence_id: string; reference_set: string; reference_set_id: number;
  reference_provenance: string; mode: string; parameters: string; result: string; method_version: string;
  app_version: string; backend: string; started_at: string; finished_at: string;
}

function rowToAnalysis(r: AnalysisRow): AnalysisRecord {
  return {
    id: r.id, caseId: r.case_id, evidenceId: r.evidence_id, referenceSet: r.reference_set, referenceSetId: r.reference_set_id,
    referenceProvenance: JSON.parse(r.reference_provenance) as ReferenceProvenance, mode: r.mode as DsireMode,
    parameters: JSON.parse(r.parameters) as Record<string, unknown>, result: JSON.parse(r.result) as AnalysisResult,
    methodVersion: r.method_version, appVersion: r.app_version, backend: r.backend, startedAt: r.started_at, finishedAt: r.finished_at,
  };
}

/** The analysis pipeline, loaded on first use: listing a case's analyses (case show, reports, the
 *  UI) must not load the parsers and compute backends. */
async function pipeline() {
  const [{ analyzeFile }, { loadReferenceSet }, { cachedReliability }] = await Promise.all([
    import('../analysis/analyze-file.ts'), import('../reference/store.ts'), import('../analysis/reliability.ts')]);
  return { analyzeFile, loadReferenceSet, cachedReliability };
}

export async function runAnalysis(db: Database, caseIdOrPrefix: string, evidenceIdOrPrefix: string, referenceSetName: string,
  options: AnalysisOptions, engine: FeatureEngine): Promise<AnalysisOutcome> {
  const kase = await getCase(db, caseIdOrPrefix);
  const item = await getEvidence(db, kase.id, evidenceIdOrPrefix);
  const actor = resolveActor(kase.examiner, options.actor);
  const mode = options.mode ?? DEFAULT_MODE;
  // an empty or unusable justification is the request's fault: refused before anything is read or recorded
  const override = options.override === undefined ? undefined : checkJustification(options.override);
  const startedAt = new Date().toISOString();
  const refuse = async (finding: Finding, details: Record<string, unknown>): Promise<AnalysisOutcome> => {
    await db.transaction((tx) => appendAudit(tx, kase.id, actor, 'analysis-refused',
      { evidenceId: item.id, referenceSet: referenceSetName, mode, code: finding.code, reason: finding.message, ...details }));
    return { status: 'refused', evidenceId: item.id, finding };
  };

  // 1. the bytes must still be the ones imported
  for (const f of [{ path: item.storedPath, sha256: item.sha256, name: item.fileName }, ...item.companions.map((c) => ({ path: c.storedPath, sha256: c.sha256, name: c.fileName }))]) {
    // a regular file only: a FIFO or a link to a device put in its place would hang the hash
    const problem = await checkStoredCopy(f.path, f.sha256);
    if (problem) {
      const now = problem === 'missing' || problem === NOT_A_FILE ? null : problem;
      return refuse({
        severity: 'error', code: 'EVIDENCE_HASH_MISMATCH',
        message: now ? `the stored copy of ${f.name} no longer matches the SHA-256 recorded at import (recorded ${f.sha256}, now ${now}): it was modified, so it is not analysed`
          : `the stored copy of ${f.name} ${storedCopyPhrase(problem, f.sha256)}, so it cannot be analysed`,
      }, { file: f.name, recorded: f.sha256, now });
    }
  }

  // 2. intake, features and the estimate, all from the stored copy, by the one pipeline every host uses
  const { analyzeFile, loadReferenceSet, cachedReliability } = await pipeline();
  const ref = await loadReferenceSet(db, referenceSetName);
  let result: AnalysisResult;
  try {
    result = await analyzeFile(item.storedPath, ref, {
      mode, engine, expectedSha256: item.sha256, displayName: item.fileName, reliability: cachedReliability(db), ...(override !== undefined ? { override } : {}),
    });
  } catch (err) {
    const e = toApiError(err);
    // a failure of this machine, not of the evidence, is not recorded as a finding about the evidence
    if (['CANCELLED', 'EMPTY_REFERENCE', 'BACKEND_FAILED', 'DB_ERROR', 'INTERNAL'].includes(e.code)) throw err;
    if (e.code === 'HASH_MISMATCH') {
      return refuse({ severity: 'error', code: 'EVIDENCE_HASH_MISMATCH', message: `the stored copy changed while it was being read (now ${String(e.details?.now)})` },
        { recorded: item.sha256, now: e.details?.now ?? null });
    }
    if (e.code === 'OVERRIDE_REFUSED') {
      // on the record: the examiner asked to compare despite a reason no justification can set aside
      return refuse({ severity: 'error', code: e.code, message: e.message }, { override: { justification: override, refused: e.details?.hard ?? [] } });
    }
    return refuse({ severity: 'error', code: e.code, message: `intake refused the stored copy: ${e.message}` }, {});
  }

  // 3. the result and its audit entry, together
  const record: AnalysisRecord = {
    id: newId(), caseId: kase.id, evidenceId: item.id, referenceSet: ref.name, referenceSetId: ref.id,
    referenceProvenance: ref.provenance, mode, parameters: { mode, ...result.method.parameters },
    result, methodVersion: result.method.version, appVersion: appVersion(), backend: result.backend,
    startedAt, finishedAt: new Date().toISOString(),
  };
  // the exact text stored, hashed into the audit entry: a later edit of any part of the result shows (trail-rows.ts)
  const resultText = JSON.stringify(record.result);
  await db.transaction(async (tx) => {
    await tx.run(`INSERT INTO analyses (id, case_id, evidence_id, reference_set, reference_set_id, reference_provenance, mode,
      parameters, result, method_version, app_version, backend, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [record.id, record.caseId, record.evidenceId, record.referenceSet, record.referenceSetId, JSON.stringify(record.referenceProvenance),
        record.mode, JSON.stringify(record.parameters), resultText, record.methodVersion, record.appVersion,
        record.backend, record.startedAt, record.finishedAt]);
    await appendAudit(tx, kase.id, actor, 'analysis', {
      analysisId: record.id, evidenceId: item.id, sha256: item.sha256, referenceSet: ref.name, referenceSetId: ref.id,
      mode: record.mode, applicable: result.applicable, estimate: result.estimate, methodVersion: record.methodVersion,
      appVersion: record.appVersion, backend: record.backend, resultSha256: sha256Hex(resultText),
      ...(result.override ? { override: result.override } : {}),
    }, record.finishedAt);
  });
  return { status: 'done', evidenceId: item.id, analysis: record };
}

export async function listAnalyses(q: Queryable, caseId: string): Promise<AnalysisRecord[]> {
  return (await q.all<AnalysisRow>('SELECT * FROM analyses WHERE case_id = ? ORDER BY started_at, id', [caseId])).map(rowToAnalysis);
}
