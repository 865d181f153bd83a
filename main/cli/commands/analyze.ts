// lora-audit analyze <adapter…> --reference <set>: the DSiRe estimate of each adapter's fine-tuning
// set size against a stored reference set. Applicability is checked before any feature is computed:
// a refused file gets its reasons and no number (and the command exits 1).
import { toApiError, type ApiError } from '../../errors.ts';
import { analyzeFile } from '../../analysis/analyze-file.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import type { AnalysisResult } from '../../dsire/types.ts';
import { loadReferenceSet } from '../../reference/store.ts';
import { BACKEND_NAMES, createFeatureEngine } from '../../../native/engine.ts';
import type { BackendName, FeatureEngine } from '../../../native/types.ts';
import { requireString, usageError, type Command } from '../framework.ts';
import { parseMode } from '../mode.ts';

type Entry = AnalysisResult | { file: string; error: ApiError };

export const command: Command<Entry[]> = {
  name: 'analyze',
  summary: 'Estimate how many samples each adapter was fine-tuned on (DSiRe) against a reference set: the estimate, '
    + 'the vote, the nearest references, and — in best mode (the default) — a 90 % interval and a between-sizes regression. '
    + 'faithful mode is the paper\'s method exactly.',
  usage: `analyze <adapter…> --reference <set> [--mode faithful|best] [--db <path>] [--backend auto|${BACKEND_NAMES.join('|')}] [--json]`,
  options: { reference: { type: 'string' }, mode: { type: 'string' }, db: { type: 'string' }, backend: { type: 'string', default: 'auto' } },
  async run(ctx, values, positionals) {
    if (positionals.length === 0) throw usageError('name at least one adapter file');
    const setName = requireString(values, 'reference');
    const mode = parseMode(values);
    const backend = String(values.backend);
    if (backend !== 'auto' && !BACKEND_NAMES.includes(backend as BackendName)) {
      throw usageError(`unknown backend "${backend}"; use auto or one of ${BACKEND_NAMES.join(', ')}`);
    }
    const db = await openDatabase(typeof values.db === 'string' ? values.db : defaultDbPath());
    const ref = await loadReferenceSet(db, setName).finally(() => db.close());
    ctx.log(`reference set "${ref.name}": ${ref.adapters.length} adapters, sizes ${ref.config.sizes.join(', ')}`);
    // made on the first applicable file only: calibrating backends is the slow part of a short command
    let engine: Promise<FeatureEngine> | undefined;
    const makeEngine = () => (engine ??= createFeatureEngine({ backend: backend as 'auto' | BackendName, log: ctx.log }));
    const out: Entry[] = [];
    try {
      for (const path of positionals) {
        try {
          out.push(await analyzeFile(path, ref, { mode, engine: makeEngine, signal: ctx.signal }));
        } catch (e) {
          const error = toApiError(e);
          if (error.code === 'CANCELLED') throw e;
          out.push({ file: error.file ?? path, error });
        }
      }
    } finally {
      await engine?.then((e) => e.dispose(), () => undefined);
    }
    const failed = out.some((e) => 'error' in e || !e.applicable);
    return { data: out, exitCode: failed ? 1 : 0 };
  },
  human(entries) {
    const lines: string[] = [];
    for (const e of entries) {
      if ('error' in e) { lines.push(`${e.file}: ${e.error.code}: ${e.error.message}`, ''); continue; }
      lines.push(e.file, `  sha256 ${e.sha256}`, `  reference set "${e.referenceSet}", ${e.mode} mode`);
      if (!e.applicable) {
        lines.push('  NOT APPLICABLE: no estimate.', ...e.reasons.map((r) => `  - ${r}`), '');
        continue;
      }
      const variant = (e.method.parameters.variant as { name?: string } | undefined)?.name;
      lines.push(`  estimate: ${e.estimate} samples${variant ? ` (${variant})` : ''}`);
      if (e.interval) lines.push(`  ${Math.round(e.interval.coverage * 100)} % interval: ${e.interval.low === e.interval.high ? e.interval.low : `${e.interval.low}–${e.interval.high}`}`);
      if (e.regression) lines.push(`  between sizes (regression): ${e.regression.estimate.toPrecision(3)}`);
      const total = e.votes.reduce((a, v) => a + v.count, 0) || 1;
      lines.push('  votes:');
      for (const v of e.votes) {
        const share = v.count / total;
        lines.push(`    ${String(v.size).padStart(6)}  ${'█'.repeat(Math.round(share * 40)).padEnd(40)} ${Number.isInteger(v.count) ? v.count : v.count.toFixed(1)}`);
      }
      lines.push('  nearest references:', ...e.nearest.slice(0, 3).map((n) => `    ${n.name} (size ${n.size}) at ${n.distance.toPrecision(3)}`));
      if (e.outOfDistribution) lines.push(`  distribution check: ${e.outOfDistribution.explanation}`);
      if (e.metadataClaim) lines.push(`  metadata claims ${e.metadataClaim.claimed} (${e.metadataClaim.source}): ${e.metadataClaim.agrees ? 'consistent with the weights' : 'NOT consistent with the weights'}`);
      for (const w of e.warnings) lines.push(`  warning: ${w}`);
      lines.push('');
    }
    return lines.join('\n').trimEnd();
  },
};
