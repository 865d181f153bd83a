// lora-audit evaluate --reference <set>: the paper's evaluation protocol on a stored reference set
// (split by name, seeded splits), with the ablations and, in best mode, the interval's measured coverage.
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import { evaluate } from '../../dsire/evaluate.ts';
import type { EvaluationResult, MeanStd } from '../../dsire/types.ts';
import { loadReferenceSet } from '../../reference/store.ts';
import { requireString, usageError, type Command, type Values } from '../framework.ts';
import { parseMode } from '../mode.ts';

function integer(values: Values, name: string, fallback: number): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw usageError(`--${name} must be a whole number, not "${s}"`);
  return Number(s);
}

const pm = (x: MeanStd, digits = 3, scale = 1) => `${(x.mean * scale).toFixed(digits)} ± ${(x.std * scale).toFixed(digits)}`;

export const command: Command<EvaluationResult> = {
  name: 'evaluate',
  summary: 'The DSiRe evaluation protocol on a reference set: split by name, --train-names names as references, '
    + 'the rest as queries, --splits seeded splits. Accuracy, MAE and MAPE as mean ± std, confusion matrix, per-layer '
    + 'accuracy, ablations; best mode adds the variant chosen per split and the interval coverage on held-out names.',
  usage: 'evaluate --reference <set> [--splits 10] [--train-names 15] [--seed 42] [--mode faithful|best] [--db <path>] [--json]',
  options: {
    reference: { type: 'string' }, splits: { type: 'string' }, 'train-names': { type: 'string' }, seed: { type: 'string' },
    mode: { type: 'string' }, db: { type: 'string' },
  },
  async run(ctx, values) {
    const setName = requireString(values, 'reference');
    const opts = {
      splits: integer(values, 'splits', 10),
      trainNames: integer(values, 'train-names', 15),
      seed: integer(values, 'seed', 42),
      mode: parseMode(values),
    };
    const db = await openDatabase(typeof values.db === 'string' ? values.db : defaultDbPath());
    const ref = await loadReferenceSet(db, setName).finally(() => db.close());
    ctx.log(`reference set "${ref.name}": ${ref.adapters.length} adapters; ${opts.splits} splits of ${opts.trainNames} reference names, seed ${opts.seed}`);
    return { data: evaluate(ref, opts) };
  },
  human(r) {
    const lines = [
      `reference set "${r.referenceSet}", ${r.mode} mode: ${r.parameters.splits} splits, ${r.parameters.trainNames} of ${r.names} names as references, seed ${r.parameters.seed}`,
      `  accuracy ${pm(r.accuracy, 1, 100)} %   MAE ${pm(r.mae)}   MAPE ${pm(r.mape, 1)} %`,
    ];
    if (r.interval) lines.push(`  ${Math.round(r.interval.nominal * 100)} % interval: coverage on held-out names ${pm(r.interval.coverage, 1, 100)} %, mean width ${r.interval.meanWidth.mean.toFixed(2)} sizes`);
    if (r.comparison) {
      lines.push(`  faithful on the same splits: accuracy ${pm(r.comparison.faithful.accuracy, 1, 100)} %, MAE ${pm(r.comparison.faithful.mae)}`);
      lines.push(`  chosen per split: ${Object.entries(r.comparison.chosen).map(([k, n]) => `${k} ×${n}`).join('; ')}`);
    }
    // the name column as wide as the longest variant name (44 at least, as before)
    const width = Math.max(44, ...r.ablations.variants.map((v) => v.variant.name.length));
    lines.push('', `  ${'variant'.padEnd(width)} accuracy %        MAE              MAPE %`);
    for (const v of r.ablations.variants) lines.push(`  ${v.variant.name.padEnd(width)} ${pm(v.accuracy, 1, 100).padEnd(17)} ${pm(v.mae).padEnd(16)} ${pm(v.mape, 1)}`);
    lines.push(`  ${'regression (between sizes)'.padEnd(width)} ${pm(r.ablations.regression.accuracy, 1, 100).padEnd(17)} ${pm(r.ablations.regression.mae).padEnd(16)} ${pm(r.ablations.regression.mape, 1)}`);
    lines.push('', '  references per size: ' + r.ablations.referencesPerSize.map((x) => `${x.perSize}: ${(x.accuracy.mean * 100).toFixed(1)} %`).join(', '));
    lines.push('', `  confusion (rows true, columns predicted): ${r.confusion.sizes.join(' ')}`);
    r.confusion.counts.forEach((row, i) => lines.push(`  ${String(r.confusion.sizes[i]).padStart(6)}  ${row.map((c) => String(c).padStart(5)).join('')}`));
    lines.push('', '  per split: ' + r.splits.map((s) => `${(s.accuracy * 100).toFixed(1)} %`).join(', '));
    lines.push(`  (${r.elapsedMs.toFixed(0)} ms)`);
    return lines.join('\n');
  },
};
