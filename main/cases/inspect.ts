// What intake makes of an evidence file, reduced to what a case keeps: the family, method and base
// model (columns, for lists and applicability), and a summary of the rest (JSON). The parsers load
// lazily: listing, verifying and exporting a case never need them.
import type { CanonicalAdapter } from '../intake/model.ts';
import { toApiError } from '../errors.ts';

export interface EvidenceInspection {
  family: string;
  method: string;
  baseModel: string;
  summary: Record<string, unknown>;
}

export async function inspectEvidence(path: string): Promise<EvidenceInspection> {
  const { openAdapter } = await import('../intake/open.ts');
  let adapter: CanonicalAdapter;
  try {
    adapter = await openAdapter(path);
  } catch (err) {
    const error = toApiError(err);
    delete error.file; // the staging path means nothing later; the row names the file
    return { family: 'unknown', method: 'unknown', baseModel: 'unknown', summary: { error } };
  }
  try {
    return { family: adapter.family, method: adapter.method, baseModel: adapter.baseModel, summary: summarise(adapter) };
  } finally {
    await adapter.source.close();
  }
}

export function summarise(adapter: CanonicalAdapter): Record<string, unknown> {
  return {
    family: adapter.family,
    method: adapter.method,
    baseModel: adapter.baseModel,
    ranks: adapter.ranks,
    dtypes: adapter.dtypes,
    modules: adapter.modules.length,
    otherTensors: adapter.otherTensors.map((t) => ({ key: t.key, role: t.role, shape: t.shape })),
    findings: adapter.findings,
    metadata: {
      kohya: adapter.metadata.kohya ?? null,
      peft: adapter.metadata.peft ?? null,
      claimedTrainingImages: adapter.metadata.claimedTrainingImages ?? null,
      keys: Object.keys(adapter.metadata.raw).length,
    },
  };
}
