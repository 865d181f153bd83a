// The restricted pickle walker's work is bounded by its input: small hostile pickles that used to cost
// minutes of CPU (a 400 KB LONG4 integer, a dict shared under two keys at every level) or overflow the
// call stack (APPENDS of 300,000 items, a deeply nested list used as a dict key) are answered with a
// typed error, or read, within a CPU-time bound.
import { describe, expect, it } from 'vitest';
import { toApiError } from '../../../main/errors.ts';
import { MAX_STATE_DICT_ENTRIES, stateDictTensors, walkPickle } from '../../../main/intake/pickle.ts';

const op = (...codes: number[]) => Buffer.from(codes);
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const PROTO2 = op(0x80, 2);
const STOP = op(0x2e);

/** Walks and lists tensors like openTorchFile; returns the error as the API shows it, or the tensor count. */
function read(bytes: Buffer): { error?: ReturnType<typeof toApiError>; tensors?: number; cpuMs: number } {
  const before = process.cpuUsage();
  const cpuMs = () => { const u = process.cpuUsage(before); return (u.user + u.system) / 1000; };
  try {
    const tensors = stateDictTensors(walkPickle(bytes, 'evil.pkl'), 'evil.pkl').length;
    return { tensors, cpuMs: cpuMs() };
  } catch (err) {
    return { error: toApiError(err), cpuMs: cpuMs() };
  }
}

// CPU-time bounds are generous (each case takes well under 1 s here); without the fixes they took minutes.
const CPU_BOUND_MS = 5_000;

describe('LONG1 / LONG4 integers', () => {
  it('a 400 KB LONG4 integer is refused as LIMIT_EXCEEDED naming the opcode and its length, within a CPU bound', () => {
    const n = 400_000;
    const r = read(Buffer.concat([PROTO2, op(0x8b), u32(n), Buffer.alloc(n, 0x41), STOP]));
    expect(r.error).toMatchObject({ code: 'LIMIT_EXCEEDED', file: 'evil.pkl', details: { opcode: 'LONG4', length: n, limit: 'maxLongBytes' } });
    expect(r.error!.message).toMatch(/400000-byte integer \(LONG4\).*at most 8 bytes/);
    expect(r.cpuMs).toBeLessThan(CPU_BOUND_MS);
  });

  it('a 9-byte LONG1 is refused; 8-byte and shorter ones decode as signed little-endian', () => {
    expect(read(Buffer.concat([PROTO2, op(0x8a, 9), Buffer.alloc(9, 1), STOP])).error)
      .toMatchObject({ code: 'LIMIT_EXCEEDED', details: { opcode: 'LONG1', length: 9 } });
    const long1 = (bytes: number[]) => walkPickle(Buffer.concat([PROTO2, op(0x8a, bytes.length, ...bytes), STOP]), 'ok.pkl');
    expect(long1([0x00, 0x00, 0x00, 0x00, 0x00, 0x01])).toBe(2 ** 40);
    expect(long1([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).toBe(-2);
    expect(long1([])).toBe(0);
  });
});

describe('large and deep structures', () => {
  it('MARK + 300,000 items + APPENDS builds the list instead of overflowing the stack (no INTERNAL)', () => {
    const items = 300_000;
    const bytes = Buffer.concat([PROTO2, op(0x5d, 0x28), Buffer.alloc(items, 0x4e), op(0x65), STOP]);   // [] ( None… APPENDS
    const list = walkPickle(bytes, 'evil.pkl');
    expect(Array.isArray(list) && list.length).toBe(items);
    expect(read(bytes).error).toMatchObject({ code: 'UNSUPPORTED_FORMAT', message: 'the checkpoint is not a dict of tensors' });
  });

  it('a dict shared under two keys at every level is refused as LIMIT_EXCEEDED once the walk passes its entry limit', () => {
    // D0 = {}; Dk = {'a': D(k-1), 'b': D(k-1)} through the memo (MEMOIZE, LONG_BINGET): 22 levels, 400 bytes,
    // 2^23 entries to walk (40 levels would be 2^41: the walk never ended). 22 keeps the unfixed walk finite.
    const parts = [PROTO2, op(0x7d, 0x94)];
    for (let k = 1; k <= 22; k++) {
      parts.push(op(0x7d, 0x28, 0x8c, 1, 0x61, 0x6a), u32(k - 1), op(0x8c, 1, 0x62, 0x6a), u32(k - 1), op(0x75, 0x94));
    }
    const r = read(Buffer.concat([...parts, STOP]));
    expect(r.error).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { limit: 'maxStateDictEntries', value: MAX_STATE_DICT_ENTRIES } });
    expect(r.error!.message).toMatch(/more than 1000000 entries/);
    expect(r.cpuMs).toBeLessThan(CPU_BOUND_MS);
  });

  it('a dict key that is a list nested 200,000 deep is named, not stringified until the stack overflows', () => {
    const depth = 200_000;
    // {} then 200,000 EMPTY_LISTs folded into each other by APPEND, then NONE and SETITEM.
    const bytes = Buffer.concat([PROTO2, op(0x7d), Buffer.alloc(depth, 0x5d), Buffer.alloc(depth - 1, 0x61), op(0x4e, 0x73), STOP]);
    expect(read(bytes)).toMatchObject({ tensors: 0 });
  });
});
