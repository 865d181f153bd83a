// Base-model identification: the shipped table (every entry sourced) names the checkpoint a kohya
// file's hashes point at; the examiner's base-models.json in the data folder extends it, validated
// whole and refused whole; hashes that disagree, or a checkpoint of another architecture than the
// adapter's layers, are said.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAuditError } from '../../../main/errors.ts';
import {
  identifyBaseModel, loadBaseModelTable, parseBaseModelTable, readBaseModelIdentity, shippedBaseModels, useBaseModelFolder,
} from '../../../main/intake/base-models.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { kohyaKey } from '../../../main/intake/naming.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { cliJson } from '../cases/helpers.ts';

const SD15_EMA = 'cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516';
const ANIME = { sha256: '7548b773903c5a5effd63afa2a066e472d5c94aed77a107f16dae20f609e240b', legacy: '5386e8fb' };

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'base-models-')); });
afterEach(() => { useBaseModelFolder(null); rmSync(dir, { recursive: true, force: true }); });

function refusal(value: unknown): string {
  try {
    parseBaseModelTable(value, 't.json');
  } catch (e) {
    expect(isAuditError(e, 'BAD_CONFIG')).toBe(true);
    return (e as Error).message;
  }
  throw new Error('accepted');
}

describe('the shipped table', () => {
  it('validates, names a source for every entry, and holds the fixtures\' base model', () => {
    const entries = shippedBaseModels();
    expect(entries.length).toBeGreaterThanOrEqual(16);
    for (const e of entries) expect(e.source.length).toBeGreaterThan(20);
    expect(entries.find((e) => e.sha256 === ANIME.sha256)).toMatchObject({ name: 'animefull-final-pruned.safetensors', legacyHash: ANIME.legacy, architecture: 'sd1' });
    expect(entries.find((e) => e.sha256 === SD15_EMA)?.name).toBe('Stable Diffusion 1.5 EMA only (v1-5-pruned-emaonly.ckpt)');
  });
});

describe('a table is checked whole', () => {
  it.each([
    [null, 'a base-model table is a JSON object with an "entries" list'],
    [{ entries: [{ name: 'x', source: 's', sha265: SD15_EMA }] }, 'entry 1 of the base-model table has an unknown field "sha265"'],
    [{ entries: [{ name: 'x', source: 's', sha256: 'abc' }] }, 'entry 1 (x): "sha256" is 64 hex digits'],
    [{ entries: [{ name: 'x', source: 's', legacyHash: 'xyz12345' }] }, 'entry 1 (x): "legacyHash" is 8 hex digits'],
    [{ entries: [{ name: 'x', source: 's' }] }, 'entry 1 (x) names no hash'],
    [{ entries: [{ name: 'x', sha256: SD15_EMA }] }, 'entry 1 (x): "source" is a non-empty string'],
    [{ entries: [{ name: 'a\u001b[2Jb', source: 's', sha256: SD15_EMA }] }, 'entry 1: "name" holds control or direction-changing characters'],
    [{ entries: [{ name: 'x', source: 's', sha256: SD15_EMA, architecture: 'sd9' }] }, 'entry 1 (x): "architecture" is one of'],
    [{ entries: [{ name: 'x', source: 's', sha256: SD15_EMA }, { name: 'y', source: 's', sha256: SD15_EMA.toUpperCase() }] }, 'entry 2 (y) has the same hash'],
    [{ entries: Array.from({ length: 10_001 }, () => ({})) }, 'lists 10001 entries, more than the 10000 allowed'],
  ])('%#: refused with the reason', (value, reason) => {
    expect(refusal(value)).toContain(reason);
  });
});

describe('the examiner\'s table in the data folder', () => {
  const MINE = 'ab'.repeat(32);

  it('extends the shipped one', async () => {
    writeFileSync(join(dir, 'base-models.json'), JSON.stringify({ entries: [{ name: 'My checkpoint', sha256: MINE.toUpperCase(), architecture: 'sdxl', source: 'hashed by me, case 17' }] }));
    const t = await loadBaseModelTable(dir);
    expect(t).toMatchObject({ userFile: join(dir, 'base-models.json'), problem: null });
    expect(identifyBaseModel({ sha256: MINE }, t.entries, 'sdxl')).toMatchObject({ status: 'matched', name: 'My checkpoint', source: 'hashed by me, case 17', shapeAgrees: true });
    expect(identifyBaseModel({ sha256: SD15_EMA }, t.entries, 'sd1').status).toBe('matched');
  });

  it('is refused whole when bad, or when it renames a shipped hash; the shipped table still answers', async () => {
    writeFileSync(join(dir, 'base-models.json'), '{"entries": [');
    expect((await loadBaseModelTable(dir)).problem).toMatch(/^is not valid JSON/);
    writeFileSync(join(dir, 'base-models.json'), JSON.stringify({ entries: [{ name: 'Not SD', sha256: SD15_EMA, source: 'me' }, { name: 'ok', sha256: MINE, source: 'me' }] }));
    const t = await loadBaseModelTable(dir);
    expect(t.problem).toContain('has the same hash cc6cb271');
    expect(t.entries.some((e) => e.sha256 === MINE)).toBe(false);
    expect(identifyBaseModel({ sha256: SD15_EMA }, t.entries, null).name).toBe('Stable Diffusion 1.5 EMA only (v1-5-pruned-emaonly.ckpt)');
    writeFileSync(join(dir, 'base-models.json'), Buffer.alloc(4 * 2 ** 20 + 1, 32));
    expect((await loadBaseModelTable(dir)).problem).toBe('is 4194305 bytes, more than the 4194304-byte limit for a base-model table');
  });

  it('a refused table is a finding of the inspection, and the evidence still inspects', async () => {
    const file = join(dir, 'a.safetensors');
    const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    writeFileSync(file, encodeSafetensors([
      { key: kohyaKey(id, 'A'), dtype: 'F32', shape: [2, 768], data: new Float32Array(1536).fill(0.01) },
      { key: kohyaKey(id, 'B'), dtype: 'F32', shape: [320, 2], data: new Float32Array(640).fill(0.01) },
    ], { ss_network_module: 'networks.lora', ss_new_sd_model_hash: MINE, ss_sd_model_hash: 'None' }));
    writeFileSync(join(dir, 'base-models.json'), JSON.stringify({ entries: [{ name: 'mine', sha256: MINE, architecture: 'sdxl', source: 'me' }] }));
    useBaseModelFolder(dir);
    const matched = await inspectFile(file);
    // the adapter's layers (cross-attention input 768) fit SD 1.x, not the SDXL the table names
    expect(matched.baseModelIdentity).toMatchObject({ status: 'matched', name: 'mine', shapeAgrees: false });
    expect(matched.findings.find((f) => f.code === 'BASE_MODEL_SHAPE_MISMATCH')?.message).toBe('base model: mine (hash matches: SHA-256); but the adapter\'s layers fit sd1, not sdxl');
    writeFileSync(join(dir, 'base-models.json'), '[]');
    const refused = await inspectFile(file);
    expect(refused.error).toBeNull();
    expect(refused.baseModelIdentity.status).toBe('unknown');
    expect(refused.findings.find((f) => f.code === 'BASE_MODEL_TABLE_REFUSED')?.message)
      .toBe(`the base-model table ${join(dir, 'base-models.json')} was not used: a base-model table is a JSON object with an "entries" list; base models are named from the shipped table only`);
  });
});

describe('lora-audit inspect', () => {
  it('names the base model from the examiner\'s table in the data folder', async () => {
    const file = join(dir, 'b.safetensors');
    const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    writeFileSync(file, encodeSafetensors([
      { key: kohyaKey(id, 'A'), dtype: 'F32', shape: [2, 768], data: new Float32Array(1536).fill(0.01) },
      { key: kohyaKey(id, 'B'), dtype: 'F32', shape: [320, 2], data: new Float32Array(640).fill(0.01) },
    ], { ss_network_module: 'networks.lora', ss_sd_model_hash: 'c0ffee00' }));
    const before = await cliJson<{ baseModelIdentity: { status: string } }[]>(['inspect', file], { LORA_AUDIT_HOME: dir });
    expect(before.data[0].baseModelIdentity.status).toBe('unknown');
    writeFileSync(join(dir, 'base-models.json'), JSON.stringify({ entries: [{ name: 'Case 17 checkpoint', legacyHash: 'C0FFEE00', source: 'seized drive, hashed by me' }] }));
    const after = await cliJson<{ baseModelIdentity: { status: string; summary: string } }[]>(['inspect', file], { LORA_AUDIT_HOME: dir });
    expect(after.data[0].baseModelIdentity).toMatchObject({ status: 'matched', summary: 'base model: Case 17 checkpoint (hash matches: legacy hash)' });
  }, 60_000);
});

describe('identification', () => {
  const table = shippedBaseModels();

  it('matches either hash, says unknown for hashes in no entry, none when nothing is stated', () => {
    expect(identifyBaseModel({ legacyHash: ' 5386E8FB ' }, table, 'sd1')).toMatchObject({ status: 'matched', matchedBy: ['legacy'], name: 'animefull-final-pruned.safetensors' });
    expect(identifyBaseModel({ sha256: '0'.repeat(64), legacyHash: '00000000' }, table, 'sd1')).toMatchObject({ status: 'unknown', summary: 'unknown hash: the base model\'s hash is in no table entry' });
    expect(identifyBaseModel({ name: 'gpt2' }, table, 'transformer')).toMatchObject({ status: 'none', stated: { name: 'gpt2' }, summary: 'no base model hash stated; the file names the base model only' });
    expect(identifyBaseModel({ sha256: 'not a hash' }, table, null).summary).toBe('base model hash not in a known form (neither a SHA-256 nor an 8-digit legacy hash)');
  });

  it('hashes that name different checkpoints, or contradict the one matched, are a conflict', () => {
    expect(identifyBaseModel({ sha256: SD15_EMA, legacyHash: ANIME.legacy }, table, 'sd1')).toMatchObject({
      status: 'conflict', summary: 'base model hashes disagree: SHA-256 names "Stable Diffusion 1.5 EMA only (v1-5-pruned-emaonly.ckpt)", the legacy hash "animefull-final-pruned.safetensors"' });
    expect(identifyBaseModel({ sha256: '1'.repeat(64), legacyHash: ANIME.legacy }, table, 'sd1')).toMatchObject({
      status: 'conflict', summary: 'base model hashes disagree: the legacy hash matches "animefull-final-pruned.safetensors" but the SHA-256 does not' });
  });

  it('a stored identity from an imported archive is checked and escaped again', () => {
    expect(readBaseModelIdentity({ status: 'matched', name: 'x\u001b[2J', matchedBy: ['sha256', 'evil', 'sha256'], stated: 3, shapeAgrees: 'yes', summary: 7 }))
      .toEqual({ status: 'matched', name: 'x\\u{1B}[2J', matchedBy: ['sha256'], source: null, stated: { sha256: null, legacyHash: null, name: null },
        shapeAgrees: null, summary: 'no base model hash stated' });
    expect(readBaseModelIdentity({ status: 'owned' }).status).toBe('none');
  });
});
