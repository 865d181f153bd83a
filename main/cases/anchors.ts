// The case database compared with what a rewrite of it cannot reach: the stored copies' bytes, and the
// signed manifests of the reports issued from it. A manifest fixed, when it was signed, the audit head,
// every evidence file (id, SHA-256, size) and every result the report printed. Once its signature is
// checked (and found to be by the PDF's signer), all of that must still be in the database: the head an
// entry of today's chain (same seq, same hash), each evidence its row, each result an analysis row of
// that evidence. Analyses are never edited (a re-analysis is a new row), so a certified result that no
// row records now is a divergence, however consistently the rows and the audit trail were rewritten.
//
// Layers: main/cases may not import main/reports, which owns manifest and PDF signatures. The check
// of the signed statement is therefore a parameter (CheckSignedStatement); main/reports/signed-statement.ts
// provides it, and the hosts hand it to verifyCase (and verify --db to this function directly).
import { lstat } from 'node:fs/promises';
import type { Queryable } from '../db/database.ts';
import { auditRows } from './audit.ts';
import { canonicalJson, sha256File } from '../common/hashing.ts';
import { listReportsIn, type ReportCompanion, type ReportRecord } from './reports.ts';
import { storeRoot } from './store.ts';
import type { VerifyProblem } from './verify.ts';
import { hasBounds, readInterval } from '../dsire/conformal.ts';

/** What the reports layer says of a stored signed manifest: its content, trusted only when `problems`
 *  is empty (the signature verifies and was made by the certificate that signed the PDF). */
export interface SignedStatement {
  manifest: unknown;
  problems: string[];
}

export type CheckSignedStatement = (files: { pdf: string; manifest: string; signature: string }) => Promise<SignedStatement>;

/** A stored manifest larger than this is refused unread (one for 10 000 evidence files is ~6 MB). */
export const MAX_SIGNED_MANIFEST_BYTES = 32 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 1024 * 1024;

/** null when the stored copy still has the recorded SHA-256; 'missing'; NOT_A_FILE when something else
 *  took its place (a FIFO would block the hash until someone wrote to it, a link to /dev/zero would
 *  never end: the app stores regular files only, so nothing else is read); or the SHA-256 it has now. */
export async function checkStoredCopy(path: string, sha256: string): Promise<string | null> {
  let info;
  try {
    info = await lstat(path);
  } catch {
    return 'missing';
  }
  if (!info.isFile()) return NOT_A_FILE;
  const now = await sha256File(path);
  return now.sha256 === sha256 ? null : now.sha256;
}

export const NOT_A_FILE = 'not a regular file';

/** What checkStoredCopy found, as the end of a sentence about the stored copy. */
export function storedCopyPhrase(problem: string, recorded: string): string {
  if (problem === 'missing') return 'is gone';
  if (problem === NOT_A_FILE) return 'is no longer a regular file (something else, a link, a FIFO or a device, was put in its place): not read';
  return `no longer matches its recorded SHA-256 (recorded ${recorded}, now ${problem})`;
}

/** What a report certified of one result, in the manifest's terms (main/reports/manifest.ts). */
interface CertifiedResult {
  evidenceId: string;
  referenceSet: string | null;
  mode: string | null;
  methodVersion: string | null;
  applicable: boolean;
  estimate: number | null;
  interval: { low: number; high: number; coverage: number } | null;
  reasons: string[];
}

interface SignedManifest {
  caseId: string;
  pdfSha256: string;
  auditHead: { seq: number; hash: string };
  evidence: { id: string; fileName: string; sha256: string; size: number }[];
  results: (CertifiedResult & { fileName: string })[];
}

interface CaseNow {
  chain: Map<number, string>;
  lastSeq: number;
  evidence: Map<string, { fileName: string; sha256: string; size: number }>;
  analyses: Map<string, { id: string; certified: CertifiedResult | null }[]>;
}

/** Every report of the case whose signed manifest disagrees with the database now, each divergence
 *  named (report id and what differs); a report without a stored signed manifest, or whose manifest
 *  or signature is gone, altered or not by the PDF's signer, is a problem too. */
export async function compareSignedReports(db: Queryable & { path: string }, caseId: string, checkSignedStatement: CheckSignedStatement): Promise<VerifyProblem[]> {
  const reports = await listReportsIn(db, storeRoot(db.path), caseId);
  if (reports.length === 0) return [];
  const now = await readCaseNow(db, caseId);
  const problems: VerifyProblem[] = [];
  for (const report of reports) problems.push(...(await compareOne(report, caseId, now, checkSignedStatement)));
  return problems;
}

/** One signed manifest (already checked by the caller: `lora-audit verify --db` verifies the report it
 *  is given) against the database now: the same divergences `case verify` names for stored reports. */
export async function compareManifestNow(db: Queryable, caseId: string, manifest: unknown, pdfSha256: string): Promise<VerifyProblem[]> {
  const m = readSignedManifest(manifest);
  if (typeof m === 'string') return [{ kind: 'report-signature', message: `the signed manifest is not a report manifest this version reads: ${m}` }];
  return divergences('under verification', caseId, pdfSha256, m, await readCaseNow(db, caseId));
}

async function compareOne(report: ReportRecord, caseId: string, now: CaseNow, check: CheckSignedStatement): Promise<VerifyProblem[]> {
  const reportId = report.id;
  const manifestFile = report.companions.find((c) => c.role === 'manifest');
  const signatureFile = report.companions.find((c) => c.role === 'signature');
  if (!manifestFile || !signatureFile) {
    return [{ kind: 'report-unsigned', reportId, message: `report ${reportId}: no signed manifest is stored with it, so what it certified cannot be compared with the case` }];
  }
  const fileProblems: VerifyProblem[] = [];
  for (const [file, limit] of [[manifestFile, MAX_SIGNED_MANIFEST_BYTES], [signatureFile, MAX_SIGNATURE_BYTES]] as [ReportCompanion, number][]) {
    const name = file.role === 'manifest' ? 'signed manifest' : 'manifest signature';
    if (file.size > limit) {
      fileProblems.push({ kind: 'report-signature', reportId, file: file.storedPath, message: `report ${reportId}: its stored ${name} is recorded as ${file.size} bytes, over the ${limit}-byte limit: not read` });
      continue;
    }
    const problem = await checkStoredCopy(file.storedPath, file.sha256);
    if (problem) {
      fileProblems.push({ kind: problem === 'missing' ? 'report-missing' : 'report-hash', reportId, file: file.storedPath,
        message: `report ${reportId}: its stored ${name} (${file.fileName}) ${storedCopyPhrase(problem, file.sha256)}` });
    }
  }
  if (fileProblems.length > 0) return fileProblems;

  let statement: SignedStatement;
  try {
    statement = await check({ pdf: report.storedPath, manifest: manifestFile.storedPath, signature: signatureFile.storedPath });
  } catch (err) {
    statement = { manifest: null, problems: [(err as Error).message] };
  }
  if (statement.problems.length > 0) {
    return [{ kind: 'report-signature', reportId, file: manifestFile.storedPath,
      message: `report ${reportId}: its stored signed manifest cannot be trusted: ${statement.problems.join('; ')}` }];
  }
  const manifest = readSignedManifest(statement.manifest);
  if (typeof manifest === 'string') {
    return [{ kind: 'report-signature', reportId, file: manifestFile.storedPath, message: `report ${reportId}: its signed manifest is not a report manifest this version reads: ${manifest}` }];
  }
  return divergences(reportId, caseId, report.sha256, manifest, now);
}

function divergences(reportId: string, caseId: string, pdfSha256: string, m: SignedManifest, now: CaseNow): VerifyProblem[] {
  const out: VerifyProblem[] = [];
  const diverge = (message: string, extra: Partial<VerifyProblem> = {}) => out.push({ kind: 'report-divergence', reportId, ...extra, message: `report ${reportId}: ${message}` });
  if (m.caseId !== caseId) diverge(`its signed manifest is for case ${m.caseId}, not this case`);
  if (m.pdfSha256 !== pdfSha256) diverge(`its signed manifest certifies a PDF with SHA-256 ${m.pdfSha256}, but the report's recorded copy has ${pdfSha256}`);

  const { seq, hash } = m.auditHead;
  const today = now.chain.get(seq);
  if (seq > 0 && today === undefined) {
    diverge(`it was signed at audit entry ${seq} (hash ${hash}), which today's trail no longer has (it ends at entry ${now.lastSeq}): entries were cut`, { seq });
  } else if (seq > 0 && today !== hash) {
    diverge(`it was signed when audit entry ${seq} had hash ${hash}; today's entry ${seq} has ${today}: the audit trail was rewritten after the report was signed`, { seq });
  }

  for (const e of m.evidence) {
    const row = now.evidence.get(e.id);
    if (!row) {
      diverge(`it certified evidence ${e.id} (${e.fileName}, SHA-256 ${e.sha256}), which is no longer in the case`, { evidenceId: e.id });
    } else if (row.sha256 !== e.sha256 || row.size !== e.size) {
      diverge(`it certified evidence ${e.id} (${e.fileName}) as SHA-256 ${e.sha256}, ${e.size} bytes; its row now records SHA-256 ${row.sha256}, ${row.size} bytes`, { evidenceId: e.id });
    }
  }

  for (const r of m.results) {
    // a result with no reference set printed a refusal made before any analysis: no row to hold it to
    if (r.referenceSet === null) continue;
    const claimed = certifiedKey(r);
    const rows = now.analyses.get(r.evidenceId) ?? [];
    if (rows.some((a) => a.certified && certifiedKey(a.certified) === claimed)) continue;
    const closest = [...rows].reverse().find((a) => a.certified?.referenceSet === r.referenceSet && a.certified?.mode === r.mode) ?? rows.at(-1);
    const found = !closest ? 'the evidence has no analysis at all now'
      : !closest.certified ? `its analysis ${closest.id} can no longer be read`
        : `analysis ${closest.id} records ${describe(closest.certified)} (differs in ${differingFields(r, closest.certified)})`;
    diverge(`it certified for evidence ${r.evidenceId} (${r.fileName}) ${describe(r)}, but no analysis of that evidence records that result now: ${found}`, { evidenceId: r.evidenceId });
  }
  return out;
}

const CERTIFIED_FIELDS = ['evidenceId', 'referenceSet', 'mode', 'methodVersion', 'applicable', 'estimate', 'interval', 'reasons'] as const;

function certifiedKey(c: CertifiedResult): string {
  return canonicalJson(Object.fromEntries(CERTIFIED_FIELDS.map((k) => [k, c[k]])));
}

function differingFields(a: CertifiedResult, b: CertifiedResult): string {
  return CERTIFIED_FIELDS.filter((k) => canonicalJson(a[k]) !== canonicalJson(b[k])).join(', ');
}

function describe(c: CertifiedResult): string {
  const what = c.applicable
    ? `estimate ${c.estimate}${c.interval ? ` (interval ${c.interval.low}–${c.interval.high}, coverage ${c.interval.coverage})` : ''}`
    : `no estimate (${c.reasons.join('; ') || 'not applicable'})`;
  return `${what}, reference set ${c.referenceSet}, mode ${c.mode}, method ${c.methodVersion}`;
}

/** The database as it is now, read raw: rows are untrusted, and one that no longer parses must be a
 *  finding here, not an exception (listEvidence and listAnalyses throw on a broken JSON column). */
async function readCaseNow(q: Queryable, caseId: string): Promise<CaseNow> {
  const trail = await auditRows(q, caseId);
  const evidenceRows = await q.all<{ id: string; file_name: string; sha256: string; size: number }>(
    'SELECT id, file_name, sha256, size FROM evidence WHERE case_id = ?', [caseId]);
  const analysisRows = await q.all<{ id: string; evidence_id: string; method_version: string; result: string }>(
    'SELECT id, evidence_id, method_version, result FROM analyses WHERE case_id = ? ORDER BY started_at, id', [caseId]);
  const analyses = new Map<string, { id: string; certified: CertifiedResult | null }[]>();
  for (const a of analysisRows) {
    const list = analyses.get(a.evidence_id) ?? [];
    list.push({ id: a.id, certified: certifiedOf(a) });
    analyses.set(a.evidence_id, list);
  }
  return {
    chain: new Map(trail.map((r) => [r.seq, r.hash])),
    lastSeq: trail.reduce((m, r) => Math.max(m, r.seq), 0),
    evidence: new Map(evidenceRows.map((e) => [e.id, { fileName: e.file_name, sha256: e.sha256, size: e.size }])),
    analyses,
  };
}

/** What buildManifest (main/reports/manifest.ts) certifies of an analysis row: the same projection
 *  (an estimate only when applicable and not null), so that an honest row compares equal. */
function certifiedOf(row: { evidence_id: string; method_version: string; result: string }): CertifiedResult | null {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(row.result) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (!r || typeof r !== 'object') return null;
  const applicable = r.applicable === true && typeof r.estimate === 'number';
  // the manifest certifies the nominal level as `coverage`; read both the old and today's interval shape
  const iv = readInterval(r);
  return {
    evidenceId: row.evidence_id,
    referenceSet: typeof r.referenceSet === 'string' ? r.referenceSet : null,
    mode: typeof r.mode === 'string' ? r.mode : null,
    methodVersion: row.method_version,
    applicable,
    estimate: applicable ? r.estimate as number : null,
    interval: applicable && hasBounds(iv) ? { low: iv.low, high: iv.high, coverage: iv.nominal } : null,
    reasons: Array.isArray(r.reasons) ? r.reasons.map(String) : [],
  };
}

/** The manifest's fields this comparison relies on, checked for shape (signed is not the same as well
 *  formed); a sentence saying what is wrong otherwise. Non-finite numbers are refused. */
function readSignedManifest(v: unknown): SignedManifest | string {
  const obj = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);
  const str = (x: unknown): x is string => typeof x === 'string';
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
  const strOrNull = (x: unknown) => x === null || str(x);
  if (!obj(v)) return 'it is not a JSON object';
  if (!obj(v.case) || !str(v.case.id)) return 'it names no case';
  if (!obj(v.pdf) || !str(v.pdf.sha256)) return 'it names no PDF SHA-256';
  if (!obj(v.auditHead) || !Number.isSafeInteger(v.auditHead.seq) || (v.auditHead.seq as number) < 0 || !str(v.auditHead.hash)) return 'its audit head is not a (seq, hash) pair';
  if (!Array.isArray(v.evidence) || !v.evidence.every((e) => obj(e) && str(e.id) && str(e.fileName) && str(e.sha256) && Number.isSafeInteger(e.size))) {
    return 'its evidence list is not a list of (id, fileName, sha256, size)';
  }
  if (!Array.isArray(v.results)) return 'it has no results list';
  for (const r of v.results as unknown[]) {
    if (!obj(r) || !str(r.evidenceId) || !str(r.fileName) || !strOrNull(r.referenceSet) || !strOrNull(r.mode) || !strOrNull(r.methodVersion)
      || typeof r.applicable !== 'boolean' || !(r.estimate === null || num(r.estimate)) || !Array.isArray(r.reasons) || !r.reasons.every(str)
      || !(r.interval === null || (obj(r.interval) && num(r.interval.low) && num(r.interval.high) && num(r.interval.coverage)))) {
      return `a result (${obj(r) && str(r.evidenceId) ? `evidence ${r.evidenceId}` : 'unnamed'}) is not a well-formed result with finite numbers`;
    }
  }
  const results = (v.results as Record<string, unknown>[]).map((r) => {
    const interval = r.interval as { low: number; high: number; coverage: number } | null;
    return {
      evidenceId: r.evidenceId as string, fileName: r.fileName as string, referenceSet: r.referenceSet as string | null, mode: r.mode as string | null,
      methodVersion: r.methodVersion as string | null, applicable: r.applicable as boolean, estimate: r.estimate as number | null,
      interval: interval ? { low: interval.low, high: interval.high, coverage: interval.coverage } : null, reasons: r.reasons as string[],
    };
  });
  return {
    caseId: v.case.id, pdfSha256: v.pdf.sha256, auditHead: { seq: v.auditHead.seq as number, hash: v.auditHead.hash },
    evidence: (v.evidence as Record<string, unknown>[]).map((e) => ({ id: e.id as string, fileName: e.fileName as string, sha256: e.sha256 as string, size: e.size as number })),
    results,
  };
}
