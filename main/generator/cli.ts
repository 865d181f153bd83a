// `npm run generate:demo`: regenerates assets/demo/ (reference shard, evidence adapters, manifest)
// deterministically from seed 42, and prints the effect table and the time it took.
import { fileURLToPath } from 'node:url';
import { generate } from './benchmark.ts';
import { formatEffect } from './effect.ts';
import { demoOptions } from './presets.ts';

const out = fileURLToPath(new URL('../../assets/demo/', import.meta.url));
const result = await generate({ ...demoOptions(out), log: (line) => process.stderr.write(line + '\n') });
process.stdout.write(`${formatEffect(result.effect)}\n\nwrote ${result.rows} reference rows to ${result.parquet}\n`
  + result.adapters.map((a) => `  ${a.family.padEnd(9)} ${a.name} (${a.size} images)${a.applicable ? '' : ' not applicable'}: ${a.file}`).join('\n')
  + `\nseconds: pre-training ${result.seconds.pretrain.toFixed(1)}, fine-tuning ${result.seconds.finetune.toFixed(1)}, writing ${result.seconds.write.toFixed(1)}, total ${result.seconds.total.toFixed(1)}\n`);
if (!result.effect.present) {
  process.stderr.write('warning: the size effect is absent in this run (norm and σ1 do not all fall as N grows)\n');
  process.exitCode = 1;
}
