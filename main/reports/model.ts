// What a report says, as plain data: assembled once from the case database, then rendered (HTML →
// PDF) and summarised (manifest) from the same object, so the printed page and the machine-readable
// manifest cannot disagree.
import type { Database } from '../db/database.ts';
import type { AnalysisResult } from '../dsire/types.ts';
import type { ReferenceProvenance } from '../reference/types.ts';
import type { CertificateInfo } from './keys.ts';
import { getCase } from '../cases/cases.ts';
import { listEvidence, type EvidenceItem } from '../cases/evidence.ts';
import { listAudit, verifyAudit } from '../cases/audit.ts';
import { listAnalyses, type AnalysisRecord } from '../cases/analyses.ts';
import { appVersion } from '../cases/version.ts';
import type { FeatureEngine } from '../../native/types.ts';
import type { BaseModelIdentity } from '../intake/base-models.ts';
import type { Disclosure } from '../intake/disclosure.ts';
import type { ReferenceSet } from '../reference/types.ts';
import { evidenceSpectra } from './spectra.ts';

export interface ReportEvidence {
  id: string;
  fileName: string;
  size: number;
  sha256: string;
  family: string;
  method: string;
  baseModel: string;
  importedAt: string;
  /** What the file's metadata claims about its training set, when it claims anything. */
  metadataClaim: { claimed: number; source: string } | null;
  /** Set when intake refused the file: the refusal, in words. */
  refused: string | null;
  /** What the file's metadata gives away about its data and maker (intake's escaped, bounded list). */
  disclosure: Disclosure[];
  baseModelIdentity: BaseModelIdentity;
  /** Where the file came from: the provenance matches found when it was added (copies of evidence in
   *  other cases or of reference adapters), as intake's findings recorded them. */
  provenance: { severity: string; message: string }[];
}

export interface ReportReference {
  name: string;
  id: number;
  provenance: ReferenceProvenance;
}

export interface ReportMethod {
  name: string;
  version: string;
  mode: string;
  parameters: Record<string, unknown>;
  backend: string;
  appVersion: string;
}

export interface ReportResult {
  evidenceId: string;
  fileName: string;
  sha256: string;
  analysedAt: string;
  method: ReportMethod;
  /** The analysis as stored; when `result.applicable` is false the report prints the refusal, never a number. */
  result: AnalysisResult | null;
  /** Refusal before any analysis (intake refused the file, or it was never analysed). */
  refusal: string | null;
}

export interface ReportAuditEntry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  summary: string;
  hash: string;
}

export interface ReportModel {
  generatedAt: string;
  app: { name: string; version: string };
  case: {
    id: string;
    title: string;
    examiner: string;
    organisation: string;
    description: string;
    status: string;
    createdAt: string;
  };
  evidence: ReportEvidence[];
  references: ReportReference[];
  results: ReportResult[];
  limitations: string[];
  audit: { total: number; headSeq: number; headHash: string; chainOk: boolean; chainProblem: string | null; entries: ReportAuditEntry[] };
  /** Filled in once the signing key is open; the template prints who signs, the PDF carries the signature. */
  signature: { signer: CertificateInfo | null; statement: string; place: string | null };
}

export const LIMITATIONS: readonly string[] = [
  'DSiRe compares the adapter with reference adapters fine-tuned from the same base model with the same recipe ' +
    '(rank, target modules, scaling, optimiser and schedule). An adapter trained differently can be misread; the ' +
    'applicability checks catch structural differences (rank, modules, scaling, base model) but not a different ' +
    'learning rate or number of steps.',
  'The classifier votes among the dataset sizes present in the reference set. It cannot name a size the reference ' +
    'set does not contain: an adapter trained on 7 images, compared with references of 1, 5 and 10, is reported as ' +
    'one of those. The interval and the between-sizes regression are shown to make this visible.',
  'An estimate is evidence about the number of distinct training samples, not about which samples were used, and ' +
    'not proof of any particular dataset.',
  'A metadata claim is what the file says about itself; files can be edited. Agreement or disagreement with the ' +
    'estimate is a finding to weigh, not a verdict.',
];

export const AUDIT_EXCERPT = 40;

export interface BuildOptions {
  now?: Date;
  /** When given, results whose analysis did not record spectra get them recomputed from the stored
   *  evidence copy (re-hashed first) and the reference set, if it is still in the database. */
  engine?: FeatureEngine;
}

/** Assembles the report for one case (id or unique prefix) from the case database, read only, through
 *  the cases module. The newest analysis of each evidence file is reported, unless a later analysis
 *  of it was refused (then the refusal is); evidence never analysed is listed with that said plainly. */
export async function buildReportModel(db: Database, caseIdOrPrefix: string, options: BuildOptions = {}): Promise<ReportModel> {
  const kase = await getCase(db, caseIdOrPrefix);
  const items = await listEvidence(db, kase.id);
  const evidence = items.map(evidenceFromItem);
  const analyses = await listAnalyses(db, kase.id);
  const trail = await listAudit(db, kase.id);
  const chain = await verifyAudit(db, kase.id);

  const latest = new Map<string, AnalysisRecord>();
  for (const a of analyses) latest.set(a.evidenceId, a);   // ordered by time: the last one wins
  // Refused analyses write no analysis row, only an audit entry with the reason.
  const refusedLater = new Map<string, { at: string; reason: string }>();
  for (const e of trail) {
    const id = e.details.evidenceId;
    if (e.action !== 'analysis-refused' || typeof id !== 'string') continue;
    const a = latest.get(id);
    if (!a || e.at > a.finishedAt) refusedLater.set(id, { at: e.at, reason: String(e.details.reason ?? e.details.code ?? 'refused') });
  }

  const references = new Map<string, ReportReference>();
  const results: ReportResult[] = evidence.map((ev) => {
    const a = latest.get(ev.id);
    const refusedRun = refusedLater.get(ev.id);
    if (!a || refusedRun) {
      return {
        evidenceId: ev.id, fileName: ev.fileName, sha256: ev.sha256, analysedAt: refusedRun?.at ?? '', result: null,
        method: { name: 'DSiRe', version: '', mode: '', parameters: {}, backend: '', appVersion: '' },
        refusal: refusedRun ? `the analysis was refused: ${refusedRun.reason}`
          : ev.refused ? `intake refused the file: ${ev.refused}` : 'not analysed in this case',
      };
    }
    const key = `${a.referenceSetId}:${a.referenceSet}`;
    if (!references.has(key)) references.set(key, { name: a.referenceSet, id: a.referenceSetId, provenance: a.referenceProvenance });
    return {
      evidenceId: ev.id, fileName: ev.fileName, sha256: ev.sha256, analysedAt: a.finishedAt, result: a.result,
      method: {
        name: a.result.method?.name ?? 'DSiRe', version: a.methodVersion, mode: a.mode,
        parameters: a.parameters, backend: a.backend, appVersion: a.appVersion,
      },
      refusal: null,
    };
  });
  if (options.engine) await fillSpectra(db, results, items, options.engine);
  // A claim seen by the classifier (with its agreement) is more complete than intake's bare claim.
  for (const r of results) {
    const ev = evidence.find((e) => e.id === r.evidenceId);
    if (ev && !ev.metadataClaim && r.result?.metadataClaim) ev.metadataClaim = { claimed: r.result.metadataClaim.claimed, source: r.result.metadataClaim.source };
  }

  return {
    generatedAt: (options.now ?? new Date()).toISOString(),
    app: { name: 'LoRA Auditor', version: appVersion() },
    case: { id: kase.id, title: kase.title, examiner: kase.examiner, organisation: kase.organisation, description: kase.description, status: kase.status, createdAt: kase.createdAt },
    evidence,
    references: [...references.values()],
    results,
    limitations: [...LIMITATIONS],
    audit: {
      total: trail.length, headSeq: kase.auditHead.seq, headHash: kase.auditHead.hash,
      chainOk: chain.ok, chainProblem: chain.problem?.message ?? null,
      entries: trail.slice(-AUDIT_EXCERPT).map((r) => ({ seq: r.seq, at: r.at, actor: r.actor, action: r.action, summary: summarise(r.details), hash: r.hash })),
    },
    signature: {
      signer: null,
      statement: 'I, the examiner named in the signing certificate, produced this report with LoRA Auditor from the evidence listed, ' +
        'whose SHA-256 digests were computed when each file entered the case. The digital signature covers every byte of this document.',
      place: null,
    },
  };
}

async function fillSpectra(db: Database, results: ReportResult[], items: EvidenceItem[], engine: FeatureEngine): Promise<void> {
  const { loadReferenceSet } = await import('../reference/store.ts');
  const sets = new Map<string, ReferenceSet | null>();
  for (const r of results) {
    const res = r.result;
    if (!res || !res.applicable || res.estimate === null || res.spectra) continue;
    if (!sets.has(res.referenceSet)) sets.set(res.referenceSet, await loadReferenceSet(db, res.referenceSet).catch(() => null));
    const ref = sets.get(res.referenceSet);
    const item = items.find((i) => i.id === r.evidenceId);
    if (!ref || !item) continue;
    const spectra = await evidenceSpectra(item.storedPath, item.sha256, ref, engine);
    if (spectra) r.result = { ...res, spectra };
  }
}

function evidenceFromItem(item: EvidenceItem): ReportEvidence {
  const claimed = item.inspect.metadata.claimedTrainingImages;
  const error = item.inspect.error;
  return {
    id: item.id, fileName: item.fileName, size: item.size, sha256: item.sha256, family: item.family, method: item.method, baseModel: item.baseModel,
    importedAt: item.importedAt,
    metadataClaim: claimed === null ? null : { claimed, source: 'file metadata' },
    refused: error ? `${error.message} (${error.code})` : null,
    disclosure: item.inspect.disclosure,
    baseModelIdentity: item.inspect.baseModelIdentity,
    provenance: item.inspect.findings.filter((f) => f.code.startsWith('PROVENANCE_')).map((f) => ({ severity: f.severity, message: f.message })),
  };
}

/** An audit entry's scalar details in one line (the full entry stays in the case database). */
function summarise(d: Record<string, unknown>): string {
  return Object.entries(d).filter(([, v]) => v !== null && typeof v !== 'object').slice(0, 4)
    .map(([k, v]) => `${k}: ${String(v).length > 80 ? String(v).slice(0, 77) + '…' : String(v)}`).join('; ');
}
