// The one analysis pipeline: file → intake → describe → applicability → features → DSiRe.
// Every host (the CLI's `analyze`, a case analysis, the app's applicability check, the report's
// spectra) calls these functions, so a file analysed against a set gives the same result whichever
// way it was asked for. Hosts add only what is theirs: the case records the result and its audit
// entry, the CLI prints it.
import { AuditError } from '../errors.ts';
import { analyze } from '../dsire/analyze.ts';
import { checkApplicability, overridable, type Applicability } from '../dsire/applicability.ts';
import { describeAdapter } from '../dsire/describe.ts';
import { withReliability } from '../dsire/opinion.ts';
import type { AnalysisResult, DsireMode } from '../dsire/types.ts';
import { extractFeatures } from '../features/extract.ts';
import type { CanonicalAdapter } from '../intake/model.ts';
import { openAdapter } from '../intake/open.ts';
import type { ReferenceConfig, ReferenceSet } from '../reference/types.ts';
import type { AdapterFeatures, FeatureEngine, ModuleFeatures } from '../../native/types.ts';
import { DEFAULT_MODE } from './mode.ts';
import { checkJustification } from './override.ts';
import type { ReliabilitySource } from './reliability.ts';
import { recipeMatch } from '../studies/match.ts';

export { DEFAULT_MODE, MODES } from './mode.ts';
export { checkJustification, JUSTIFICATION_MAX } from './override.ts';

/** An engine, or a way to make one only when a file turns out to be applicable (the CLI's choice:
 *  calibrating backends is the slowest part of a short command). */
export type EngineSource = FeatureEngine | (() => Promise<FeatureEngine>);

export interface AnalyzeFileOptions {
  mode?: DsireMode;
  engine: EngineSource;
  signal?: AbortSignal;
  /** The SHA-256 the caller recorded for this file (a case's evidence): a file that no longer has it is refused. */
  expectedSha256?: string;
  /** The name the result carries (a case shows the evidence's original file name, not its stored path). */
  displayName?: string;
  /** The set's measured reliability (issue 18): every host passes cachedReliability(db) from ./reliability.ts. */
  reliability: ReliabilitySource;
  /** The examiner's justification for comparing despite refusals (issue 18): allowed only when every
   *  reason is soft; a hard one throws OVERRIDE_REFUSED naming it. Checked by checkJustification. */
  override?: string;
}

/** Where a metadata claim of the training-set size comes from, in the words every report uses. */
export function metadataClaim(adapter: CanonicalAdapter): { claimedTrainingImages?: number; claimSource?: string } {
  const kohya = adapter.metadata.kohya?.realImageCount;
  const claimed = adapter.metadata.claimedTrainingImages ?? kohya;
  if (claimed === undefined) return {};
  const fromKohya = kohya !== undefined && kohya === claimed;
  return {
    claimedTrainingImages: claimed,
    claimSource: fromKohya ? 'kohya ss_dataset_dirs (sum of img_count, repeats not counted)' : 'adapter metadata',
  };
}

/** Opens a file, checks it still has the expected SHA-256, runs `use`, and always closes it. */
export async function withAdapter<T>(path: string, expectedSha256: string | undefined, use: (adapter: CanonicalAdapter) => Promise<T>): Promise<T> {
  const adapter = await openAdapter(path);
  try {
    if (expectedSha256 !== undefined && adapter.identity.sha256 !== expectedSha256) {
      throw new AuditError('HASH_MISMATCH',
        `the file no longer has the SHA-256 recorded for it (recorded ${expectedSha256}, now ${adapter.identity.sha256})`, path,
        { recorded: expectedSha256, now: adapter.identity.sha256 });
    }
    return await use(adapter);
  } finally {
    await adapter.source.close();
  }
}

/** The whole pipeline for one file against one reference set. Applicability is judged on the file's
 *  structure before any feature is computed: a refused file gets its reasons and no number. */
export async function analyzeFile(path: string, ref: ReferenceSet, options: AnalyzeFileOptions): Promise<AnalysisResult> {
  return withAdapter(path, options.expectedSha256, (adapter) => analyzeAdapter(adapter, ref, options));
}

export async function analyzeAdapter(adapter: CanonicalAdapter, ref: ReferenceSet, options: AnalyzeFileOptions): Promise<AnalysisResult> {
  const descriptor = describeAdapter(adapter);
  const justification = options.override === undefined ? undefined : checkJustification(options.override);
  const check = checkApplicability(descriptor, ref.config);
  if (justification !== undefined && !check.applicable) {
    const { hard } = overridable(check.refusals);
    if (hard.length > 0) {
      throw new AuditError('OVERRIDE_REFUSED',
        `the refusal cannot be overridden: ${hard.length === 1 ? 'its reason is' : `${hard.length} of its reasons are`} hard (${hard.map((r) => r.code.toLowerCase().replace(/_/g, ' ')).join(', ')}): ${hard.map((r) => r.text).join(' ')} `
        + 'A hard reason (method, rank, module set or shapes, scale, non-finite values) changes the very numbers DSiRe compares, so no justification makes the comparison meaningful; '
        + 'only soft reasons (the training tool, a base model unknown on one side) can be overridden.',
        options.displayName ?? adapter.identity.file, { hard: hard.map((r) => ({ code: r.code, text: r.text })) });
    }
  }
  let features: ModuleFeatures[] = [];
  let backend = 'none';
  if (check.applicable || justification !== undefined) {
    const computed = await featuresOf(adapter, options.engine, options.signal);
    features = computed.modules;
    backend = computed.backend;
  }
  const mode = options.mode ?? DEFAULT_MODE;
  const result = analyze({
    file: options.displayName ?? adapter.identity.file, sha256: adapter.identity.sha256, descriptor, features, backend,
    ...metadataClaim(adapter),
  }, ref, { mode, ...(justification !== undefined ? { override: { justification } } : {}) });
  // Against a study's set (issue 19): the evidence's recipe beside the study's, field by field.
  if (ref.provenance.study) result.recipeMatch = recipeMatch(adapter, ref.provenance.study);
  // The method's error on this set (measured on first use, then cached with it) and the opinion drawn
  // from it, the vote, the distribution check and any override. A refusal needs no measurement.
  const outcome = result.applicable && result.estimate !== null
    ? await options.reliability(ref, mode, options.signal)
    : { unavailable: { code: 'REFUSED' as const, reason: 'no estimate was made, so no error rate applies' } };
  return withReliability(result, outcome);
}

/** Applicability alone (the app asks before it offers to run an analysis). */
export async function checkFile(path: string, config: ReferenceConfig, expectedSha256?: string): Promise<Applicability> {
  return withAdapter(path, expectedSha256, async (adapter) => checkApplicability(describeAdapter(adapter), config));
}

/** The features of one file (the report recomputes the spectra of an older analysis from them). */
export async function featuresOfFile(path: string, engine: EngineSource, options: { expectedSha256?: string; signal?: AbortSignal } = {}): Promise<AdapterFeatures> {
  return withAdapter(path, options.expectedSha256, (adapter) => featuresOf(adapter, engine, options.signal));
}

async function featuresOf(adapter: CanonicalAdapter, engine: EngineSource, signal: AbortSignal | undefined): Promise<AdapterFeatures> {
  const resolved = typeof engine === 'function' ? await engine() : engine;
  return extractFeatures(adapter, resolved, { signal });
}
