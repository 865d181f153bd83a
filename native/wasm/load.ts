// Loading a committed kernel (a .wasm built from the .wat beside it by build.ts). The bytes are read
// once per process; each instance gets its own memory.
import { readFileSync } from 'node:fs';

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

/** The kernel's bytes. Callers name the file as `new URL('./x.wasm', import.meta.url)`: run from
 *  source that is the file beside the .wat; in the Electron main bundle Vite's library mode has
 *  inlined it as a base64 data: URL, so the bundle carries its kernels and no file is copied. */
function bytesOf(url: URL): Uint8Array {
  if (url.protocol === 'data:') return Buffer.from(url.pathname.slice(url.pathname.indexOf(',') + 1), 'base64');
  return readFileSync(url);
}

/** The compiled module at `url`, or null where this runtime has no WebAssembly or rejects the bytes
 *  (no SIMD, for one): callers then use their plain-JavaScript path. A missing file is an error, not
 *  a reason to run slower: the .wasm files are part of the source tree. */
export function loadKernel(url: URL): WasmModule | null {
  const api = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (!api) return null;
  const bytes = bytesOf(url);
  if (!api.validate(bytes)) return null;
  const module = new api.Module(bytes);
  return { instantiate: () => new api.Instance(module).exports };
}
