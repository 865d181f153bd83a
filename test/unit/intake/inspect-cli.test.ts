// `lora-audit inspect <file…> [--json]`: one report per file, exit 1 when any file could not be read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execute } from '../../../main/cli/framework.ts';
import { command } from '../../../main/cli/commands/inspect.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';

let dir: string;
let good: string;
let bad: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'intake-cli-'));
  good = join(dir, 'pytorch_lora_weights.safetensors');
  const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
  writeFileSync(good, encodeSafetensors([
    { key: diffusersKey(id, 'A'), dtype: 'F16', shape: [2, 1024], data: new Float32Array(2048).fill(0.5) },
    { key: diffusersKey(id, 'B'), dtype: 'F16', shape: [320, 2], data: new Float32Array(640).fill(0.25) },
  ], { format: 'pt' }));
  bad = join(dir, 'lfs.safetensors');
  writeFileSync(bad, 'version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sink() {
  let text = '';
  return { stream: { write: (s: string) => { text += s; return true; } } as unknown as typeof process.stdout & typeof process.stderr, text: () => text };
}

describe('lora-audit inspect', () => {
  it('prints a JSON array with one report per file and exits 1 when one is refused', async () => {
    const out = sink();
    const err = sink();
    const code = await execute(command, [good, bad, '--json'], out.stream, err.stream);
    expect(code).toBe(1);
    const reports = JSON.parse(out.text());
    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatchObject({
      file: good, family: 'diffusers-lora', method: 'lora', baseModel: 'sd2', ranks: [2], modules: 1, dtype: ['F16'],
      scale: { values: [1], rules: ['one'] }, error: null, metadata: { keys: 1 },
    });
    expect(reports[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Array.isArray(reports[0].findings)).toBe(true);
    expect(reports[1]).toMatchObject({ file: bad, error: { code: 'LFS_POINTER' }, family: null });
  });

  it('prints a compact human block and exits 0 when all files read', async () => {
    const out = sink();
    const code = await execute(command, [good], out.stream, sink().stream);
    expect(code).toBe(0);
    expect(out.text()).toContain('family diffusers-lora (safetensors)');
    expect(out.text()).toContain('base model sd2');
    expect(out.text()).toMatch(/rank 2\s+dtype F16/);
  });

  it('asks for a file when given none', async () => {
    const err = sink();
    expect(await execute(command, [], sink().stream, err.stream)).toBe(2);
    expect(err.text()).toContain('usage: lora-audit inspect');
  });
});
