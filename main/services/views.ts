// Service records → the contract's plain view shapes. The contract is the UI's stable vocabulary;
// services may grow fields without the renderer noticing.
import type {
  AnalysisResultView, AnalysisView, ReliabilityView, AuditEntryView, CaseSummary, EvidenceView, InspectView, NoteView,
  ReferenceSetView, ReportView,
} from '../api/contract.ts';
import type { AnalysisRecord } from '../cases/analyses.ts';
import type { AuditEntry } from '../cases/audit.ts';
import type { CaseRecord } from '../cases/cases.ts';
import type { EvidenceItem } from '../cases/evidence.ts';
import type { Note } from '../cases/notes.ts';
import type { ReportRecord } from '../cases/reports.ts';
import type { InspectReport } from '../intake/inspect.ts';
import type { ReferenceSetSummary } from '../reference/types.ts';
import type { AnalysisResult } from '../dsire/types.ts';
import { readInterval } from '../dsire/conformal.ts';
import type { ReliabilitySummary } from '../dsire/reliability.ts';

export function caseView(c: CaseRecord, counts: { evidence: number; analyses: number }): CaseSummary {
  return {
    id: c.id, title: c.title, examiner: c.examiner, organisation: c.organisation, description: c.description,
    status: c.status, createdAt: c.createdAt, updatedAt: c.updatedAt, evidenceCount: counts.evidence, analysisCount: counts.analyses,
  };
}

export function inspectView(r: InspectReport): InspectView {
  const kohya = r.metadata.kohya;
  const summary: Record<string, string> = {};
  if (kohya?.networkModule) summary['network module'] = kohya.networkModule;
  if (kohya?.networkDim !== undefined) summary['network dim'] = String(kohya.networkDim);
  if (kohya?.networkAlpha !== undefined) summary['network alpha'] = String(kohya.networkAlpha);
  if (kohya?.sdModelName) summary['base model (claimed)'] = kohya.sdModelName;
  if (kohya?.sshsModelHash) summary['sshs_model_hash'] = kohya.sshsModelHash.matches ? 'matches the tensors' : 'DOES NOT match the tensors';
  if (r.metadata.peft?.baseModelNameOrPath) summary['base model (config)'] = r.metadata.peft.baseModelNameOrPath;
  if (r.metadata.peft?.r !== undefined) summary['PEFT r'] = String(r.metadata.peft.r);
  if (r.metadata.peft?.loraAlpha !== undefined) summary['PEFT lora_alpha'] = String(r.metadata.peft.loraAlpha);
  return {
    file: r.file, fileName: r.file.split(/[\\/]/).pop() ?? r.file, size: r.size ?? 0, sha256: r.sha256,
    family: r.family, method: r.method, baseModel: r.baseModel, ranks: r.ranks, modules: r.loraModules,
    dtype: r.dtype, scale: r.scale.values.length === 1 ? r.scale.values[0] : null,
    metadata: {
      keys: r.metadata.keys,
      claimedTrainingImages: r.metadata.claimedTrainingImages,
      numTrainImagesWithRepeats: kohya?.numTrainImagesWithRepeats ?? null,
      summary,
    },
    disclosure: r.disclosure,
    baseModelIdentity: r.baseModelIdentity,
    findings: r.findings,
    error: r.error,
  };
}

/** Evidence rows keep intake's inspection report (cases/inspect.ts): the card shows what the inspect
 *  view shows, through the same function, without re-reading the file. */
export function evidenceView(e: EvidenceItem): EvidenceView {
  const inspect = { ...inspectView(e.inspect), file: e.storedPath, fileName: e.fileName };
  return {
    id: e.id, caseId: e.caseId, fileName: e.fileName, originalPath: e.originalPath, storedPath: e.storedPath,
    size: e.size, sha256: e.sha256, family: inspect.family, method: inspect.method, baseModel: inspect.baseModel,
    importedAt: e.importedAt, examiner: e.examiner, notes: e.notes, tags: e.tags, inspect,
  };
}

export function resultView(r: AnalysisResult): AnalysisResultView {
  const { spectra, reliability, reliabilityUnavailable, opinion, ...rest } = r;
  // read tolerantly: analyses recorded before issue 18 hold the old interval (or null) and no reliability or opinion
  const view: AnalysisResultView = {
    ...rest, interval: readInterval(r), reliability: reliability ? reliabilityView(reliability) : null,
    reliabilityUnavailable: reliabilityUnavailable ?? null, opinion: opinion ?? null,
  };
  // The contract names the series as the chart draws them: the adapter's profile, one per size.
  if (spectra) view.spectra = { statistic: spectra.statistic, modules: spectra.modules, adapter: spectra.query, bySize: spectra.bySize.map((s) => ({ size: s.size, values: s.mean })) };
  return view;
}

export function reliabilityView(r: ReliabilitySummary): ReliabilityView {
  return { ...r };
}

export function analysisView(a: AnalysisRecord): AnalysisView {
  return {
    id: a.id, caseId: a.caseId, evidenceId: a.evidenceId, referenceSet: a.referenceSet, mode: a.mode,
    startedAt: a.startedAt, finishedAt: a.finishedAt, backend: a.backend, result: resultView(a.result), error: null,
  };
}

export function reportView(r: ReportRecord): ReportView {
  return { id: r.id, caseId: r.caseId, file: r.file, sha256: r.sha256, signer: r.signer, createdAt: r.createdAt };
}

export function noteView(n: Note): NoteView {
  return { id: n.id, caseId: n.caseId, author: n.author, text: n.text, createdAt: n.createdAt };
}

export function auditView(e: AuditEntry): AuditEntryView {
  return { seq: e.seq, at: e.at, actor: e.actor, action: e.action, details: e.details, hash: e.hash };
}

export function referenceView(s: ReferenceSetSummary): ReferenceSetView {
  return {
    id: s.id, name: s.name, complete: s.complete, adapterCount: s.adapterCount, rank: s.config.rank,
    family: s.config.family, method: s.config.method, baseModel: s.config.baseModel, sizes: s.config.sizes,
    names: s.config.names.length, modules: s.config.modules.length, source: s.provenance.source,
    importerVersion: s.provenance.importerVersion, createdAt: s.provenance.createdAt, shards: s.provenance.shards,
  };
}
