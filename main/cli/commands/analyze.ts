// lora-audit analyze <adapter…> --reference <set>: the DSiRe estimate of each adapter's fine-tuning
// set size against a stored reference set. Applicability is checked before any feature is computed:
// a refused file gets its reasons and no number (and the command exits 1).
import { toApiError, type ApiError } from '../../errors.ts';
import { analyzeFile, checkJustification } from '../../analysis/analyze-file.ts';
import { cachedReliability } from '../../analysis/reliability.ts';
import { hasBounds } from '../../dsire/conformal.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import type { AnalysisResult } from '../../dsire/types.ts';
import { loadReferenceSet } from '../../reference/store.ts';
import { BACKEND_NAMES, createFeatureEngine } from '../../../native/engine.ts';
import type { BackendName, FeatureEngine } from '../../../native/types.ts';
import { requireString, usageError, type Command } from '../framework.ts';
import { parseMode } from '../mode.ts';

type Entry = AnalysisResult | { file: string; error: ApiError };

/** A recipe value on one line (the recipe-match table of a study's set, issue 19). */
const show = (v: unknown): string => (v === null || v === undefined ? 'not stated' : Array.isArray(v) ? v.join(', ') : String(v));

export const command: Command<Entry[]> = {
  name: 'analyze',
  summary: 'Estimate how many samples each adapter was fine-tuned on (DSiRe) against a reference set: the estimate, '
    + 'the vote, the nearest references, and — in best mode (the default) — a 90 % interval and a between-sizes regression. '
    + 'faithful mode is the paper\'s method exactly.',
  usage: `analyze <adapter…> --reference <set> [--mode faithful|best] [--db <path>] [--backend auto|${BACKEND_NAMES.join('|')}] [--override "<justification>"] [--json]`,
  options: { reference: { type: 'string' }, mode: { type: 'string' }, db: { type: 'string' }, backend: { type: 'string', default: 'auto' }, override: { type: 'string' } },
  async run(ctx, values, positionals) {
    if (positionals.length === 0) throw usageError('name at least one adapter file');
    const setName = requireString(values, 'reference');
    const mode = parseMode(values);
    // --override "<why>": compare despite soft refusal reasons (issue 18); a hard reason still refuses, naming it
    const override = values.override === undefined ? undefined : checkJustification(values.override);
    const backend = String(values.backend);
    if (backend !== 'auto' && !BACKEND_NAMES.includes(backend as BackendName)) {
      throw usageError(`unknown backend "${backend}"; use auto or one of ${BACKEND_NAMES.join(', ')}`);
    }
    const db = await openDatabase(typeof values.db === 'string' ? values.db : defaultDbPath());
    // kept open while the files are analysed: the set's reliability is read from it (measured and stored on first use)
    const ref = await loadReferenceSet(db, setName).catch(async (e: unknown) => { await db.close(); throw e; });
    ctx.log(`reference set "${ref.name}": ${ref.adapters.length} adapters, sizes ${ref.config.sizes.join(', ')}`);
    // made on the first applicable file only: calibrating backends is the slow part of a short command
    let engine: Promise<FeatureEngine> | undefined;
    const makeEngine = () => (engine ??= createFeatureEngine({ backend: backend as 'auto' | BackendName, log: ctx.log }));
    const out: Entry[] = [];
    try {
      for (const path of positionals) {
        try {
          out.push(await analyzeFile(path, ref, { mode, engine: makeEngine, signal: ctx.signal, reliability: cachedReliability(db), ...(override !== undefined ? { override } : {}) }));
        } catch (e) {
          const error = toApiError(e);
          if (error.code === 'CANCELLED') throw e;
          out.push({ file: error.file ?? path, error });
        }
      }
    } finally {
      await engine?.then((e) => e.dispose(), () => undefined);
      await db.close();
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
        const kinds = e.refusals ?? [];
        lines.push('  NOT APPLICABLE: no estimate.', ...e.reasons.map((r, i) => `  - ${kinds[i] ? `[${kinds[i].kind}] ` : ''}${r}`));
        if (kinds.length > 0 && kinds.every((k) => k.kind === 'soft')) lines.push('  Every reason is soft: --override "<justification>" compares anyway, on the record.');
        lines.push('');
        continue;
      }
      const variant = (e.method.parameters.variant as { name?: string } | undefined)?.name;
      lines.push(`  estimate: ${e.estimate} samples${variant ? ` (${variant})` : ''}`);
      if (e.override) lines.push(`  compared despite: ${e.override.reasonsOverridden.join(' ')}`, `  justification (${e.override.justification.length} characters): ${e.override.justification}`);
      const iv = e.interval;
      if (hasBounds(iv)) {
        const measured = iv.coverage === null ? 'coverage not measured' : `held ${Math.round(iv.coverage * 100)} % of held-out true sizes`;
        lines.push(`  ${Math.round(iv.nominal * 100)} % interval: ${iv.low === iv.high ? iv.low : `${iv.low}–${iv.high}`} (${measured})`);
      } else {
        lines.push(`  interval: none (${iv.reason})`);
      }
      const rel = e.reliability;
      if (rel) {
        lines.push(`  reliability on this set: exact ${Math.round(rel.accuracy * 100)} %, within one size ${Math.round(rel.withinOne * 100)} %, MAE ${rel.mae.toFixed(2)}, MAPE ${rel.mape.toFixed(0)} % (${rel.splits} splits, ${rel.trainNames} of ${rel.names} names as references)`);
      } else if (e.reliabilityUnavailable) {
        lines.push(`  reliability on this set: not measured (${e.reliabilityUnavailable.reason})`);
      }
      if (e.opinion) lines.push(`  opinion: ${e.opinion.grade.toUpperCase()}`, ...e.opinion.because.map((b) => `    - ${b}`));
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
      if (e.recipeMatch) {
        const m = e.recipeMatch;
        lines.push(`  recipe match against study ${m.studyId} (${m.coverage.imported} of ${m.coverage.planned} runs${m.sameEvidence ? ', planned from this file' : ''}):`,
          ...m.rows.map((r) => `    ${r.match === 'differs' ? 'DIFFERS' : r.match.padEnd(7)} ${r.field}${r.assumed ? ' (assumed)' : ''}: ${show(r.evidence.value)} [${r.evidence.source}] vs ${show(r.study.value)} [${r.study.source}]`));
      }
      for (const w of e.warnings) lines.push(`  warning: ${w}`);
      lines.push('');
    }
    return lines.join('\n').trimEnd();
  },
};
