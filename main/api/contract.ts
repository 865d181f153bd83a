// The one typed contract between the renderer and the main process. Both the Electron preload and
// the headless host expose exactly this (see CHANNELS); the renderer imports only this file's types.
// Every shape is plain data (numbers, strings, arrays, typed arrays): it survives Electron's
// structured clone and the headless host's JSON alike. No run-time imports: this file must load and
// type-check in the renderer (DOM, no Node) and in main (Node, no DOM).

export type ErrorCodeLike = string;
/** Every code main raises. Type only (erased when built): the renderer types tables that must cover them all. */
export type { ErrorCode } from '../errors.ts';

/** The one error shape: a code to branch on, a sentence to show, the file it concerns. */
export interface ApiErrorShape {
  code: ErrorCodeLike;
  message: string;
  file?: string;
  details?: Record<string, unknown>;
}

export type Envelope<T> = { ok: true; value: T } | { ok: false; error: ApiErrorShape };

/** Long work reports progress under the jobId the caller chose, and can be cancelled by it. */
export interface ProgressEvent {
  jobId: string;
  channel: Channel;
  phase: string;          // 'hashing', 'inspecting', 'importing', 'features', 'rendering' …
  done: number;
  total: number | null;
  unit: 'bytes' | 'adapters' | 'files' | 'steps';
  message: string;
  file?: string;
  /** Secondary counter (e.g. adapters while the main counter is bytes). */
  adaptersDone?: number;
  adaptersTotal?: number | null;
}

// ---- shapes -------------------------------------------------------------------------------------

export interface BackendView {
  name: string;
  reason: string;
  candidates: { name: string; ok: boolean; ms?: number; maxRelError?: number; reason: string }[];
}

export interface AppInfo {
  appName: string;
  version: string;
  methodVersion: string;
  host: 'electron' | 'headless';
  dataDir: string;
  dbPath: string;
  backend: BackendView;
  offline: true;
  demoAvailable: boolean;
}

export interface CaseSummary {
  id: string;
  title: string;
  examiner: string;
  organisation: string;
  description: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  evidenceCount: number;
  analysisCount: number;
}

export interface FindingView { severity: 'info' | 'warning' | 'error'; code: string; message: string; tensor?: string }

/** What an adapter's metadata gives away about its training data and maker. Values are the file's own
 *  text: escaped (control characters as \u{…}) and capped by intake, and to be shown as text only. */
export interface DisclosureView {
  category: 'subject' | 'captions' | 'maker' | 'time' | 'base-model' | 'software';
  field: string;
  value: string;
  note: string;
  /** Subject tags: captions in `folder` carrying the tag, and the folder's image count when stated. */
  count?: number;
  folder?: string;
  images?: number;
  /** Set when `value` was cut: the whole value's length. */
  fullLength?: number;
}

/** The base model named by the hashes the metadata states, from the base-model table. */
export interface BaseModelIdentityView {
  status: 'matched' | 'unknown' | 'conflict' | 'none';
  name: string | null;
  matchedBy: ('sha256' | 'legacy')[];
  source: string | null;
  stated: { sha256: string | null; legacyHash: string | null; name: string | null };
  shapeAgrees: boolean | null;
  summary: string;
}

export interface InspectView {
  file: string;
  fileName: string;
  size: number;
  sha256: string | null;
  family: string | null;
  method: string | null;
  baseModel: string | null;
  ranks: number[];
  modules: number;
  dtype: string[];
  scale: number | null;
  metadata: {
    keys: number;
    claimedTrainingImages: number | null;
    numTrainImagesWithRepeats: number | null;
    summary: Record<string, string>;
  };
  disclosure: DisclosureView[];
  baseModelIdentity: BaseModelIdentityView;
  findings: FindingView[];
  error: ApiErrorShape | null;
}

export interface EvidenceView {
  id: string;
  caseId: string;
  fileName: string;
  originalPath: string;
  storedPath: string;
  size: number;
  sha256: string;
  family: string | null;
  method: string | null;
  baseModel: string | null;
  importedAt: string;
  examiner: string;
  notes: string;
  tags: string[];
  inspect: InspectView | null;
}

export interface VoteView { size: number; count: number }
export interface NeighbourView { name: string; size: number; distance: number; source: string }
export interface ModulePredictionView { id: string; feature: string; predicted: number; distance: number; neighbour: string }

export type IntervalView = { low: number; high: number; nominal: number; coverage: number | null; method: string } | { reason: string };

/** The method's error on held-out adapters of the reference set (main/dsire/reliability.ts ReliabilitySummary). */
export interface ReliabilityView {
  accuracy: number; withinOne: number; mae: number; mape: number; intervalCoverage: number | null; intervalWidth: number | null;
  baselineMae: number; splits: number; trainNames: number; names: number; seed: number; methodVersion: string;
  mode: 'faithful' | 'best'; setHash: string; queries: number;
  perSize: { size: number; accuracy: number | null; queries: number }[];
  confusion: { sizes: number[]; counts: number[][] };
}

/** A reference set's reliability as measured in the background (references.reliability). */
export interface SetReliabilityView {
  referenceSet: string;
  mode: 'faithful' | 'best';
  reliability: ReliabilityView | null;
  unavailable: { code: string; reason: string } | null;
}

export interface AnalysisResultView {
  file: string;
  sha256: string;
  referenceSet: string;
  mode: 'faithful' | 'best';
  applicable: boolean;
  reasons: string[];
  /** The same reasons with a code and a kind: soft ones may be overridden with a justification, hard ones never (issue 18). */
  refusals?: RefusalView[];
  /** Set when the examiner compared despite soft reasons: their justification and the reasons overridden. */
  override?: { justification: string; reasonsOverridden: string[] } | null;
  estimate: number | null;
  votes: VoteView[];
  /** Bounds at a nominal level with the coverage measured on held-out names (null: not measured), or why there are none. */
  interval: IntervalView;
  /** The method's measured error on this reference set, or null with reliabilityUnavailable saying why
   *  (both null for analyses recorded before issue 18). */
  reliability: ReliabilityView | null;
  reliabilityUnavailable: { code: string; reason: string } | null;
  /** How far the estimate can be relied on (docs/OPINION.md); null for analyses recorded before issue 18. */
  opinion: { grade: 'strong' | 'moderate' | 'limited' | 'none'; because: string[] } | null;
  nearest: NeighbourView[];
  perModule: ModulePredictionView[];
  regression: { estimate: number; method: string } | null;
  outOfDistribution: { flagged: boolean; score: number; threshold: number; explanation: string } | null;
  metadataClaim: { claimed: number; source: string; withinInterval: boolean | null; agrees: boolean | null } | null;
  warnings: string[];
  method: { name: string; version: string; parameters: Record<string, unknown> };
  backend: string;
  createdAt: string;
  /** For the spectra chart: per module (in `modules` order), the adapter's `statistic` (e.g. σ₁(ΔW))
   *  and the mean of the same statistic over each reference size's adapters. */
  spectra?: { statistic: string; modules: string[]; adapter: number[]; bySize: { size: number; values: number[] }[] };
  /** Against a set built by a reference study (issue 19): the evidence's recipe beside the study's. */
  recipeMatch?: RecipeMatchView;
}

/** One recipe field of the file beside the study's, each with its source; `assumed`: either side was a guess. */
export interface RecipeMatchRowView {
  field: string;
  evidence: { value: unknown; source: string };
  study: { value: unknown; source: string };
  match: 'same' | 'differs' | 'unknown';
  assumed: boolean;
}

export interface RecipeMatchView {
  studyId: string;
  planSha256: string;
  sameEvidence: boolean;
  coverage: { planned: number; imported: number };
  rows: RecipeMatchRowView[];
}

/** A recipe field as the study planner shows it: its value and where it came from (issue 19). */
export interface StudyRecipeFieldView { field: string; value: unknown; source: string; assumed: boolean; affectsSpectra: boolean }

/** The planner prefilled from one evidence item: its recipe field by field, and the planner's defaults. */
export interface StudyDraftView {
  evidence: { id: string; file: string; sha256: string; family: string };
  trainer: 'kohya' | 'diffusers' | 'builtin';
  fields: StudyRecipeFieldView[];
  warnings: string[];
  /** What the form starts with (the demo-sized built-in study). */
  defaults: { images: string; sizes: number[]; subjects: number; name: string };
}

/** A study bundle's state: each planned run's and the coverage (main/studies/import.ts studyStatus). */
export interface StudyStatusView {
  studyId: string;
  bundle: string;
  trainer: string;
  runs: { runId: string; subject: string; size: number; state: 'trained' | 'present' | 'changed' | 'missing' }[];
  coverage: { planned: number; done: number; missing: string[]; sizes: { size: number; planned: number; done: number }[] };
  complete: boolean;
  /** Recipe fields the plan assumed. */
  assumed: string[];
}

export interface StudyImportView {
  set: ReferenceSetView;
  imported: string[];
  missing: string[];
  problems: { runId?: string; output?: string; reason: string }[];
  complete: boolean;
}

export interface AnalysisView {
  id: string;
  caseId: string;
  evidenceId: string;
  referenceSet: string;
  mode: 'faithful' | 'best';
  startedAt: string;
  finishedAt: string | null;
  backend: string;
  result: AnalysisResultView | null;
  error: ApiErrorShape | null;
}

export interface ReportView { id: string; caseId: string; file: string; sha256: string; signer: string; createdAt: string }
export interface NoteView { id: string; caseId: string; author: string; text: string; createdAt: string }
export interface AuditEntryView { seq: number; at: string; actor: string; action: string; details: Record<string, unknown>; hash: string }

export interface CaseDetail {
  case: CaseSummary;
  evidence: EvidenceView[];
  analyses: AnalysisView[];
  reports: ReportView[];
  notes: NoteView[];
  audit: AuditEntryView[];
}

export interface VerifyProblemView { kind: string; message: string; seq?: number; evidenceId?: string }
/** problems fail the check; warnings do not, but the examiner must see them (e.g. no journal anchor beside the database). */
export interface VerifyCaseView { ok: boolean; problems: VerifyProblemView[]; warnings: VerifyProblemView[] }

export interface ReferenceSetView {
  id: number;
  name: string;
  complete: boolean;
  adapterCount: number;
  rank: number;
  family: string;
  method: string;
  baseModel: string;
  sizes: number[];
  names: number;
  modules: number;
  source: string;
  importerVersion: string;
  createdAt: string;
  shards: { fileName: string; size: number; sha256: string; rows: number; importedAt: string }[];
}

export interface ImportReferenceResult {
  set: ReferenceSetView;
  imported: string[];
  skipped: string[];
  errors: ApiErrorShape[];
}

export interface RefusalView { code: string; kind: 'soft' | 'hard'; text: string }

export interface ApplicabilityView { applicable: boolean; reasons: string[]; refusals?: RefusalView[] }

export interface ReportCreated { pdf: string; manifest: string; sha256: string; signer: string; pages: number }

/** A signed report's verification as the app shows it (main/reports/verify.ts has the full record). */
export interface ReportVerificationView {
  ok: boolean;
  signatureValid: boolean;
  documentUnmodified: boolean;
  /** null: no trusted certificate was given, so who signed is not established. */
  trusted: boolean | null;
  signer: { commonName: string; organisation?: string; serial?: string; notBefore?: string; notAfter?: string; sha256Fingerprint: string } | null;
  /** Every signature in the PDF, oldest first: a report has exactly one, over the whole file. */
  signatures: { subject: string | null; sha256Fingerprint: string | null; signingTime: string | null; coversWholeDocument: boolean; signatureValid: boolean }[];
  manifest: { checked: boolean; ok: boolean; problems: string[] } | null;
  problems: string[];
}

/** Who signed a case archive's manifest. 'unsigned': its content could have been edited by anyone. */
export interface ArchiveSignatureView {
  status: 'signed' | 'unsigned';
  signer?: { subject: string; serial: string; sha256Fingerprint: string };
  /** Whether the signer chains to a certificate given as trusted. */
  trusted?: boolean;
  problems?: string[];
}

export interface ArchiveExported { path: string; sha256: string; signed: boolean; signer?: { subject: string; serial: string; sha256Fingerprint: string } }

/** A key the app made: the encrypted PKCS#12, and its certificate to hand to verifiers (and to trust
 *  when verifying the examiner's own reports). */
export interface KeyCreated { path: string; certificatePath: string; commonName: string; fingerprint: string }

// ---- channels -----------------------------------------------------------------------------------

export interface Channels {
  'app.info': { req: Record<string, never>; res: AppInfo };
  'cases.list': { req: { search?: string }; res: CaseSummary[] };
  'cases.create': { req: { title: string; examiner: string; organisation?: string; description?: string }; res: CaseSummary };
  'cases.get': { req: { caseId: string }; res: CaseDetail };
  'cases.addNote': { req: { caseId: string; text: string }; res: NoteView };
  'cases.verify': { req: { caseId: string }; res: VerifyCaseView };
  'cases.export': { req: { caseId: string; out: string; keyPath?: string; passphrase?: string }; res: ArchiveExported };
  'cases.import': { req: { archive: string; trust?: string[] }; res: CaseSummary & { signature: ArchiveSignatureView } };
  'evidence.inspect': { req: { path: string }; res: InspectView };
  'evidence.add': { req: { caseId: string; paths: string[]; notes?: string; tags?: string[] }; res: { added: EvidenceView[]; errors: ApiErrorShape[] } };
  'references.list': { req: Record<string, never>; res: ReferenceSetView[] };
  'references.import': { req: { name: string; paths: string[] }; res: ImportReferenceResult };
  'references.exportPack': { req: { name: string; out: string }; res: { path: string; sha256: string } };
  'references.importPack': { req: { path: string; name?: string }; res: ReferenceSetView };
  /** The method's error measured on the set (issue 18), cached with it: run in the background after an import. */
  'references.reliability': { req: { name: string; mode?: 'faithful' | 'best' }; res: SetReliabilityView };
  'analysis.check': { req: { caseId: string; evidenceId: string; referenceSet: string }; res: ApplicabilityView };
  /** mode absent: the one default every host uses (main/analysis/mode.ts). */
  /** override: the examiner's justification for comparing despite refusals, honoured only when every reason is soft (issue 18). */
  'analysis.run': { req: { caseId: string; evidenceIds: string[]; referenceSet: string; mode?: 'faithful' | 'best'; override?: string }; res: AnalysisView[] };
  'reports.create': { req: { caseId: string; out?: string; keyPath: string; passphrase: string }; res: ReportCreated };
  'reports.verify': { req: { pdfPath: string; manifestPath?: string; trust?: string[] }; res: ReportVerificationView };
  'reports.preview': { req: { caseId: string }; res: { html: string } };
  'keys.create': { req: { commonName: string; organisation?: string; passphrase: string; out?: string }; res: KeyCreated };
  'demo.open': { req: Record<string, never>; res: CaseDetail };
  'dialog.openFiles': { req: { title: string; filters?: { name: string; extensions: string[] }[]; directories?: boolean; multiple?: boolean }; res: string[] };
  'dialog.saveFile': { req: { title: string; defaultName: string; filters?: { name: string; extensions: string[] }[] }; res: string | null };
  'jobs.cancel': { req: { jobId: string }; res: { cancelled: boolean } };
  /** Reference studies (issue 19): the planner prefilled from a case's evidence, the bundle it writes
   *  (in the data folder), its status, the built-in trainer's run, and the import of its outputs. */
  'studies.draft': { req: { caseId: string; evidenceId: string; trainer?: 'kohya' | 'diffusers' | 'builtin' }; res: StudyDraftView };
  'studies.plan': { req: { caseId: string; evidenceId: string; trainer: 'kohya' | 'diffusers' | 'builtin'; images: string; sizes: number[]; subjects?: number; set?: Record<string, string> }; res: StudyStatusView };
  'studies.status': { req: { bundle: string }; res: StudyStatusView };
  'studies.run': { req: { bundle: string; jobs?: number }; res: StudyStatusView };
  'studies.import': { req: { bundle: string; name: string }; res: StudyImportView };
}

export type Channel = keyof Channels;
export type Req<C extends Channel> = Channels[C]['req'];
export type Res<C extends Channel> = Channels[C]['res'];

/** The runtime list of channels: preload, headless host and handler table are checked against it. */
export const CHANNELS = [
  'app.info', 'cases.list', 'cases.create', 'cases.get', 'cases.addNote', 'cases.verify', 'cases.export',
  'cases.import', 'evidence.inspect', 'evidence.add', 'references.list', 'references.import',
  'references.exportPack', 'references.importPack', 'references.reliability', 'analysis.check', 'analysis.run', 'reports.create',
  'reports.verify', 'reports.preview', 'keys.create', 'demo.open', 'dialog.openFiles', 'dialog.saveFile',
  'jobs.cancel', 'studies.draft', 'studies.plan', 'studies.status', 'studies.run', 'studies.import',
] as const satisfies readonly Channel[];

/** Channels whose work can be long: they report progress and honour jobs.cancel. */
export const LONG_RUNNING: readonly Channel[] = ['evidence.add', 'references.import', 'references.reliability', 'analysis.run', 'reports.create', 'demo.open', 'cases.import', 'cases.export', 'studies.run', 'studies.import'];

/** The IPC channel names used by Electron (one invoke channel, one event channel). */
export const IPC_INVOKE = 'lora-audit:invoke';
export const IPC_PROGRESS = 'lora-audit:progress';

export interface InvokeOptions {
  jobId?: string;
  onProgress?: (event: ProgressEvent) => void;
}

/** What `window.loraAudit` is, in Electron (preload) and in the headless host (loopback bridge). */
export interface LoraAuditApi {
  invoke<C extends Channel>(channel: C, request: Req<C>, options?: InvokeOptions): Promise<Res<C>>;
  cancel(jobId: string): Promise<void>;
  /** Paths for files dropped on the window (Electron: webUtils; headless host: staged uploads). */
  pathsForFiles(files: File[]): Promise<string[]>;
  readonly host: 'electron' | 'headless';
}

/** A failed invoke rejects with this; `error` is the one error shape. */
export class ApiFailure extends Error {
  readonly error: ApiErrorShape;
  constructor(error: ApiErrorShape) {
    super(error.file ? `${error.file}: ${error.message}` : error.message);
    this.name = 'ApiFailure';
    this.error = error;
  }
}
