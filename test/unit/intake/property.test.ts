// Property: any tensors of random shapes and float dtypes, written by a little encoder that shares no
// code with the reader, decode to exactly the values encoded.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSafetensorsHeader, SafetensorsSource } from '../../../main/intake/safetensors.ts';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'intake-prop-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type D = 'F64' | 'F32' | 'F16' | 'BF16';
const SIZE: Record<D, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** Half precision by the IEEE definition, written out independently of the reader's table. */
function halfValue(bits: number): number {
  const s = bits >> 15 ? -1 : 1;
  const e = (bits >> 10) & 31;
  const m = bits & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * Math.pow(2, -14) * (m / 1024) : s * Math.pow(2, e - 15) * (1 + m / 1024);
}

interface T { key: string; dtype: D; shape: number[]; bits: number[]; expected: number[] }

const tensorArb = (key: string) => fc.record({
  dtype: fc.constantFrom<D>('F64', 'F32', 'F16', 'BF16'),
  shape: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 0, maxLength: 3 }),
}).chain(({ dtype, shape }) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const el = dtype === 'F64' ? fc.double() : dtype === 'F32' ? fc.float() : fc.integer({ min: 0, max: 0xffff });
  return fc.array(el as fc.Arbitrary<number>, { minLength: n, maxLength: n }).map((vals): T => {
    const scratch = new DataView(new ArrayBuffer(4));
    const expected = vals.map((v) => {
      if (dtype === 'F16') return halfValue(v);
      if (dtype === 'BF16') { scratch.setUint32(0, v << 16 >>> 0); return scratch.getFloat32(0); }
      return v;
    });
    return { key, dtype, shape, bits: vals, expected };
  });
});

const fileArb = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__metadata__'), { minLength: 1, maxLength: 6 })
  .chain((keys) => fc.tuple(fc.tuple(...keys.map(tensorArb)), fc.integer({ min: 0, max: 7 }), fc.boolean()));

/** The encoder under our control: data in reverse key order, header padded with spaces, metadata optional. */
function encode(tensors: T[], pad: number, withMeta: boolean): Buffer {
  const header: Record<string, unknown> = {};
  if (withMeta) header.__metadata__ = { note: 'property test' };
  const order = [...tensors].reverse();
  const chunks: Buffer[] = [];
  let offset = 0;
  const spans = new Map<string, [number, number]>();
  for (const t of order) {
    const b = Buffer.alloc(t.bits.length * SIZE[t.dtype]);
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    t.bits.forEach((v, i) => {
      if (t.dtype === 'F64') dv.setFloat64(i * 8, v, true);
      else if (t.dtype === 'F32') dv.setFloat32(i * 4, v, true);
      else dv.setUint16(i * 2, v, true);
    });
    spans.set(t.key, [offset, offset + b.length]);
    offset += b.length;
    chunks.push(b);
  }
  for (const t of tensors) header[t.key] = { dtype: t.dtype, shape: t.shape, data_offsets: spans.get(t.key) };
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...chunks]);
}

describe('safetensors decoding (property)', () => {
  it('random shapes and dtypes round-trip exactly through an independent encoder', async () => {
    let run = 0;
    await fc.assert(fc.asyncProperty(fileArb, async ([tensors, pad, withMeta]) => {
      const p = join(dir, `p${run++}.safetensors`);
      writeFileSync(p, encode(tensors, pad, withMeta));
      const h = await readSafetensorsHeader(p);
      expect(h.findings).toEqual([]);
      expect(h.metadata).toEqual(withMeta ? { note: 'property test' } : {});
      const src = new SafetensorsSource(p);
      try {
        for (const t of tensors) {
          const ref = h.tensors.find((r) => r.key === t.key)!;
          expect(ref).toMatchObject({ dtype: t.dtype, shape: t.shape });
          const got = await src.read(ref);
          expect(got).toBeInstanceOf(t.dtype === 'F64' ? Float64Array : Float32Array);
          expect(Array.from(got)).toEqual(t.expected);
        }
      } finally {
        await src.close();
      }
    }), { numRuns: 80 });
  });
});

describe('damaged files (property)', () => {
  it('any truncation or byte damage of a valid adapter opens or is refused with an AuditError, never a crash', async () => {
    const { encodeSafetensors } = await import('../../../main/intake/safetensors-writer.ts');
    const { kohyaKey } = await import('../../../main/intake/naming.ts');
    const { openAdapter } = await import('../../../main/intake/open.ts');
    const { AuditError } = await import('../../../main/errors.ts');
    const id = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k';
    const good = encodeSafetensors([
      { key: kohyaKey(id, 'A'), dtype: 'F16', shape: [2, 768], data: new Float32Array(1536).fill(0.1) },
      { key: kohyaKey(id, 'B'), dtype: 'F32', shape: [320, 2], data: new Float32Array(640).fill(0.2) },
      { key: kohyaKey(id, 'alpha'), dtype: 'BF16', shape: [], data: [1] },
    ], { ss_network_dim: '2', ss_dataset_dirs: '{"a": {"n_repeats": 2, "img_count": 3}}' });
    const headerEnd = 8 + Number(good.readBigUInt64LE(0));
    const damage = fc.oneof(
      fc.record({ cut: fc.integer({ min: 0, max: good.length - 1 }) }),
      fc.record({ edits: fc.array(fc.tuple(fc.integer({ min: 0, max: headerEnd + 16 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }) }),
    );
    let run = 0;
    await fc.assert(fc.asyncProperty(damage, async (d) => {
      const bytes = Buffer.from(good);
      const mutated = 'cut' in d ? bytes.subarray(0, d.cut) : (d.edits.forEach(([i, v]) => { bytes[i] = v; }), bytes);
      const p = join(dir, `d${run++}.safetensors`);
      writeFileSync(p, mutated);
      try {
        const a = await openAdapter(p, { scanValues: true });
        await a.source.close();
      } catch (e) {
        if (!(e instanceof AuditError) || e.code === 'INTERNAL') throw e;
      }
    }), { numRuns: 150 });
  });
});
