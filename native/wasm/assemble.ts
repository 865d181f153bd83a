// A few dozen WebAssembly opcodes and the module layout around them, enough to write small numeric
// kernels by hand in TypeScript. There is no toolchain to fetch or trust: the bytes a kernel runs
// are the ones its source spells out, and `WebAssembly.validate` checks them before use.
// Reference: the WebAssembly core spec 2.0 (binary format, §5) and the fixed-width SIMD proposal.

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof I64 | typeof F64 | typeof V128;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

const SIMD = 0xfd;
const simd = (code: number, ...imm: number[]) => [SIMD, ...uleb(code), ...imm];

/** Instructions. Memory accesses take a static byte offset (default 0); alignment hints are natural. */
export const op = {
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v | 0)],
  /** Small i64 constants only (a JavaScript number's 32-bit range). */
  i64: (v: number) => [0x42, ...sleb(v | 0)],
  f64: (v: number) => { const b = new Uint8Array(8); new DataView(b.buffer).setFloat64(0, v, true); return [0x44, ...b]; },
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  if: [0x04, 0x40],
  else: [0x05],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  select: [0x1b],
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  i64Load: (offset = 0) => [0x29, 3, ...uleb(offset)],
  f64Load: (offset = 0) => [0x2b, 3, ...uleb(offset)],
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  i64Store: (offset = 0) => [0x37, 3, ...uleb(offset)],
  f64Store: (offset = 0) => [0x39, 3, ...uleb(offset)],
  i32Eqz: [0x45],
  i32Eq: [0x46],
  i32Ne: [0x47],
  i32LtS: [0x48],
  i32GtS: [0x4a],
  i32GeS: [0x4e],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  i32And: [0x71],
  i32Or: [0x72],
  i32Shl: [0x74],
  i64LtU: [0x54],
  f64Lt: [0x63],
  f64Add: [0xa0],
  f64Sub: [0xa1],
  f64Mul: [0xa2],
  f64Div: [0xa3],
  f64Sqrt: [0x9f],
  i64ReinterpretF64: [0xbd],
  f64ReinterpretI64: [0xbf],
  v128Load: (offset = 0) => simd(0x00, 4, ...uleb(offset)),
  f64x2Splat: simd(0x14),
  f64x2ExtractLane: (lane: number) => simd(0x21, lane),
  f64x2Add: simd(0xf0),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
};

/** `for (counter = <start on stack>; counter < limit; counter += step) body`, signed compare. Inside
 *  the body, `op.br(1)` leaves the loop and `op.br(0)` would skip the increment: use neither. */
export function forLoop(counter: number, start: number[], limit: number[], step: number, body: number[]): number[] {
  return [
    ...start, ...op.set(counter),
    ...op.block, ...op.loop,
    ...op.get(counter), ...limit, ...op.i32GeS, ...op.brIf(1),
    ...body,
    ...op.get(counter), ...op.i32(step), ...op.i32Add, ...op.set(counter),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

export interface WasmFunction {
  name: string;
  params: ValType[];
  locals: ValType[];
  body: number[];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

const name = (s: string) => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

/** A module of void functions over one exported memory named `mem`, each function exported by name. */
export function assemble(functions: WasmFunction[], memoryPages = 1): Uint8Array {
  const types = functions.map((f) => [0x60, ...uleb(f.params.length), ...f.params, 0]);
  const code = functions.map((f) => {
    const locals = runs(f.locals).map(([count, type]) => [...uleb(count), type]);
    const body = [...vector(locals), ...f.body, ...op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vector(types)),
    ...section(3, vector(functions.map((_, i) => uleb(i)))),
    ...section(5, [1, 0x00, ...uleb(memoryPages)]),
    ...section(7, vector([[...name('mem'), 0x02, 0], ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vector(code)),
  ]);
}

/** Locals are declared as runs of one type. */
function runs(types: ValType[]): [number, ValType][] {
  const out: [number, ValType][] = [];
  for (const t of types) {
    const last = out[out.length - 1];
    if (last && last[1] === t) last[0]++;
    else out.push([1, t]);
  }
  return out;
}

// The slice of the WebAssembly API used here (the project's TypeScript lib has no DOM types).
export interface WasmMemory { buffer: ArrayBuffer; grow(pages: number): number }
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

export interface WasmModule {
  /** A fresh instance: its own memory, its own exports. */
  instantiate(): Record<string, unknown>;
}

/** The compiled module, or null where this runtime has no WebAssembly or rejects the bytes (no
 *  SIMD, for one): callers then use their plain-JavaScript path. */
export function compile(bytes: Uint8Array): WasmModule | null {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api || !api.validate(bytes)) return null;
  const module = new api.Module(bytes);
  return { instantiate: () => new api.Instance(module).exports };
}
