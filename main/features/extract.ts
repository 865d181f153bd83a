// Adapter → spectral features: the modules' factors are read from the evidence file and handed to
// the feature engine in bounded groups, so a large adapter (SDXL at rank 128 is ~0.7 GB of float32)
// is never held in memory whole.
import { AuditError } from '../errors.ts';
import { loadModuleWeights } from '../intake/open.ts';
import type { CanonicalAdapter, LoraModule } from '../intake/model.ts';
import type { AdapterFeatures, FeatureEngine, ModuleFeatures } from '../../native/types.ts';

/** Values (A and B together) read per group: 32 M floats = 128 MiB of float32. */
export const GROUP_VALUES = 32 * 1024 * 1024;

export interface ExtractOptions {
  signal?: AbortSignal;
  /** Values per group (tests use a small one to exercise the grouping). */
  groupValues?: number;
}

export async function extractFeatures(adapter: CanonicalAdapter, engine: FeatureEngine, opts: ExtractOptions = {}): Promise<AdapterFeatures> {
  if (adapter.modules.length === 0) {
    throw new AuditError('NO_MODULES',
      `no LoRA A/B modules to take features from (family ${adapter.family}, method ${adapter.method}); DSiRe features need low-rank factor pairs`,
      adapter.identity.file);
  }
  const out: ModuleFeatures[] = [];
  for (const group of groupModules(adapter.modules, opts.groupValues ?? GROUP_VALUES)) {
    if (opts.signal?.aborted) throw new AuditError('CANCELLED', 'feature extraction was cancelled', adapter.identity.file);
    const weights = await loadModuleWeights(adapter, group.map((m) => m.id));
    out.push(...(await engine.compute(weights)));
  }
  out.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { modules: out, backend: engine.info.name };
}

/** Consecutive modules whose factors together stay under `budget` values (a module larger than that goes alone). */
export function groupModules(modules: LoraModule[], budget: number): LoraModule[][] {
  const groups: LoraModule[][] = [];
  let current: LoraModule[] = [];
  let size = 0;
  for (const m of modules) {
    const n = m.rank * (m.inFeatures + m.outFeatures);
    if (current.length > 0 && size + n > budget) {
      groups.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += n;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}
