// Bad input gets a clear, typed error (or a finding) and nothing else. Every file is built here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAuditError, type ErrorCode } from '../../../main/errors.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { readSafetensorsHeader } from '../../../main/intake/safetensors.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'intake-bad-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function put(bytes: Uint8Array | string, name = `f${n++}.safetensors`): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** A safetensors file from a raw header (any JSON text) and data bytes, no validation. */
function raw(headerText: string, data: Uint8Array | number = 0): Buffer {
  const h = Buffer.from(headerText, 'utf8');
  const d = typeof data === 'number' ? Buffer.alloc(data) : Buffer.from(data);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, d]);
}

async function code(p: string): Promise<{ code: ErrorCode; message: string }> {
  try {
    const a = await openAdapter(p);
    await a.source.close();
  } catch (e) {
    if (isAuditError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error(`${p} was accepted`);
}

const A = { dtype: 'F32', shape: [2, 4], data_offsets: [0, 32] };
const B = { dtype: 'F32', shape: [4, 2], data_offsets: [32, 64] };
const KA = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight';
const KB = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight';

describe('refusals with typed errors', () => {
  it('truncated data: TRUNCATED with the missing byte count', async () => {
    const r = await code(put(raw(JSON.stringify({ [KA]: A, [KB]: B }), 50)));
    expect(r.code).toBe('TRUNCATED');
    expect(r.message).toContain('14 bytes are missing');
  });

  it('truncated header: TRUNCATED', async () => {
    const full = raw(JSON.stringify({ [KA]: A }), 32);
    const r = await code(put(full.subarray(0, 20)));
    expect(r.code).toBe('TRUNCATED');
    expect(r.message).toMatch(/bytes of header are missing/);
  });

  it('header length over the cap: HEADER_TOO_LARGE', async () => {
    const b = raw('{}');
    b.writeBigUInt64LE(200_000_000n);
    expect((await code(put(b))).code).toBe('HEADER_TOO_LARGE');
  });

  it('offsets past the end or reversed: BAD_OFFSETS', async () => {
    const gap = { [KA]: A, [KB]: { ...B, data_offsets: [1000, 1032] } };
    expect((await code(put(raw(JSON.stringify(gap), 64))))).toMatchObject({ code: 'BAD_OFFSETS' });
    const reversed = { [KA]: { ...A, data_offsets: [32, 0] } };
    expect((await code(put(raw(JSON.stringify(reversed), 32)))).code).toBe('BAD_OFFSETS');
  });

  it('overlapping tensors: OVERLAPPING_TENSORS', async () => {
    const h = { [KA]: A, [KB]: { ...B, data_offsets: [16, 48] } };
    expect((await code(put(raw(JSON.stringify(h), 64)))).code).toBe('OVERLAPPING_TENSORS');
  });

  it('duplicate keys that JSON.parse would silently merge: DUPLICATE_KEY', async () => {
    const text = `{"${KA}": ${JSON.stringify(A)}, "${KA}": ${JSON.stringify(B)}}`;
    const r = await code(put(raw(text, 64)));
    expect(r.code).toBe('DUPLICATE_KEY');
    expect(r.message).toContain(KA);
  });

  it('unknown dtype: UNKNOWN_DTYPE', async () => {
    expect((await code(put(raw(JSON.stringify({ [KA]: { ...A, dtype: 'F128' } }), 32)))).code).toBe('UNKNOWN_DTYPE');
  });

  it('byte span not matching the shape: SHAPE_MISMATCH', async () => {
    expect((await code(put(raw(JSON.stringify({ [KA]: { ...A, shape: [3, 4] } }), 32)))).code).toBe('SHAPE_MISMATCH');
  });

  it('more tensors or elements than the limits allow: LIMIT_EXCEEDED', async () => {
    const p = put(raw(JSON.stringify({ [KA]: A, [KB]: B }), 64));
    await expect(openAdapter(p, { limits: { maxHeaderBytes: 1e6, maxTensors: 1, maxNumel: 1e6 } })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(openAdapter(p, { limits: { maxHeaderBytes: 1e6, maxTensors: 10, maxNumel: 4 } })).rejects.toMatchObject({ code: 'LIMIT_EXCEEDED' });
    await expect(openAdapter(p, { limits: { maxHeaderBytes: 16, maxTensors: 10, maxNumel: 100 } })).rejects.toMatchObject({ code: 'HEADER_TOO_LARGE' });
  });

  it('invalid JSON header: BAD_HEADER', async () => {
    expect((await code(put(raw('{"a": [1, 2', 0)))).code).toBe('BAD_HEADER');
  });

  it('A and B of different rank: RANK_MISMATCH', async () => {
    const bytes = encodeSafetensors([
      { key: KA, dtype: 'F32', shape: [4, 8], data: new Float32Array(32) },
      { key: KB, dtype: 'F32', shape: [8, 2], data: new Float32Array(16) },
    ]);
    const r = await code(put(bytes));
    expect(r.code).toBe('RANK_MISMATCH');
    expect(r.message).toMatch(/rank 4.*has 2/);
  });

  it('a Git LFS pointer saved as .safetensors: LFS_POINTER', async () => {
    const ptr = 'version https://git-lfs.github.com/spec/v1\noid sha256:' + 'ab'.repeat(32) + '\nsize 3227336\n';
    const r = await code(put(ptr));
    expect(r.code).toBe('LFS_POINTER');
    expect(r.message).toContain('ab'.repeat(32));
  });

  it('an HTML page, a 2-byte placeholder and garbage: NOT_SAFETENSORS', async () => {
    expect((await code(put('<!DOCTYPE html><html><body>Not found</body></html>'))).code).toBe('NOT_SAFETENSORS');
    expect((await code(put('\r\n'))).code).toBe('NOT_SAFETENSORS');
    expect((await code(put(Buffer.from('0123456789abcdefghij'))))).toMatchObject({ code: 'NOT_SAFETENSORS' });
  });

  it('a GGUF file is named as such: UNSUPPORTED_FORMAT', async () => {
    const gguf = Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), Buffer.from([0x7b]), Buffer.alloc(31)]);
    expect(await code(put(gguf))).toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: expect.stringContaining('GGUF') });
  });

  it('an empty file, a folder and a missing file', async () => {
    expect((await code(put(''))).code).toBe('EMPTY_FILE');
    const sub = join(dir, 'folder');
    mkdirSync(sub);
    expect((await code(sub)).code).toBe('IS_DIRECTORY');
    expect((await code(join(dir, 'nope.safetensors'))).code).toBe('FILE_NOT_FOUND');
  });

  it('inspect reports the error with the file identity instead of throwing', async () => {
    const p = put('<html></html>');
    const r = await inspectFile(p);
    expect(r.error).toEqual({ code: 'NOT_SAFETENSORS', message: expect.stringContaining('HTML') });
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.size).toBe(13);
  });
});

describe('findings, not crashes', () => {
  it('NaN and Inf values become findings naming the tensor', async () => {
    const a = new Float32Array(8); a[3] = NaN;
    const b = new Float32Array(8); b[0] = Infinity; b[1] = -Infinity;
    const p = put(encodeSafetensors([
      { key: KA, dtype: 'F32', shape: [2, 4], data: a },
      { key: KB, dtype: 'F16', shape: [4, 2], data: b },
    ]));
    const r = await inspectFile(p);
    expect(r.error).toBeNull();
    expect(r.findings).toEqual(expect.arrayContaining([
      expect.objectContaining({ code: 'NAN_VALUES', tensor: KA, message: expect.stringContaining('1 of 8') }),
      expect.objectContaining({ code: 'INF_VALUES', tensor: KB, message: expect.stringContaining('2 of 8') }),
    ]));
  });

  it('integer and float8 tensors are reported, never coerced', async () => {
    const h = { [KA]: A, [KB]: B, 'some.quant': { dtype: 'F8_E4M3', shape: [4], data_offsets: [64, 68] }, 'some.ids': { dtype: 'I8', shape: [4], data_offsets: [68, 72] } };
    const p = put(raw(JSON.stringify(h), 72));
    const header = await readSafetensorsHeader(p);
    expect(header.findings.filter((f) => f.code === 'NON_FLOAT_TENSOR').map((f) => f.tensor).sort()).toEqual(['some.ids', 'some.quant']);
    const a = await openAdapter(p);
    const f8 = header.tensors.find((t) => t.key === 'some.quant')!;
    await expect(a.source.read(f8)).rejects.toMatchObject({ code: 'UNSUPPORTED_FORMAT' });
    await a.source.close();
  });

  it('trailing bytes and an unknown naming are findings', async () => {
    const p = put(raw(JSON.stringify({ 'model.weight': { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }), 12));
    const r = await inspectFile(p);
    expect(r.error).toBeNull();
    expect(r.family).toBe('unknown');
    expect(r.findings.map((f) => f.code)).toEqual(expect.arrayContaining(['TRAILING_BYTES', 'UNKNOWN_FAMILY']));
  });
});
