// What intake makes of an evidence file, as a case keeps it: the family, method and base model as
// columns (for lists and applicability), and intake's whole typed inspection report (the same one
// `lora-audit inspect` prints) as versioned JSON, so the evidence card shows everything the inspect
// view shows without re-reading the file. The parsers load lazily: listing, verifying and exporting
// a case never need them.
import { basename } from 'node:path';
import type { ErrorCode } from '../errors.ts';
import type { InspectReport } from '../intake/inspect.ts';
import type { Finding } from '../intake/model.ts';
import { readBaseModelIdentity } from '../intake/base-models.ts';
import { readDisclosure } from '../intake/disclosure.ts';

/** Version 1 rows held a looser summary (before the report was stored whole); readInspection maps them. */
export const INSPECTION_VERSION = 2;

export interface StoredInspection {
  version: typeof INSPECTION_VERSION;
  report: InspectReport;
}

export interface EvidenceInspection {
  family: string;
  method: string;
  baseModel: string;
  inspection: StoredInspection;
}

export async function inspectEvidence(path: string): Promise<EvidenceInspection> {
  const { inspectFile } = await import('../intake/inspect.ts');
  const report = await inspectFile(path);
  // the staging path means nothing later: the row names the file and the store holds it
  report.file = basename(path);
  return {
    family: report.family ?? 'unknown', method: report.method ?? 'unknown', baseModel: report.baseModel ?? 'unknown',
    inspection: { version: INSPECTION_VERSION, report },
  };
}

/** What the row itself says of the file: used where the stored inspection lacks it. */
export interface EvidenceFacts { fileName: string; size: number; sha256: string; family: string; method: string; baseModel: string }

/** A stored inspection as the typed report. The column may come from an imported archive, so every
 *  field is checked for its type and anything else is left out rather than trusted. */
export function readInspection(stored: unknown, facts: EvidenceFacts): InspectReport {
  const s = isObject(stored) ? stored : {};
  const r = s.version === INSPECTION_VERSION && isObject(s.report) ? s.report : legacy(s);
  const meta = isObject(r.metadata) ? r.metadata : {};
  const scale = isObject(r.scale) ? r.scale : {};
  const error = isObject(r.error) && typeof r.error.code === 'string' && typeof r.error.message === 'string'
    ? { code: r.error.code as ErrorCode, message: r.error.message } : null;
  const known = (v: unknown, row: string) => (error ? null : typeof v === 'string' ? v : row) as never;
  return {
    file: facts.fileName, size: facts.size, sha256: facts.sha256,
    family: known(r.family, facts.family), method: known(r.method, facts.method), baseModel: known(r.baseModel, facts.baseModel),
    container: r.container === 'safetensors' || r.container === 'torch-zip' ? r.container : null,
    ranks: numbers(r.ranks), modules: count(r.modules), loraModules: count(r.loraModules ?? r.modules), tensors: count(r.tensors),
    otherTensors: isObject(r.otherTensors) ? Object.fromEntries(Object.entries(r.otherTensors).filter(([, v]) => typeof v === 'number')) as Record<string, number> : {},
    dtype: strings(r.dtype ?? r.dtypes) as InspectReport['dtype'],
    scale: { values: numbers(scale.values), rules: strings(scale.rules) as InspectReport['scale']['rules'] },
    metadata: {
      keys: count(meta.keys),
      claimedTrainingImages: typeof meta.claimedTrainingImages === 'number' ? meta.claimedTrainingImages : null,
      kohya: isObject(meta.kohya) ? meta.kohya as InspectReport['metadata']['kohya'] : null,
      peft: isObject(meta.peft) ? meta.peft as InspectReport['metadata']['peft'] : null,
      companions: Array.isArray(meta.companions) ? meta.companions.filter(isObject) as InspectReport['metadata']['companions'] : [],
    },
    // Untrusted text from the file, and an imported row may be anything: checked, escaped and bounded again.
    disclosure: error ? [] : readDisclosure(r.disclosure),
    baseModelIdentity: readBaseModelIdentity(error ? null : r.baseModelIdentity),
    findings: Array.isArray(r.findings)
      ? r.findings.filter((f): f is Finding => isObject(f) && typeof f.code === 'string' && typeof f.message === 'string' && typeof f.severity === 'string')
      : [],
    error,
  };
}

/** Version 1: `{family, method, baseModel, ranks, dtypes, modules, otherTensors: [{role}], findings, metadata}` or `{error}`. */
function legacy(s: Record<string, unknown>): Record<string, unknown> {
  const roles = Array.isArray(s.otherTensors) ? s.otherTensors.filter(isObject).map((t) => String(t.role)) : [];
  return { ...s, otherTensors: Object.fromEntries([...new Set(roles)].map((role) => [role, roles.filter((x) => x === role).length])) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
function numbers(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)) : [];
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
function count(v: unknown): number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0;
}
