// The structure of a query adapter that applicability is judged on: what produced it, how its update
// is scaled, its ranks and its module shapes. Read from the canonical model only: no tensor bytes.
import type { CanonicalAdapter } from '../intake/model.ts';
import { trainingTool } from './tool.ts';
import type { AdapterDescriptor } from './types.ts';

export function describeAdapter(adapter: CanonicalAdapter): AdapterDescriptor {
  const modules = adapter.modules
    .map((m) => ({ id: m.id, inFeatures: m.inFeatures, outFeatures: m.outFeatures }))
    .sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const scales = [...new Set(adapter.modules.map((m) => m.scale))].sort((x, y) => x - y);
  const rules = [...new Set(adapter.modules.map((m) => m.scaleRule))];
  const ranks = adapter.ranks.length > 0
    ? [...adapter.ranks]
    : [...new Set(adapter.modules.map((m) => m.rank))].sort((x, y) => x - y);
  return {
    family: adapter.family,
    method: adapter.method,
    // A file mixes rules only when it is malformed; the first module's rule stands for the file and the
    // distinct scales carry the detail the applicability check needs.
    scaleRule: rules[0] ?? 'one',
    scale: scales.length === 1 ? scales[0] : scales.length === 0 ? Number.NaN : scales[0],
    baseModel: adapter.baseModel,
    ranks,
    modules,
    scales,
    tool: trainingTool(adapter),
  };
}
