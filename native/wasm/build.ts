// Builds every native/wasm/*.wat into the .wasm beside it with the pinned wabt (1.0.39, a dev
// dependency): `npm run build:wasm`. The .wasm files are committed, so the product never runs wabt
// and a checkout works without a build step; test/unit/dsire/wasm-build.test.ts rebuilds each one
// and fails when a committed .wasm is not what its .wat builds to.
//
//   ./node_modules/.bin/node native/wasm/build.ts
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import wabt from 'wabt';

const here = dirname(fileURLToPath(import.meta.url));

/** The kernel sources, as absolute paths, in name order. */
export function watFiles(): string[] {
  return readdirSync(here).filter((f) => f.endsWith('.wat')).sort().map((f) => join(here, f));
}

/** The .wasm a .wat source is built into. */
export function wasmFileOf(wat: string): string {
  return wat.replace(/\.wat$/, '.wasm');
}

/** The module's bytes: validated, LEBs in their shortest form, no name section (the same source
 *  always gives the same bytes). */
export async function buildWat(file: string): Promise<Uint8Array> {
  const tools = await wabt();
  const module = tools.parseWat(basename(file), readFileSync(file, 'utf8'), { simd: true });
  try {
    module.validate();
    return module.toBinary({ log: false, canonicalize_lebs: true, relocatable: false, write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const wat of watFiles()) {
    const bytes = await buildWat(wat);
    writeFileSync(wasmFileOf(wat), bytes);
    console.log(`${basename(wasmFileOf(wat))}: ${bytes.length} bytes`);
  }
}
