// Writes a safetensors file: the generator's standalone adapters and the tests' fixtures. Offsets
// are laid out contiguously in the order given; the header is padded with spaces to 8 bytes, as the
// reference implementation does.
import type { DType } from './model.ts';

export interface TensorToWrite {
  key: string;
  dtype: 'F64' | 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** Values in row-major order; converted to dtype on write. */
  data: ArrayLike<number>;
}

const ITEM_SIZE: Record<TensorToWrite['dtype'], number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`${t.key}: shape ${JSON.stringify(t.shape)} holds ${numel} values, got ${t.data.length}`);
    const bytes = numel * ITEM_SIZE[t.dtype];
    header[t.key] = { dtype: t.dtype satisfies DType, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of tensors) {
    const n = t.data.length;
    if (t.dtype === 'F64') for (let i = 0; i < n; i++, pos += 8) out.writeDoubleLE(t.data[i], pos);
    else if (t.dtype === 'F32') for (let i = 0; i < n; i++, pos += 4) out.writeFloatLE(t.data[i], pos);
    else if (t.dtype === 'F16') for (let i = 0; i < n; i++, pos += 2) out.writeUInt16LE(float32ToF16Bits(t.data[i]), pos);
    else for (let i = 0; i < n; i++, pos += 2) out.writeUInt16LE(float32ToBf16Bits(t.data[i]), pos);
  }
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even truncation of a float32 to its top 16 bits. */
export function float32ToBf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return 0x7fc0; // NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** IEEE half precision with round-to-nearest-even, subnormals and overflow to Inf. */
export function float32ToF16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}
