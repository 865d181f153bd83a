// `npm run generate:demo`: regenerates assets/demo/ (reference shard, evidence adapters, manifest)
// and assets/base-model/ (the pre-trained base the adapters were fine-tuned from, which reference
// studies fine-tune) deterministically from seed 42, and prints the effect table and the time it took.
// `npm run generate:demo -- --base-only` pre-trains and writes assets/base-model/ alone (about a minute).
import { fileURLToPath } from 'node:url';
import { generate, generateBaseModel } from './benchmark.ts';
import { formatEffect } from './effect.ts';
import { demoOptions } from './presets.ts';

const out = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const baseModelOut = fileURLToPath(new URL('../../assets/base-model/', import.meta.url));
if (process.argv.includes('--base-only')) {
  const m = await generateBaseModel(demoOptions(out), baseModelOut);
  process.stdout.write(`wrote the base model to ${baseModelOut}${m.file} (sha256 ${m.sha256}, loss ${m.pretrainLoss.first} → ${m.pretrainLoss.last})\n`);
} else {
  const result = await generate({ ...demoOptions(out), baseModelOut, log: (line) => process.stderr.write(line + '\n') });
  process.stdout.write(`${formatEffect(result.effect)}\n\nwrote ${result.rows} reference rows to ${result.parquet}\n`
    + result.adapters.map((a) => `  ${a.family.padEnd(9)} ${a.name} (${a.size} images)${a.applicable ? '' : ' not applicable'}: ${a.file}`).join('\n')
    + `\nseconds: pre-training ${result.seconds.pretrain.toFixed(1)}, fine-tuning ${result.seconds.finetune.toFixed(1)}, writing ${result.seconds.write.toFixed(1)}, total ${result.seconds.total.toFixed(1)}\n`);
  if (!result.effect.present) {
    process.stderr.write('warning: the size effect is absent in this run (norm and σ1 do not all fall as N grows)\n');
    process.exitCode = 1;
  }
}
