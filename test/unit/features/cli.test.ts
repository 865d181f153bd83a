// lora-audit features: the JSON a script reads, and the errors a person sees.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command } from '../../../main/cli/commands/features.ts';
import { execute } from '../../../main/cli/framework.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { seededRandom, wellConditionedModule } from '../../../native/probe.ts';

let dir: string;
let adapterPath: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'features-cli-'));
  const m = wellConditionedModule(seededRandom(3), { id: 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q', rank: 4, inFeatures: 64, outFeatures: 64, sigmaA: [4, 3, 2, 1], sigmaB: [1, 1, 1, 1] });
  adapterPath = join(dir, 'pytorch_lora_weights.safetensors');
  writeFileSync(adapterPath, encodeSafetensors([
    { key: diffusersKey(m.id, 'A'), dtype: 'F32', shape: [4, 64], data: m.a },
    { key: diffusersKey(m.id, 'B'), dtype: 'F32', shape: [64, 4], data: m.b },
  ]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { append(String(chunk)); cb(); } });
  const code = await execute(command, argv, sink((s) => { out += s; }) as unknown as typeof process.stdout, sink((s) => { err += s; }) as unknown as typeof process.stderr);
  return { code, out, err };
}

describe('lora-audit features', () => {
  it('--json prints file, sha256, backend, backendReason and per-module singular values, descending', async () => {
    const { code, out } = await run([adapterPath, '--backend', 'cpu', '--json']);
    expect(code).toBe(0);
    const [entry] = JSON.parse(out);
    expect(Object.keys(entry)).toEqual(['file', 'sha256', 'backend', 'backendReason', 'modules']);
    expect(entry.file).toBe(adapterPath);
    expect(entry.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.backend).toBe('cpu');
    expect(entry.backendReason).toMatch(/requested by name/);
    const [m] = entry.modules;
    expect(Object.keys(m)).toEqual(['id', 'rank', 'sigmaA', 'sigmaB', 'sigmaDW', 'normA', 'normB', 'normDW', 'effectiveRank']);
    expect(m.id).toBe('unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q');
    expect(m.sigmaA.map((v: number) => Math.round(v * 1e5) / 1e5)).toEqual([4, 3, 2, 1]);
    expect(m.sigmaDW).toHaveLength(4);
  });

  it('prints a table for a person, and reports a bad file beside the good ones with exit code 1', async () => {
    const missing = join(dir, 'nope.safetensors');
    const { code, out } = await run([adapterPath, missing, '--backend', 'reference']);
    expect(code).toBe(1);
    expect(out).toMatch(/backend reference/);
    expect(out).toMatch(/attn1\.to_q\s+4\s/);
    expect(out).toMatch(/nope\.safetensors: FILE_NOT_FOUND/);
  });

  it('refuses an unknown backend and no files with usage errors, and an unavailable backend with BACKEND_FAILED', async () => {
    expect((await run([adapterPath, '--backend', 'cuda'])).code).toBe(2);
    expect((await run(['--json'])).code).toBe(2);
    const { code, out } = await run([adapterPath, '--backend', 'webgl2', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(out).error).toMatchObject({ code: 'BACKEND_FAILED' });
  });
});
