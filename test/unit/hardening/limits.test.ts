// The resource limits of docs/RELIABILITY.md, each exercised at its boundary: a file past the limit is
// refused with a typed error that names the limit and the file; a file within it is read.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditError } from '../../../main/errors.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { DEFAULT_LIMITS, parseSafetensorsHeader, readSafetensorsHeader } from '../../../main/intake/safetensors.ts';
import { encodeSafetensors } from '../../../main/intake/safetensors-writer.ts';
import { ParquetShard, SHARD_LIMITS } from '../../../main/reference/parquet-shard.ts';
import { writeLoraWiseParquet } from '../../../main/reference/lorawise-writer.ts';
import { randomAdapter, sd1Modules } from '../reference/fixture.ts';
import { storedZip } from '../../fuzz/intake-targets.ts';

const dir = mkdtempSync(join(tmpdir(), 'lora-audit-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A safetensors file around a header text (padding as the reference writer does). */
function withHeader(json: string, dataBytes = 0): Buffer {
  const body = Buffer.from(json + ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8));
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([head, body, Buffer.alloc(dataBytes)]);
}
const put = (name: string, bytes: Buffer) => { const p = join(dir, name); writeFileSync(p, bytes); return p; };
const refusal = async (p: Promise<unknown>) => p.then(() => { throw new Error('accepted'); }, (e: unknown) => e as AuditError);

describe('safetensors limits', () => {
  it('the defaults are the documented ones', () => {
    expect(DEFAULT_LIMITS).toEqual({ maxHeaderBytes: 100_000_000, maxTensors: 1_000_000, maxNumel: 2 ** 40, maxJsonDepth: 64 });
  });

  it('header size: a declared header over 100 MB is refused before anything is allocated', async () => {
    const bytes = Buffer.alloc(16);
    bytes.writeBigUInt64LE(100_000_001n);
    bytes.write('{"a":', 8);
    const file = put('big-header.safetensors', bytes);
    const e = await refusal(readSafetensorsHeader(file));
    expect(e).toMatchObject({ code: 'HEADER_TOO_LARGE', file });
    expect(e.message).toContain('100000000-byte cap');
    // 2^64 - 1, the largest length the field can hold: same answer, no overflow
    bytes.writeBigUInt64LE(2n ** 64n - 1n);
    expect(await refusal(readSafetensorsHeader(put('max-header.safetensors', bytes)))).toMatchObject({ code: 'HEADER_TOO_LARGE' });
  });

  it('tensor count: more tensors than the limit is LIMIT_EXCEEDED naming it; at the limit it reads', () => {
    const header = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }])));
    const limits = { ...DEFAULT_LIMITS, maxTensors: 10 };
    const e = (() => { try { parseSafetensorsHeader(Buffer.from(header(11)), 1000, 'x.safetensors', limits); } catch (err) { return err as AuditError; } return null; })();
    expect(e).toMatchObject({ code: 'LIMIT_EXCEEDED', file: 'x.safetensors' });
    expect(e!.message).toContain('10-tensor limit');
    expect(parseSafetensorsHeader(Buffer.from(header(10)), 1000, 'x.safetensors', limits).tensors).toHaveLength(10);
  });

  it('shape product: a tensor over 2^40 elements is refused by the default limit, without multiplying past it', async () => {
    const file = put('huge-shape.safetensors', withHeader(JSON.stringify({ w: { dtype: 'F32', shape: [2 ** 20, 2 ** 20, 2, 2 ** 30], data_offsets: [0, 16] } })));
    const e = await refusal(openAdapter(file));
    expect(e).toMatchObject({ code: 'LIMIT_EXCEEDED', file });
    expect(e.message).toContain(`${2 ** 40}-element limit`);
  });

  it('total declared bytes vs file size: a header that declares more data than the file holds says how much is missing', async () => {
    const file = put('short.safetensors', withHeader(JSON.stringify({ a: { dtype: 'F32', shape: [4, 4], data_offsets: [0, 64] }, b: { dtype: 'F32', shape: [1 << 20], data_offsets: [64, 64 + (4 << 20)] } }), 64));
    const e = await refusal(openAdapter(file));
    expect(e).toMatchObject({ code: 'TRUNCATED', file, details: { missingBytes: 4 << 20, completeTensors: 1 } });
    // offsets past the end that are not a cut-short layout: BAD_OFFSETS
    const gap = put('gap.safetensors', withHeader(JSON.stringify({ a: { dtype: 'F32', shape: [1], data_offsets: [2 ** 50, 2 ** 50 + 4] } }), 8));
    expect(await refusal(openAdapter(gap))).toMatchObject({ code: 'BAD_OFFSETS', file: gap });
  });

  it('JSON nesting depth: deeper than 64 levels is LIMIT_EXCEEDED (it used to overflow the stack)', async () => {
    for (const deep of ['['.repeat(5000) + ']'.repeat(5000), '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000)]) {
      const file = put('deep.safetensors', withHeader(`{"__metadata__":{"k":${deep}},"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4));
      const e = await refusal(openAdapter(file));
      expect(e).toMatchObject({ code: 'LIMIT_EXCEEDED', file, details: { limit: 'maxJsonDepth', value: 64 } });
    }
    // a real header's depth is far inside the limit
    const ok = put('ok.safetensors', encodeSafetensors([{ key: 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight', dtype: 'F32', shape: [1, 2], data: [1, 2] }], { note: 'x' }));
    expect((await readSafetensorsHeader(ok)).tensors).toHaveLength(1);
  });

  it('metadata string length: bounded by the header cap; an 8 MB string inside it is kept verbatim', async () => {
    const long = 'y'.repeat(8 << 20);
    const file = put('long-meta.safetensors', encodeSafetensors([{ key: 'w', dtype: 'F32', shape: [1], data: [1] }], { ss_training_comment: long }));
    expect((await readSafetensorsHeader(file)).metadata.ss_training_comment).toBe(long);
  });
});

describe('torch zip limits', () => {
  it('data.pkl over 64 MiB is refused by its declared size, not read', async () => {
    const { bytes, fields } = storedZip([{ name: 'archive/data.pkl', data: Buffer.from([0x80, 2, 0x7d, 0x2e]) }]);
    // central directory entry 0: uncompressed size at +24 (fields[4] is cd+10; the entry's fields start at fields[4])
    const cdSizeField = fields[4] - 10 + 24;
    bytes.writeUInt32LE(64 * 1024 * 1024 + 1, cdSizeField);
    const file = put('big-pickle.pt', bytes);
    const e = await refusal(openAdapter(file));
    expect(e).toMatchObject({ code: 'LIMIT_EXCEEDED', file });
    expect(e.message).toContain('67108864-byte limit');
  });
});

describe('parquet shard limits', () => {
  it('rows and columns past the limits are refused from the footer, naming the limit and the shard', async () => {
    const file = join(dir, 'shard.parquet');
    await writeLoraWiseParquet(file, [1, 2, 3].map((s) => ({ name: `a${s}`, label: s, modules: randomAdapter(sd1Modules(32), 2, s) })));
    const saved = { ...SHARD_LIMITS };
    const shard = await ParquetShard.open(file, 1);
    try {
      expect((await shard.layout()).rows).toBe(3);
      SHARD_LIMITS.maxRows = 2;
      expect(await refusal(shard.layout())).toMatchObject({ code: 'LIMIT_EXCEEDED', file, details: { limit: 'maxRows' } });
      SHARD_LIMITS.maxRows = saved.maxRows;
      SHARD_LIMITS.maxColumns = 257;  // the shard has 258: name, label, 2 × 128 modules
      const e = await refusal(shard.layout());
      expect(e).toMatchObject({ code: 'LIMIT_EXCEEDED', file, details: { limit: 'maxColumns' } });
      expect(e.message).toContain('258 columns');
    } finally {
      Object.assign(SHARD_LIMITS, saved);
      shard.close();
    }
  });
});
