// The element types adapters are stored in, and their decoding to float arrays. Little-endian, as
// safetensors and torch storages are (and as every host this tool runs on is).
import type { DType } from './model.ts';

export const ITEM_SIZE: Record<DType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1,
};

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(['F64', 'F32', 'F16', 'BF16']);

export function isDType(s: unknown): s is DType {
  return typeof s === 'string' && Object.hasOwn(ITEM_SIZE, s);
}

let f16Table: Float32Array | null = null;

/** All 65,536 half-precision values, built once: a table lookup is the fastest portable decode. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) t[h] = sign * mant * 2 ** -24;
    else if (exp === 0x1f) t[h] = mant ? NaN : sign * Infinity;
    else t[h] = sign * (1 + mant / 1024) * 2 ** (exp - 15);
  }
  return (f16Table = t);
}

/**
 * Raw little-endian bytes → values. F64 stays float64; F32, F16 and BF16 become float32 (exact for the
 * two 16-bit types). Integer and float8 tensors are not decoded: callers report them instead.
 */
export function decodeFloats(bytes: Uint8Array, dtype: DType, owned = false): Float32Array | Float64Array {
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : new Uint8Array(bytes);
  // `owned`: the caller hands over a buffer nobody else holds, so F64/F32 can be viewed in place, not copied.
  if (dtype === 'F64') {
    const v = new Float64Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 8);
    return owned && aligned === bytes ? v : v.slice();
  }
  if (dtype === 'F32') {
    const v = new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4);
    return owned && aligned === bytes ? v : v.slice();
  }
  const n = aligned.byteLength / 2;
  const u16 = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
  if (dtype === 'F16') {
    const table = halfTable();
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = table[u16[i]];
    return out;
  }
  if (dtype === 'BF16') {
    // bfloat16 is the top half of a float32: shift the bits back into place.
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = u16[i] << 16;
    return new Float32Array(out.buffer);
  }
  throw new Error(`decodeFloats: ${dtype} is not a float type`);
}
