// PyTorch pickles are never unpickled: a pickle that would call os.system is reported and never run
// (a canary file proves it), and an honest torch.save zip is read by the restricted walker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { AuditError } from '../../../main/errors.ts';
import { isAuditError } from '../../../main/errors.ts';
import { loadModuleWeights, openAdapter } from '../../../main/intake/open.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { walkPickle } from '../../../main/intake/pickle.ts';

let dir: string;
let canary: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'intake-pickle-'));
  canary = join(dir, 'CANARY-must-not-exist');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Pickle opcodes, byte by byte.
const latin = (s: string) => Buffer.from(s, 'latin1');
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const i32 = (n: number) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
const P = {
  proto: (v: number) => Buffer.from([0x80, v]),
  global: (m: string, n: string) => latin(`c${m}\n${n}\n`),
  str: (s: string) => Buffer.concat([latin('X'), u32(Buffer.byteLength(s)), Buffer.from(s)]),
  short: (s: string) => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(s)]), Buffer.from(s)]),
  int: (n: number) => Buffer.concat([latin('J'), i32(n)]),
  mark: latin('('), tuple: latin('t'), tuple1: Buffer.from([0x85]), emptyTuple: latin(')'), emptyDict: latin('}'),
  setitems: latin('u'), reduce: latin('R'), binpersid: latin('Q'), newfalse: Buffer.from([0x89]), stop: latin('.'),
  stackGlobal: Buffer.from([0x93]), memoize: Buffer.from([0x94]),
};
const pk = (...parts: Buffer[]) => Buffer.concat(parts);

/** A stored (uncompressed) zip, the way torch.save writes its archive. */
function zip(entries: { name: string; data: Buffer }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(20, 4); lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(e.data.length, 18); lh.writeUInt32LE(e.data.length, 22); lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(20, 4); ch.writeUInt16LE(20, 6); ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(e.data.length, 20); ch.writeUInt32LE(e.data.length, 24); ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, e.data);
    centrals.push(ch, name);
    offset += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

function torchZip(pickle: Buffer, storages: Record<string, Buffer> = {}): Buffer {
  return zip([
    { name: 'archive/data.pkl', data: pickle },
    ...Object.entries(storages).map(([k, data]) => ({ name: `archive/data/${k}`, data })),
    { name: 'archive/version', data: Buffer.from('3\n') },
  ]);
}

const evilCommand = () => `touch ${canary}`;

describe('malicious pickles are refused, never executed', () => {
  const cases: [string, () => Buffer, string][] = [
    ['GLOBAL os.system + REDUCE (protocol 2)', () => pk(P.proto(2), P.global('os', 'system'), P.str(evilCommand()), P.tuple1, P.reduce, P.stop), 'os.system'],
    ['GLOBAL posix.system (protocol 0 text)', () => pk(P.global('posix', 'system'), P.mark, latin(`V${evilCommand()}\n`), P.tuple, P.reduce, P.stop), 'posix.system'],
    ['STACK_GLOBAL builtins.exec (protocol 4)', () => pk(P.proto(4), P.short('builtins'), P.memoize, P.short('exec'), P.memoize, P.stackGlobal,
      P.str(`import os; os.system(${JSON.stringify(evilCommand())})`), P.tuple1, P.reduce, P.stop), 'builtins.exec'],
    ['INST os.system (protocol 0)', () => pk(P.mark, latin(`V${evilCommand()}\n`), latin('ios\nsystem\n'), P.stop), 'os.system'],
    ['an allowed name REDUCEd though it is not a rebuild function', () => pk(P.proto(2), P.global('torch', 'FloatStorage'), P.str('x'), P.tuple1, P.reduce, P.stop), 'torch.FloatStorage'],
    ['os.system hidden inside a state dict value', () => pk(P.proto(2), P.emptyDict, P.mark, P.str('base_model.model.x.lora_A.weight'),
      P.global('os', 'system'), P.str(evilCommand()), P.tuple1, P.reduce, P.setitems, P.stop), 'os.system'],
  ];

  it.each(cases)('%s (inside a torch zip)', async (_name, build, global) => {
    const p = join(dir, `evil-${global}.bin`);
    writeFileSync(p, torchZip(build()));
    const err = await openAdapter(p).catch((e: unknown) => e);
    expect(isAuditError(err, 'UNSAFE_PICKLE')).toBe(true);
    expect((err as Error).message).toContain(global);
    const r = await inspectFile(p);
    expect(r.error?.code).toBe('UNSAFE_PICKLE');
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.findings).toEqual([expect.objectContaining({ code: 'PICKLE_GLOBAL', message: expect.stringContaining(global) })]);
    expect(existsSync(canary)).toBe(false);
  });

  it('a bare (legacy, non-zip) pickle naming os.system is refused the same way', async () => {
    const p = join(dir, 'legacy-evil.pt');
    writeFileSync(p, cases[0][1]());
    const r = await inspectFile(p);
    expect(r.error).toMatchObject({ code: 'UNSAFE_PICKLE', message: expect.stringContaining('os.system') });
    expect(existsSync(canary)).toBe(false);
  });

  it('a bare protocol-0 text pickle naming posix.system is named and refused too', async () => {
    const p = join(dir, 'legacy-evil0.pkl');
    writeFileSync(p, cases[1][1]());
    const r = await inspectFile(p);
    expect(r.error).toMatchObject({ code: 'UNSAFE_PICKLE', message: expect.stringContaining('posix.system') });
    expect(existsSync(canary)).toBe(false);
  });

  it('malformed pickles are refused as malformed, not crashed on', () => {
    expect(() => walkPickle(pk(P.proto(2), P.reduce), 'x.pkl')).toThrow(/malformed/);
    expect(() => walkPickle(pk(P.proto(2), P.emptyDict), 'x.pkl')).toThrow(/no STOP/);
    expect(() => walkPickle(Buffer.from([0x80, 0x02, 0xff]), 'x.pkl')).toThrow(/unknown opcode/);
  });

  it('a dict that contains itself (through the memo) is refused, not recursed into forever', async () => {
    const cyclic = pk(P.proto(2), P.emptyDict, latin('q'), Buffer.from([0]), P.mark, P.str('self'), latin('h'), Buffer.from([0]), P.setitems, P.stop);
    const p = join(dir, 'cyclic.bin');
    writeFileSync(p, torchZip(cyclic));
    await expect(openAdapter(p)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('cycle') });
  });
});

describe('an honest torch.save zip is read by the restricted walker', () => {
  /** torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
  const tensor = (key: string, numel: number, offset: number, size: number[], stride: number[]) => pk(
    P.global('torch._utils', '_rebuild_tensor_v2'), P.mark,
    P.mark, P.str('storage'), P.global('torch', 'FloatStorage'), P.str(key), P.str('cpu'), P.int(numel), P.tuple, P.binpersid,
    P.int(offset), P.mark, ...size.map(P.int), P.tuple, P.mark, ...stride.map(P.int), P.tuple, P.newfalse,
    P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.tuple, P.reduce);

  it('any damage to the zip or its pickle opens or is refused with an AuditError, never a crash or a call (property)', async () => {
    const pickle = pk(P.proto(2), P.emptyDict, P.mark,
      P.str('base_model.model.h.0.attn.c_attn.lora_A.weight'), tensor('0', 8, 0, [2, 4], [4, 1]),
      P.str('base_model.model.h.0.attn.c_attn.lora_B.weight'), tensor('1', 6, 0, [3, 2], [2, 1]),
      P.setitems, P.stop);
    const good = torchZip(pickle, { 0: Buffer.from(new Float32Array(8).fill(1).buffer), 1: Buffer.from(new Float32Array(6).fill(2).buffer) });
    let run = 0;
    await fc.assert(fc.asyncProperty(
      fc.array(fc.tuple(fc.integer({ min: 0, max: good.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.option(fc.integer({ min: 1, max: good.length - 1 })),
      async (edits, cut) => {
        const bytes = Buffer.from(good);
        for (const [i, v] of edits) bytes[i] = v;
        const p = join(dir, `dmg${run++}.bin`);
        writeFileSync(p, cut === null ? bytes : bytes.subarray(0, cut));
        try {
          const a = await openAdapter(p, { scanValues: true });
          await a.source.close();
        } catch (e) {
          if (!(e instanceof AuditError) || e.code === 'INTERNAL') throw e;
        }
      }), { numRuns: 200 });
    expect(existsSync(canary)).toBe(false);
  });

  it('a negative storage offset (found by the damage property) is malformed, not a read at a negative position', async () => {
    const pickle = pk(P.proto(2), P.emptyDict, P.mark, P.str('base_model.model.h.0.attn.c_attn.lora_A.weight'), tensor('0', 8, -2, [2, 4], [4, 1]), P.setitems, P.stop);
    const p = join(dir, 'negative.bin');
    writeFileSync(p, torchZip(pickle, { 0: Buffer.alloc(32) }));
    await expect(openAdapter(p)).rejects.toMatchObject({ code: 'BAD_ARCHIVE', message: expect.stringContaining('bad offset') });
  });

  it('a central-directory entry that runs past the directory (found by the damage property) is BAD_ARCHIVE', async () => {
    const bytes = torchZip(pk(P.proto(2), P.emptyDict, P.stop));
    const central = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bytes.writeUInt16LE(0xfff0, central + 30); // extra-field length
    const p = join(dir, 'bad-central.bin');
    writeFileSync(p, bytes);
    await expect(openAdapter(p)).rejects.toMatchObject({ code: 'BAD_ARCHIVE' });
  });

  it('reads the tensors by offset into the canonical model', async () => {
    const a = Float32Array.from({ length: 2 * 6 }, (_, i) => i / 10);      // lora_A: 2×6
    const bStorage = Float32Array.from({ length: 1 + 4 * 2 }, (_, i) => -i); // lora_B: 4×2 at storage offset 1
    const pickle = pk(P.proto(2), P.emptyDict, P.mark,
      P.str('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'), tensor('0', 12, 0, [2, 6], [6, 1]),
      P.str('base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'), tensor('1', 9, 1, [4, 2], [2, 1]),
      P.setitems, P.stop);
    const p = join(dir, 'adapter_model.bin');
    writeFileSync(p, torchZip(pickle, { 0: Buffer.from(a.buffer), 1: Buffer.from(bStorage.buffer) }));
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, use_rslora: true }));
    const adapter = await openAdapter(p);
    try {
      expect(adapter).toMatchObject({ family: 'peft', method: 'lora', container: 'torch-zip', baseModel: 'transformer', ranks: [2] });
      expect(adapter.findings.map((f) => f.code)).toContain('PICKLE_CHECKED');
      expect(adapter.identity.companions?.[0].file).toBe(join(dir, 'adapter_config.json'));
      const [w] = await loadModuleWeights(adapter);
      expect(w).toMatchObject({ id: 'model.layers.0.self_attn.q_proj', rank: 2, inFeatures: 6, outFeatures: 4, scale: 4 / Math.sqrt(2) });
      expect(Array.from(w.a)).toEqual(Array.from(a));
      expect(Array.from(w.b)).toEqual(Array.from(bStorage.subarray(1)));
    } finally {
      await adapter.source.close();
    }
  });
});
