// A restricted reader of Python pickles (protocols 0–5) that never unpickles: it walks the opcodes
// with its own stack and builds plain data. The only names a pickle may import are the ones torch
// needs to rebuild a state dict of tensors (`torch._utils._rebuild_tensor_v2`, `collections.OrderedDict`,
// the `torch.*Storage` types); any other GLOBAL / STACK_GLOBAL / INST (e.g. `os.system`,
// `builtins.eval`) is refused with UNSAFE_PICKLE naming it, before anything could be called. Nothing is
// ever evaluated: "calling" an allowed callable only records what it would rebuild.
import { AuditError } from '../errors.ts';
import { visible } from './disclosure.ts';
import type { DType } from './model.ts';

export interface PickleGlobal { kind: 'global'; module: string; name: string }
export interface PickleStorage { kind: 'storage'; dtype: DType; key: string; location: string; numel: number }
export interface PickleTensor { kind: 'tensor'; storage: PickleStorage; offset: number; size: number[]; stride: number[] }
type Value = null | boolean | number | string | Uint8Array | Value[] | Map<Value, Value> | PickleGlobal | PickleStorage | PickleTensor
  | { kind: 'call'; fn: PickleGlobal; args: Value };

const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

const ALLOWED = new Set([
  'collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_parameter',
  ...Object.keys(STORAGE_DTYPES).map((s) => `torch.${s}`),
]);

export function isAllowedGlobal(module: string, name: string): boolean {
  return ALLOWED.has(`${module}.${name}`);
}

const MARK = Symbol('mark');

/** LONG1/LONG4 integers longer than an int64 are refused (LIMIT_EXCEEDED). */
export const MAX_LONG_BYTES = 8;

/** Dict entries stateDictTensors visits at most: the memo lets a few hundred bytes of pickle share one
 *  dict under two keys at every level, which would make the walk exponential. A full SD checkpoint has
 *  ~2,000 tensors; an LLM's, ~100,000. */
export const MAX_STATE_DICT_ENTRIES = 1_000_000;

/** A tensor key (dict keys joined with '.') longer than this is refused: real ones are under 200
 *  characters, and a shared dict under a long key would otherwise copy that key into every tensor's. */
export const MAX_KEY_CHARS = 4096;

/** Walks a pickle and returns its top value; persistent ids are resolved as torch zip storages. */
export function walkPickle(bytes: Uint8Array, file: string): Value {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: (Value | typeof MARK)[] = [];
  const memo = new Map<number, Value>();
  let pos = 0;
  const malformed = (why: string): AuditError => new AuditError('BAD_ARCHIVE', `the pickle is malformed at byte ${pos}: ${why}`, file);
  const need = (n: number) => { if (pos + n > buf.length) throw malformed('ends early'); };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) throw malformed('unterminated text argument');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  const pop = (): Value => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw malformed('stack underflow');
    return v;
  };
  const popMark = (): Value[] => {
    const items: Value[] = [];
    for (;;) {
      const v = stack.pop();
      if (v === undefined) throw malformed('no MARK on the stack');
      if (v === MARK) return items.reverse();
      items.push(v);
    }
  };
  const refuse = (module: string, name: string, opcode: string): never => {
    const shown = globalName(module, name);
    throw new AuditError('UNSAFE_PICKLE',
      `the pickle imports ${shown} (${opcode}), which is not a tensor-rebuild global; refused without running anything`, file,
      { global: shown, opcode, position: pos });
  };
  const global = (module: string, name: string, opcode: string): PickleGlobal => {
    if (!isAllowedGlobal(module, name)) refuse(module, name, opcode);
    return { kind: 'global', module, name };
  };
  const top = (): Value => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw malformed('empty stack');
    return v;
  };

  while (pos < buf.length) {
    const op = buf[pos++];
    switch (op) {
      case 0x80: need(1); pos += 1; break;                                   // PROTO
      case 0x95: need(8); pos += 8; break;                                   // FRAME
      case 0x2e: {                                                            // STOP
        const v = pop();
        return v;
      }
      case 0x28: stack.push(MARK); break;                                    // MARK
      case 0x7d: stack.push(new Map()); break;                               // EMPTY_DICT
      case 0x5d: case 0x29: case 0x8f: stack.push([]); break;                // EMPTY_LIST, EMPTY_TUPLE, EMPTY_SET
      case 0x74: case 0x6c: case 0x91: stack.push(popMark()); break;         // TUPLE, LIST, FROZENSET
      case 0x85: stack.push([pop()]); break;                                 // TUPLE1
      case 0x86: { const b = pop(); const a = pop(); stack.push([a, b]); break; }
      case 0x87: { const c = pop(); const b = pop(); const a = pop(); stack.push([a, b, c]); break; }
      case 0x64: {                                                            // DICT
        const items = popMark();
        const m = new Map<Value, Value>();
        for (let i = 0; i + 1 < items.length; i += 2) m.set(items[i], items[i + 1]);
        stack.push(m);
        break;
      }
      case 0x61: { const v = pop(); const l = top(); if (!Array.isArray(l)) throw malformed('APPEND to a non-list'); l.push(v); break; }
      case 0x65: case 0x90: {                                                 // APPENDS, ADDITEMS
        const items = popMark(); const l = top();
        if (!Array.isArray(l)) throw malformed('APPENDS to a non-list');
        // One push per item: push(...items) passes every item as an argument, and a few hundred
        // thousand of them overflow the call stack.
        for (const item of items) l.push(item);
        break;
      }
      case 0x73: { const v = pop(); const k = pop(); const d = top(); if (!(d instanceof Map)) throw malformed('SETITEM on a non-dict'); d.set(k, v); break; }
      case 0x75: {                                                            // SETITEMS
        const items = popMark(); const d = top();
        if (!(d instanceof Map)) throw malformed('SETITEMS on a non-dict');
        for (let i = 0; i + 1 < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x71: need(1); memo.set(buf[pos], top()); pos += 1; break;        // BINPUT
      case 0x72: need(4); memo.set(buf.readUInt32LE(pos), top()); pos += 4; break; // LONG_BINPUT
      case 0x70: memo.set(Number(line()), top()); break;                    // PUT
      case 0x94: memo.set(memo.size, top()); break;                          // MEMOIZE
      case 0x68: case 0x6a: case 0x67: {                                      // BINGET, LONG_BINGET, GET
        let idx: number;
        if (op === 0x68) { need(1); idx = buf[pos]; pos += 1; } else if (op === 0x6a) { need(4); idx = buf.readUInt32LE(pos); pos += 4; } else idx = Number(line());
        if (!memo.has(idx)) throw malformed(`memo ${idx} was never stored`);
        stack.push(memo.get(idx)!);
        break;
      }
      case 0x4a: need(4); stack.push(buf.readInt32LE(pos)); pos += 4; break; // BININT
      case 0x4b: need(1); stack.push(buf[pos]); pos += 1; break;            // BININT1
      case 0x4d: need(2); stack.push(buf.readUInt16LE(pos)); pos += 2; break; // BININT2
      case 0x49: {                                                            // INT (protocol 0; 00/01 are booleans)
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : Number(s));
        break;
      }
      case 0x4c: stack.push(Number(line().replace(/L$/, ''))); break;        // LONG
      case 0x8a: case 0x8b: {                                                 // LONG1, LONG4
        let n: number;
        if (op === 0x8a) { need(1); n = buf[pos]; pos += 1; } else { need(4); n = buf.readUInt32LE(pos); pos += 4; }
        // Sizes, strides, offsets and storage lengths are int64: 8 bytes at most. A longer integer is no
        // tensor's, and decoding one byte by byte into a BigInt costs time quadratic in its length.
        if (n > MAX_LONG_BYTES) {
          const opcode = op === 0x8a ? 'LONG1' : 'LONG4';
          throw new AuditError('LIMIT_EXCEEDED',
            `the pickle holds a ${n}-byte integer (${opcode}) at byte ${pos}; a tensor pickle needs at most ${MAX_LONG_BYTES} bytes (int64)`, file,
            { limit: 'maxLongBytes', value: MAX_LONG_BYTES, opcode, length: n });
        }
        need(n);
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(buf[pos + i]);
        if (n > 0 && buf[pos + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
        pos += n;
        stack.push(Number(v));
        break;
      }
      case 0x47: need(8); stack.push(buf.readDoubleBE(pos)); pos += 8; break; // BINFLOAT
      case 0x46: stack.push(Number(line())); break;                          // FLOAT
      case 0x4e: stack.push(null); break;                                    // NONE
      case 0x88: stack.push(true); break;                                    // NEWTRUE
      case 0x89: stack.push(false); break;                                   // NEWFALSE
      case 0x58: case 0x8c: case 0x8d: {                                      // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
        let n: number;
        if (op === 0x8c) { need(1); n = buf[pos]; pos += 1; } else if (op === 0x58) { need(4); n = buf.readUInt32LE(pos); pos += 4; } else { need(8); n = Number(buf.readBigUInt64LE(pos)); pos += 8; }
        need(n);
        stack.push(buf.toString('utf8', pos, pos + n));
        pos += n;
        break;
      }
      case 0x56: stack.push(line()); break;                                  // UNICODE (raw-unicode-escape; ASCII is enough for keys)
      case 0x53: stack.push(line().replace(/^(['"])(.*)\1$/, '$2')); break;  // STRING
      case 0x54: case 0x55: case 0x42: case 0x43: case 0x8e: case 0x96: {    // BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8, BYTEARRAY8
        let n: number;
        if (op === 0x55 || op === 0x43) { need(1); n = buf[pos]; pos += 1; } else if (op === 0x54 || op === 0x42) { need(4); n = buf.readUInt32LE(pos); pos += 4; } else { need(8); n = Number(buf.readBigUInt64LE(pos)); pos += 8; }
        need(n);
        const bytes = new Uint8Array(buf.subarray(pos, pos + n));
        stack.push(op === 0x54 || op === 0x55 ? Buffer.from(bytes).toString('latin1') : bytes);
        pos += n;
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(global(module, name, 'GLOBAL')); break; }
      case 0x93: {                                                            // STACK_GLOBAL
        const name = pop(); const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw malformed('STACK_GLOBAL needs two strings');
        stack.push(global(module, name, 'STACK_GLOBAL'));
        break;
      }
      case 0x69: { const module = line(); const name = line(); global(module, name, 'INST'); throw malformed(`INST ${globalName(module, name)} builds an object, not a tensor`); }
      case 0x6f: case 0x81: case 0x92: {                                      // OBJ, NEWOBJ, NEWOBJ_EX: build instances of classes
        const items = op === 0x6f ? popMark() : op === 0x81 ? [pop(), pop()].reverse() : [pop(), pop(), pop()].reverse();
        const cls = items[0];
        const name = cls && typeof cls === 'object' && 'kind' in cls && cls.kind === 'global' ? globalName(cls.module, cls.name) : 'an unknown class';
        throw new AuditError('UNSAFE_PICKLE', `the pickle instantiates ${name} (${op === 0x6f ? 'OBJ' : op === 0x81 ? 'NEWOBJ' : 'NEWOBJ_EX'}); only tensor rebuilds are accepted`, file,
          { global: name, opcode: 'OBJ' });
      }
      case 0x52: {                                                            // REDUCE
        const args = pop(); const fn = pop();
        stack.push(reduce(fn, args));
        break;
      }
      case 0x62: {                                                            // BUILD: state for dicts (state_dict._metadata) is dropped
        const state = pop(); const obj = top();
        if (!(obj instanceof Map) && !(obj && typeof obj === 'object' && 'kind' in obj && obj.kind === 'tensor')) throw malformed('BUILD on something that is not a dict or tensor');
        void state;
        break;
      }
      case 0x51: { const pid = pop(); stack.push(persistent(pid)); break; }  // BINPERSID
      case 0x50: stack.push(persistent(line())); break;                      // PERSID
      case 0x30: pop(); break;                                               // POP
      case 0x31: popMark(); break;                                           // POP_MARK
      case 0x32: stack.push(top()); break;                                   // DUP
      case 0x82: case 0x83: case 0x84:                                        // EXT1/2/4: a global by registry number
        throw new AuditError('UNSAFE_PICKLE', 'the pickle imports a global through the extension registry (EXT); refused', file, { global: 'extension registry', opcode: 'EXT' });
      case 0x97: case 0x98:
        throw malformed('out-of-band buffers are not part of a torch checkpoint');
      default:
        throw malformed(`unknown opcode 0x${op.toString(16)}`);
    }
  }
  throw malformed('no STOP opcode');

  function reduce(fn: Value, args: Value): Value {
    if (!(fn && typeof fn === 'object' && 'kind' in fn && fn.kind === 'global')) throw malformed('REDUCE on something that is not an imported callable');
    const name = `${fn.module}.${fn.name}`;
    const a = Array.isArray(args) ? args : [];
    if (name === 'collections.OrderedDict') return new Map();
    if (name === 'torch._utils._rebuild_parameter') return a[0] ?? null;
    if (name === 'torch._utils._rebuild_tensor_v2' || name === 'torch._utils._rebuild_tensor') {
      const [storage, offset, size, stride] = a;
      if (!(storage && typeof storage === 'object' && 'kind' in storage && storage.kind === 'storage')) throw malformed('tensor rebuild without a storage');
      const ints = (v: Value) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || !ints(size) || !ints(stride)) throw malformed('tensor rebuild with a bad offset, size or stride');
      return { kind: 'tensor', storage, offset, size: size as number[], stride: stride as number[] };
    }
    return refuse(fn.module, fn.name, 'REDUCE');
  }

  function persistent(pid: Value): Value {
    // torch zip: ('storage', <torch.XStorage>, key, location, numel)
    if (!Array.isArray(pid) || pid[0] !== 'storage') throw malformed('a persistent id that is not a torch storage');
    const [, type, key, location, numel] = pid;
    if (!(type && typeof type === 'object' && 'kind' in type && type.kind === 'global')) throw malformed('storage without a type');
    const dtype = STORAGE_DTYPES[type.name];
    if (!dtype || typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw malformed('storage with a bad type, key or size');
    return { kind: 'storage', dtype, key, location: typeof location === 'string' ? location : '', numel };
  }
}

/** Characters of a global's name quoted in an error: the name is the pickle's own text, of any length
 *  (a GLOBAL line runs to the next newline, megabytes away) and with any control characters. */
export const MAX_GLOBAL_CHARS = 200;

/** `module.name` as an error quotes it: escaped, and cut with its full length said. */
function globalName(module: string, name: string): string {
  const full = module.length + 1 + name.length;
  const shown = visible(`${module.slice(0, MAX_GLOBAL_CHARS)}.${name.slice(0, MAX_GLOBAL_CHARS)}`, MAX_GLOBAL_CHARS);
  return shown.cut || full > MAX_GLOBAL_CHARS ? `${shown.text}… (${full} characters)` : shown.text;
}

/** A dict key as text. Only strings and numbers are spelled out: String() of a key that is a deeply
 *  nested list recurses until the stack overflows, and of a 60 MB byte string builds a 240 MB one. */
function keyText(k: Value): string {
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'boolean' || k === null) return String(k);
  return Array.isArray(k) ? '<tuple>' : k instanceof Uint8Array ? '<bytes>' : k instanceof Map ? '<dict>' : `<${k.kind}>`;
}

/** The tensors of a walked torch state dict: key → tensor, in pickle order. Nested dicts join keys with '.'. */
export function stateDictTensors(root: Value, file: string): [string, PickleTensor][] {
  const out: [string, PickleTensor][] = [];
  // The memo lets a pickle put a dict inside itself: refuse cycles and absurd nesting instead of recursing forever.
  const open = new Set<Map<Value, Value>>();
  let entries = 0;
  const visit = (v: Value, prefix: string): void => {
    if (v instanceof Map) {
      if (open.has(v) || open.size > 64) throw new AuditError('BAD_ARCHIVE', `the checkpoint's dicts nest in a cycle or too deep (at "${prefix}")`, file);
      open.add(v);
      for (const [k, x] of v) {
        if (++entries > MAX_STATE_DICT_ENTRIES) {
          throw new AuditError('LIMIT_EXCEEDED',
            `the checkpoint's dicts hold more than ${MAX_STATE_DICT_ENTRIES} entries (counting a dict shared under several keys once per key; at "${prefix}")`, file,
            { limit: 'maxStateDictEntries', value: MAX_STATE_DICT_ENTRIES });
        }
        const key = prefix ? `${prefix}.${keyText(k)}` : keyText(k);
        if (key.length > MAX_KEY_CHARS) {
          throw new AuditError('LIMIT_EXCEEDED', `a tensor key is longer than ${MAX_KEY_CHARS} characters (starting "${key.slice(0, 80)}…")`, file,
            { limit: 'maxKeyChars', value: MAX_KEY_CHARS });
        }
        visit(x, key);
      }
      open.delete(v);
    } else if (v && typeof v === 'object' && 'kind' in v && v.kind === 'tensor') {
      out.push([prefix, v]);
    }
  };
  if (!(root instanceof Map)) throw new AuditError('UNSUPPORTED_FORMAT', 'the checkpoint is not a dict of tensors', file);
  // Lightning / training checkpoints wrap the weights: {'state_dict': {...}, 'epoch': …}.
  const inner = root.get('state_dict');
  visit(inner instanceof Map ? inner : root, '');
  return out;
}
