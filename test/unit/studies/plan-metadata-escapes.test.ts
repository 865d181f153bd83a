// study plan from an evidence file whose metadata carries terminal escapes (security review of issue 19):
// the base model it names is passed to the trainer in runs.sh and the base-model hash is printed in the
// bundle's README.md, files an examiner reads with cat. A base model holding control characters is not
// taken from the file (the examiner names one with --base-model), and the README shows no control
// character as it is.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planStudy } from '../../../main/studies/plan.ts';
import { KOHYA_EVIDENCE } from './bundle-fixture.ts';

const tmp = mkdtempSync(join(tmpdir(), 'study-escapes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The demo's kohya evidence with metadata values replaced. */
function evidenceWith(meta: Record<string, string>): string {
  const bytes = readFileSync(KOHYA_EVIDENCE);
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8'));
  Object.assign(header.__metadata__, meta);
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(text.length));
  const out = join(tmp, 'evidence.safetensors');
  writeFileSync(out, Buffer.concat([len, text, bytes.subarray(8 + n)]));
  return out;
}

const ESC = '\u001b]0;pwned\u0007\u001b[2J';
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

describe('metadata with terminal escapes', () => {
  it('a base model named with control characters is not taken from the file', async () => {
    const evidence = evidenceWith({ ss_sd_model_name: `runwayml/stable-diffusion-v1-5${ESC}` });
    await expect(planStudy({ evidence, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out: join(tmp, 'a') }))
      .rejects.toMatchObject({ code: 'BAD_REQUEST', details: { reason: 'NO_BASE_MODEL' } });
  });

  it('README.md and runs.sh hold no control character from the metadata', async () => {
    const evidence = evidenceWith({ ss_sd_model_name: `runwayml/stable-diffusion-v1-5${ESC}`, ss_new_sd_model_hash: `abc${ESC}` });
    const { bundleDir } = await planStudy({ evidence, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out: join(tmp, 'b'), baseModel: 'runwayml/stable-diffusion-v1-5' });
    for (const f of ['README.md', 'runs.sh', 'run-all.sh', 'slurm.sbatch']) {
      expect(CONTROL.test(readFileSync(join(bundleDir, f), 'utf8')), f).toBe(false);
    }
    expect(readFileSync(join(bundleDir, 'README.md'), 'utf8')).toContain('abc');
  });

  it('a direction override or zero-width character in the metadata is neither taken nor shown as it is', async () => {
    // U+202E makes "…1-5\u202Egnp.exe" read as "…1-5exe.png"; U+200B hides inside a name
    const disguised = 'runwayml/stable-diffusion-v1-5\u202Egnp.exe';
    await expect(planStudy({ evidence: evidenceWith({ ss_sd_model_name: disguised }), images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out: join(tmp, 'c') }))
      .rejects.toMatchObject({ code: 'BAD_REQUEST', details: { reason: 'NO_BASE_MODEL' } });
    const evidence = evidenceWith({ ss_sd_model_name: disguised, ss_new_sd_model_hash: 'ab\u200Bc\u2028d' });
    const { bundleDir } = await planStudy({ evidence, images: 'builtin', sizes: [1], subjects: 1, trainer: 'kohya', out: join(tmp, 'd'), baseModel: 'runwayml/stable-diffusion-v1-5' });
    const readme = readFileSync(join(bundleDir, 'README.md'), 'utf8');
    expect(readme).toContain('ab\\u{200B}c\\u{2028}d');
    expect(/[\u200b\u2028\u202e]/.test(readme)).toBe(false);
  });
});
