// The malicious-pickle corpus: payloads that reduce to os.system, builtins.eval, subprocess.Popen,
// posix/nt.system, getattr chains, nested STACK_GLOBAL, INST and OBJ, in protocols 0–5, bare and
// inside a torch.save zip, built byte by byte. Each payload would create a canary file if unpickled
// (proved with Python's own pickle where python3 exists); intake must create none and name the global.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import { inspectFile } from '../../../main/intake/inspect.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { storedZip } from '../../fuzz/intake-targets.ts';

const dir = mkdtempSync(join(tmpdir(), 'lora-audit-pickles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const latin = (s: string) => Buffer.from(s, 'latin1');
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
const op = {
  proto: (v: number) => Buffer.from([0x80, v]),
  frame: (n: number) => { const b = Buffer.alloc(9); b[0] = 0x95; b.writeBigUInt64LE(BigInt(n), 1); return b; },
  global: (m: string, n: string) => latin(`c${m}\n${n}\n`),                       // GLOBAL (protocol 0+)
  inst: (m: string, n: string) => latin(`i${m}\n${n}\n`),                         // INST: MARK args INST → instance
  unicode0: (s: string) => latin(`V${s}\n`),                                      // UNICODE (text, protocol 0)
  binunicode: (s: string) => Buffer.concat([latin('X'), u32(Buffer.byteLength(s)), Buffer.from(s)]),
  short: (s: string) => Buffer.concat([Buffer.from([0x8c, Buffer.byteLength(s)]), Buffer.from(s)]),
  stackGlobal: Buffer.from([0x93]), memoize: Buffer.from([0x94]), mark: latin('('), tuple: latin('t'), tuple1: Buffer.from([0x85]),
  tuple2: Buffer.from([0x86]), emptyList: latin(']'), append: latin('a'), reduce: latin('R'), obj: latin('o'), build: latin('b'),
  emptyDict: latin('}'), setitem: latin('s'), stop: latin('.'),
};
const pk = (...parts: Buffer[]) => Buffer.concat(parts);

type Payload = { name: string; protocol: number; global: string; bytes: (canary: string) => Buffer };
const touch = (canary: string) => `touch ${canary}`;
const pyTouch = (canary: string) => `open(${JSON.stringify(canary)}, "w").close()`;

const PAYLOADS: Payload[] = [
  { name: 'os.system by GLOBAL + REDUCE, text', protocol: 0, global: 'os.system',
    bytes: (c) => pk(op.global('os', 'system'), op.mark, op.unicode0(touch(c)), op.tuple, op.reduce, op.stop) },
  { name: 'os.system, binary strings', protocol: 1, global: 'os.system',
    bytes: (c) => pk(op.global('os', 'system'), op.mark, op.binunicode(touch(c)), op.tuple, op.reduce, op.stop) },
  { name: 'posix.system', protocol: 2, global: 'posix.system',
    bytes: (c) => pk(op.proto(2), op.global('posix', 'system'), op.binunicode(touch(c)), op.tuple1, op.reduce, op.stop) },
  { name: 'nt.system (Windows spelling of os.system)', protocol: 2, global: 'nt.system',
    bytes: (c) => pk(op.proto(2), op.global('nt', 'system'), op.binunicode(touch(c)), op.tuple1, op.reduce, op.stop) },
  { name: 'builtins.eval by GLOBAL', protocol: 3, global: 'builtins.eval',
    bytes: (c) => pk(op.proto(3), op.global('builtins', 'eval'), op.binunicode(pyTouch(c)), op.tuple1, op.reduce, op.stop) },
  { name: 'builtins.eval by STACK_GLOBAL in a frame', protocol: 4, global: 'builtins.eval',
    bytes: (c) => { const body = pk(op.short('builtins'), op.memoize, op.short('eval'), op.memoize, op.stackGlobal, op.memoize, op.binunicode(pyTouch(c)), op.tuple1, op.reduce, op.stop);
      return pk(op.proto(4), op.frame(body.length), body); } },
  { name: 'subprocess.Popen with an argument list', protocol: 5, global: 'subprocess.Popen',
    bytes: (c) => pk(op.proto(5), op.short('subprocess'), op.short('Popen'), op.stackGlobal, op.emptyList, op.short('touch'), op.append, op.short(c), op.append, op.tuple1, op.reduce, op.stop) },
  { name: 'builtins.getattr chain: getattr(__import__("os"), "system")(cmd)', protocol: 4, global: 'builtins.getattr',
    bytes: (c) => pk(op.proto(4), op.short('builtins'), op.short('getattr'), op.stackGlobal,
      op.short('builtins'), op.short('__import__'), op.stackGlobal, op.short('os'), op.tuple1, op.reduce, op.short('system'), op.tuple2, op.reduce,
      op.binunicode(touch(c)), op.tuple1, op.reduce, op.stop) },
  { name: 'nested STACK_GLOBAL inside an allowed OrderedDict call', protocol: 4, global: 'os.system',
    bytes: (c) => pk(op.proto(4), op.short('collections'), op.short('OrderedDict'), op.stackGlobal, op.emptyList,
      op.short('os'), op.short('system'), op.stackGlobal, op.binunicode(touch(c)), op.tuple1, op.reduce, op.append, op.tuple1, op.reduce, op.stop) },
  { name: 'INST opcode building os.system(cmd)', protocol: 0, global: 'os.system',
    bytes: (c) => pk(op.mark, op.unicode0(touch(c)), op.inst('os', 'system'), op.stop) },
  { name: 'OBJ opcode on os.system', protocol: 1, global: 'os.system',
    bytes: (c) => pk(op.mark, op.global('os', 'system'), op.binunicode(touch(c)), op.obj, op.stop) },
  { name: 'OBJ opcode on an allowed class (instantiating torch.FloatStorage is still refused)', protocol: 2, global: 'torch.FloatStorage',
    bytes: () => pk(op.proto(2), op.mark, op.global('torch', 'FloatStorage'), op.obj, op.stop) },
];

let n = 0;
function files(p: Payload): { canary: string; bare: string; zip: string } {
  const canary = join(dir, `CANARY-${n}`);
  const bare = join(dir, `payload-${n}.bin`);
  const zip = join(dir, `payload-${n++}.pt`);
  const bytes = p.bytes(canary);
  writeFileSync(bare, bytes);
  writeFileSync(zip, storedZip([{ name: 'archive/data.pkl', data: bytes }, { name: 'archive/version', data: Buffer.from('3\n') }]).bytes);
  return { canary, bare, zip };
}

const python = spawnSync('python3', ['-c', 'import pickle; print(pickle.HIGHEST_PROTOCOL)'], { encoding: 'utf8' });
const hasPython = python.status === 0 && Number(python.stdout) >= 5;

describe('the corpus is real: Python unpickling each payload does what it says', () => {
  it.skipIf(!hasPython)('every payload that calls something creates its canary when Python loads it (the control for the tests below)', () => {
    // nt.system exists only on Windows; instantiating an allowed class does nothing observable
    const live = PAYLOADS.filter((x) => x.global !== 'torch.FloatStorage' && (x.global !== 'nt.system' || process.platform === 'win32'));
    const runs = live.map((p, i) => {
      const canary = join(dir, `CONTROL-${i}`);
      const file = join(dir, `control-${i}.pkl`);
      writeFileSync(file, p.bytes(canary));
      return { p, canary, file };
    });
    // pickle.loads is the danger this tool exists to avoid; run here, on purpose, on payloads we wrote.
    // Some fail after their call (OrderedDict of an int): the canary shows the call already ran.
    const script = ['import pickle, sys, time', 'for f in sys.argv[1:]:', '  try: pickle.loads(open(f, "rb").read())', '  except Exception as e: print(f, e)', 'time.sleep(0.5)'].join('\n');
    const r = spawnSync('python3', ['-c', script,
      ...runs.map((x) => x.file)], { encoding: 'utf8' });
    for (const { p, canary } of runs) expect(existsSync(canary), `${p.name}: ${r.stderr}`).toBe(true);
  });
});

describe('malicious pickles: refused, named, never executed', () => {
  for (const p of PAYLOADS) {
    it(`${p.name} (protocol ${p.protocol}), bare and in a torch zip: UNSAFE_PICKLE naming ${p.global}`, async () => {
      const f = files(p);
      for (const file of [f.bare, f.zip]) {
        const err = await openAdapter(file).then(() => null, (e: unknown) => e);
        expect(isAuditError(err, 'UNSAFE_PICKLE'), String(err)).toBe(true);
        expect((err as { details?: { global?: string } }).details?.global).toBe(p.global);
        const report = await inspectFile(file);
        expect(report.error?.code).toBe('UNSAFE_PICKLE');
        expect(report.error?.message).toContain(p.global);
        expect(report.findings).toContainEqual(expect.objectContaining({ code: 'PICKLE_GLOBAL', message: expect.stringContaining(p.global) }));
        expect(report.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
      await new Promise((r) => setTimeout(r, 50)); // a spawned command would have had time to run
      expect(existsSync(f.canary)).toBe(false);
    });
  }
});
