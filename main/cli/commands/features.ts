// lora-audit features <adapter…>: σ(A), σ(B), σ(ΔW), norms and effective rank per module, with the
// compute backend that produced them and why it was chosen.
import { toApiError, type ApiError } from '../../errors.ts';
import { openAdapter } from '../../intake/open.ts';
import { extractFeatures } from '../../features/extract.ts';
import { featuresToJson, type AdapterFeaturesJson } from '../../features/json.ts';
import { BACKEND_NAMES, createFeatureEngine } from '../../../native/engine.ts';
import type { BackendName } from '../../../native/types.ts';
import { usageError, type Command } from '../framework.ts';

type Entry = AdapterFeaturesJson | { file: string; error: ApiError };

export const command: Command<Entry[]> = {
  name: 'features',
  summary: 'Spectral features per LoRA module: singular values of A, B and ΔW = scale·B·A (descending), Frobenius norms, effective rank.',
  usage: `features <adapter…> [--backend auto|${BACKEND_NAMES.join('|')}] [--json]`,
  options: { backend: { type: 'string', default: 'auto' } },
  async run(ctx, values, positionals) {
    if (positionals.length === 0) throw usageError('name at least one adapter file');
    const backend = String(values.backend);
    if (backend !== 'auto' && !BACKEND_NAMES.includes(backend as BackendName)) {
      throw usageError(`unknown backend "${backend}"; use auto or one of ${BACKEND_NAMES.join(', ')}`);
    }
    const engine = await createFeatureEngine({ backend: backend as 'auto' | BackendName, log: ctx.log });
    const out: Entry[] = [];
    try {
      for (const path of positionals) {
        try {
          const adapter = await openAdapter(path);
          try {
            const features = await extractFeatures(adapter, engine, { signal: ctx.signal });
            out.push(featuresToJson(adapter.identity, features, engine.info));
          } finally {
            await adapter.source.close();
          }
        } catch (e) {
          const error = toApiError(e);
          if (error.code === 'CANCELLED') throw e;
          out.push({ file: error.file ?? path, error });
        }
      }
    } finally {
      engine.dispose();
    }
    return { data: out, exitCode: out.some((e) => 'error' in e) ? 1 : 0 };
  },
  human(entries) {
    const lines: string[] = [];
    for (const e of entries) {
      if ('error' in e) {
        lines.push(`${e.file}: ${e.error.code}: ${e.error.message}`, '');
        continue;
      }
      lines.push(`${e.file}`, `  sha256 ${e.sha256}`, `  backend ${e.backend}: ${e.backendReason}`, `  ${e.modules.length} modules`);
      const idWidth = Math.min(80, Math.max(6, ...e.modules.map((m) => m.id.length)));
      lines.push(`  ${'module'.padEnd(idWidth)}  rank   σ1(ΔW)      ‖ΔW‖_F      ‖A‖_F       ‖B‖_F       eff.rank`);
      for (const m of e.modules) {
        const id = m.id.length > idWidth ? '…' + m.id.slice(m.id.length - idWidth + 1) : m.id.padEnd(idWidth);
        lines.push(`  ${id}  ${String(m.rank).padStart(4)}   ${fmt(m.sigmaDW[0])}  ${fmt(m.normDW)}  ${fmt(m.normA)}  ${fmt(m.normB)}  ${m.effectiveRank.toFixed(2).padStart(8)}`);
      }
      lines.push('');
    }
    return lines.join('\n').trimEnd();
  },
};

function fmt(v: number | undefined): string {
  return (v === undefined || v === null ? 'n/a' : v.toExponential(3)).padEnd(10);
}
