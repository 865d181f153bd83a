// What `lora-audit inspect` and the app's evidence view show for one file: plain JSON, produced even
// when the file cannot be read (then `error` says why, and the hash and size still identify it).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { toApiError, type ErrorCode } from '../errors.ts';
import type { BaseModelHint, CanonicalAdapter, DType, Family, Finding, KohyaMetadata, Method, PeftConfigSummary, ScaleRule } from './model.ts';
import { sha256File } from '../common/hashing.ts';
import { openAdapter, type OpenOptions } from './open.ts';
import { identifyBaseModel, loadBaseModelTable, NO_BASE_MODEL_IDENTITY, shippedBaseModels, type BaseModelIdentity, type BaseModelTable } from './base-models.ts';
import { discloseMetadata, type Disclosure } from './disclosure.ts';

export interface InspectReport {
  file: string;
  size: number | null;
  sha256: string | null;
  family: Family | null;
  method: Method | null;
  container: 'safetensors' | 'torch-zip' | null;
  baseModel: BaseModelHint | null;
  ranks: number[];
  /** Adapted layers: LoRA-shaped A/B modules plus other methods' layers (LoKr, LoHa …). */
  modules: number;
  /** Of those, the LoRA-shaped A/B modules DSiRe can analyse. */
  loraModules: number;
  tensors: number;
  /** Tensors that are not adapter factors, counted by role (head, embedding, unknown …). */
  otherTensors: Record<string, number>;
  dtype: DType[];
  /** Distinct scales and how they were derived. */
  scale: { values: number[]; rules: ScaleRule[] };
  metadata: {
    keys: number;
    /** Untrusted: what the file claims about its training set. */
    claimedTrainingImages: number | null;
    kohya: KohyaMetadata | null;
    peft: PeftConfigSummary | null;
    companions: { file: string; size: number; sha256: string }[];
  };
  /** What the metadata gives away about the training data and the maker (untrusted text, escaped, bounded). */
  disclosure: Disclosure[];
  /** The base model named by the hashes the metadata states, looked up in the base-model table. */
  baseModelIdentity: BaseModelIdentity;
  findings: Finding[];
  error: { code: ErrorCode; message: string } | null;
}

/** Never throws for a bad file: the error goes into the report. */
export async function inspectFile(path: string, opts: OpenOptions & { baseModels?: BaseModelTable } = {}): Promise<InspectReport> {
  const file = resolve(path);
  let adapter: CanonicalAdapter | null = null;
  try {
    const { baseModels, ...open } = opts;
    adapter = await openAdapter(file, { scanValues: true, ...open });
    return fromAdapter(adapter, baseModels ?? await loadBaseModelTable());
  } catch (e) {
    const api = toApiError(e);
    const st = await stat(file).catch(() => null);
    const sha = st?.isFile() ? await sha256File(file).then((h) => h.sha256, () => null) : null;
    const findings: Finding[] = [];
    if (api.code === 'UNSAFE_PICKLE' && api.details?.global) {
      findings.push({ severity: 'error', code: 'PICKLE_GLOBAL', message: `pickle imports ${String(api.details.global)}: refused, never executed` });
    }
    return {
      file, size: st?.isFile() ? st.size : null, sha256: sha, family: null, method: null, container: null, baseModel: null,
      ranks: [], modules: 0, loraModules: 0, tensors: 0, otherTensors: {}, dtype: [], scale: { values: [], rules: [] },
      metadata: { keys: 0, claimedTrainingImages: null, kohya: null, peft: null, companions: [] },
      disclosure: [], baseModelIdentity: NO_BASE_MODEL_IDENTITY,
      findings, error: { code: api.code, message: api.message },
    };
  } finally {
    await adapter?.source.close();
  }
}

export function fromAdapter(a: CanonicalAdapter, baseModels: BaseModelTable = { entries: shippedBaseModels(), userFile: null, problem: null }): InspectReport {
  const raw = a.metadata.raw;
  const own = (key: string) => (Object.hasOwn(raw, key) ? raw[key] : undefined);
  const baseModelIdentity = identifyBaseModel(
    { sha256: own('ss_new_sd_model_hash'), legacyHash: own('ss_sd_model_hash'), name: own('ss_sd_model_name') ?? a.metadata.peft?.baseModelNameOrPath },
    baseModels.entries, a.baseModel);
  const findings = [...a.findings];
  if (baseModels.problem) {
    findings.push({ severity: 'warning', code: 'BASE_MODEL_TABLE_REFUSED',
      message: `the base-model table ${baseModels.userFile ?? ''} was not used: ${baseModels.problem}; base models are named from the shipped table only` });
  }
  if (baseModelIdentity.status === 'conflict') findings.push({ severity: 'warning', code: 'BASE_MODEL_HASH_CONFLICT', message: baseModelIdentity.summary });
  if (baseModelIdentity.shapeAgrees === false) findings.push({ severity: 'warning', code: 'BASE_MODEL_SHAPE_MISMATCH', message: baseModelIdentity.summary });
  const tensors = a.modules.length * 2 + a.otherTensors.length + (a.otherModules ?? []).reduce((s, m) => s + m.tensors.length, 0)
    + a.modules.filter((m) => m.magnitude).length;
  return {
    file: a.identity.file,
    size: a.identity.size,
    sha256: a.identity.sha256,
    family: a.family,
    method: a.method,
    container: a.container ?? null,
    baseModel: a.baseModel,
    ranks: a.ranks,
    modules: a.modules.length + (a.otherModules?.length ?? 0),
    loraModules: a.modules.length,
    tensors,
    otherTensors: a.otherTensors.reduce<Record<string, number>>((acc, t) => ({ ...acc, [t.role]: (acc[t.role] ?? 0) + 1 }), {}),
    dtype: a.dtypes,
    scale: {
      values: [...new Set(a.modules.map((m) => m.scale))].sort((x, y) => x - y),
      rules: [...new Set(a.modules.map((m) => m.scaleRule))].sort(),
    },
    metadata: {
      keys: Object.keys(a.metadata.raw).length,
      claimedTrainingImages: a.metadata.claimedTrainingImages ?? null,
      kohya: a.metadata.kohya ?? null,
      peft: a.metadata.peft ?? null,
      companions: a.identity.companions ?? [],
    },
    disclosure: discloseMetadata({ raw, kohya: a.metadata.kohya ?? null, peft: a.metadata.peft ?? null, identity: baseModelIdentity }),
    baseModelIdentity,
    findings,
    error: null,
  };
}
