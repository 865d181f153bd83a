// Structured mutations shared by the fuzz targets: fast-check arbitraries that describe damage
// (byte flips, truncations, insertions, overwritten length fields, duplicated regions) and a pure
// function that applies a description to a valid file. Descriptions, not raw bytes, are generated so
// fast-check can shrink a finding to the smallest damage that still triggers it.
import fc from 'fast-check';

export type ByteMutation =
  | { kind: 'flip'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'u64'; at: number; value: bigint }
  | { kind: 'duplicate'; at: number; length: number };

const frac = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
/** Values that break length and offset arithmetic. */
const nastyU32 = fc.oneof(fc.constantFrom(0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xffff, 0x10000), fc.nat());
const nastyU64 = fc.oneof(fc.constantFrom(0n, 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: frac, value: fc.integer({ min: 0, max: 255 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: frac }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: frac, bytes: fc.uint8Array({ minLength: 1, maxLength: 48 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('u32' as const), at: frac, value: nastyU32 }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('u64' as const), at: frac, value: nastyU64 }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: frac, length: fc.integer({ min: 1, max: 4096 }) }), weight: 1 },
);

export const byteMutations = fc.array(byteMutation, { minLength: 1, maxLength: 6 });

/** Applies mutations in order; `at` is a fraction of the current length, so a shrunk case stays meaningful. */
export function applyMutations(input: Uint8Array, muts: readonly ByteMutation[]): Buffer {
  let buf = Buffer.from(input);
  for (const m of muts) {
    const at = Math.floor(m.at * buf.length);
    switch (m.kind) {
      case 'flip': if (buf.length) buf[at] = m.value; break;
      case 'truncate': buf = buf.subarray(0, at); break;
      case 'insert': buf = Buffer.concat([buf.subarray(0, at), m.bytes, buf.subarray(at)]); break;
      case 'u32': if (at + 4 <= buf.length) buf.writeUInt32LE(m.value >>> 0, at); break;
      case 'u64': if (at + 8 <= buf.length) buf.writeBigUInt64LE(m.value, at); break;
      case 'duplicate': buf = Buffer.concat([buf.subarray(0, at + m.length), buf.subarray(at)]); break;
    }
  }
  return Buffer.from(buf);
}

/** Mutations aimed at the little-endian length/offset fields at known positions (e.g. a zip's directory). */
export const fieldMutation = (offsets: number[]): fc.Arbitrary<{ at: number; width: 2 | 4 | 8; value: bigint }> =>
  fc.record({
    at: fc.constantFrom(...offsets),
    width: fc.constantFrom<2 | 4 | 8>(2, 4, 8),
    value: nastyU64,
  });

export function applyField(buf: Buffer, f: { at: number; width: 2 | 4 | 8; value: bigint }): Buffer {
  const out = Buffer.from(buf);
  if (f.at + f.width > out.length) return out;
  if (f.width === 2) out.writeUInt16LE(Number(f.value & 0xffffn), f.at);
  else if (f.width === 4) out.writeUInt32LE(Number(f.value & 0xffffffffn), f.at);
  else out.writeBigUInt64LE(f.value & (2n ** 64n - 1n), f.at);
  return out;
}

/** JSON nested `depth` levels deep, built as text (JSON.stringify itself would recurse). */
export function deepJson(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}
