// The WebAssembly kernels are reviewed as .wat source and run as the committed .wasm built from it
// (native/wasm/build.ts, wabt 1.0.39). These tests keep the two honest: every .wat rebuilds to its
// committed bytes, the record layouts the TypeScript writes are the ones the .wat reads, and the
// kernels know nothing of DSiRe's variants (main/dsire hands them rules as data).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { buildWat, wasmFileOf, watFiles } from '../../../native/wasm/build.ts';
import { RULE_FIELDS, TASK_FIELDS } from '../../../native/neighbours.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Every `(local.set $name (i32.load offset=N (local.get $pointer)))` and any other load through `pointer`. */
function recordLoads(wat: string, pointer: string): { named: [string, number][]; others: string[] } {
  const named = [...wat.matchAll(new RegExp(`\\(local\\.set \\$(\\w+) \\(i32\\.load offset=(\\d+) \\(local\\.get \\$${pointer}\\)\\)\\)`, 'g'))]
    .map((m) => [m[1], Number(m[2])] as [string, number]);
  const all = [...wat.matchAll(new RegExp(`\\([\\w.]+(?: offset=\\d+)?(?: align=\\d+)? \\(local\\.get \\$${pointer}\\)\\)`, 'g'))].length;
  const others = all > named.length ? [`${all - named.length} other access(es) through $${pointer}`] : [];
  return { named, others };
}

describe('the committed WebAssembly kernels', () => {
  it('are what their .wat sources build to, byte for byte', async () => {
    const sources = watFiles();
    expect(sources.map((f) => basename(f))).toEqual(['eigen.wat', 'gram.wat', 'neighbours.wat']);
    for (const wat of sources) {
      const built = await buildWat(wat);
      const committed = new Uint8Array(readFileSync(wasmFileOf(wat)));
      expect({ file: basename(wat), bytes: Buffer.from(committed).toString('hex') }).toEqual({ file: basename(wat), bytes: Buffer.from(built).toString('hex') });
    }
  });

  it('read the task and rule records at the offsets native/neighbours.ts writes them', () => {
    const wat = readFileSync(join(root, 'native/wasm/neighbours.wat'), 'utf8');
    const task = recordLoads(wat, 'task');
    expect(task.others).toEqual([]);
    for (const [name, offset] of task.named) expect({ name, offset }).toEqual({ name: TASK_FIELDS[offset / 4], offset });
    expect(new Set(task.named.map(([name]) => name))).toEqual(new Set(TASK_FIELDS));
    // rule fields land in $ruleK, $ruleWeighted, $ruleVoters
    const rule = recordLoads(wat, 'rule');
    expect(rule.others).toEqual([]);
    const ruleLocal = (f: string) => `rule${f[0].toUpperCase()}${f.slice(1)}`;
    for (const [name, offset] of rule.named) expect({ name, offset }).toEqual({ name: ruleLocal(RULE_FIELDS[offset / 4]), offset });
    expect(new Set(rule.named.map(([name]) => name))).toEqual(new Set(RULE_FIELDS.map(ruleLocal)));
    // the rule table's stride is the record's size
    expect(wat).toContain(`(i32.mul (local.get $v) (i32.const ${RULE_FIELDS.length * 4}))`);
  });

  it('know no DSiRe variant: native/ takes rules as data and imports nothing from main/ for them', () => {
    for (const file of ['native/neighbours.ts', 'native/simd.ts', 'native/wasm/load.ts', 'native/wasm/build.ts', 'native/wasm/neighbours.wat']) {
      const text = readFileSync(join(root, file), 'utf8');
      expect({ file, imports: [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]).filter((i) => i.includes('main/')) }).toEqual({ file, imports: [] });
      expect({ file, names: text.match(/CANDIDATES|FAITHFUL|DW_ONLY|ALL_K3|DW_K3|NORMS|sigmaDW/g) ?? [] }).toEqual({ file, names: [] });
    }
  });
});

describe('the kernels in the Electron main bundle', () => {
  // Vite's library mode (the main bundle, see vite.main.config.mts) inlines each
  // `new URL('./x.wasm', import.meta.url)` as a base64 data: URL; reading that as a file would throw
  // at the first analysis. Built here as test/unit/foundation/bundle.test.ts builds the real bundle.
  const dir = join(root, '.vite', 'kernel-bundle-test');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('load from the bundle and compute there', async () => {
    mkdirSync(dir, { recursive: true });
    const entry = join(dir, 'entry.ts');
    writeFileSync(entry, [
      "import { neighbourKernel } from '../../native/neighbours.ts';",
      "import { simdGram } from '../../native/simd.ts';",
      "import { symmetricEigen, valuesSolver } from '../../native/eigen.ts';",
      'export function probe() {',
      '  const plan = neighbourKernel()!.plan(3, 1, 1, new Int32Array(3), 1, []);',
      '  plan.distances(Float64Array.of(0, 1, 3), 1);',
      '  const gram = simdGram()!.gramRows(Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8), 2, 4, new Float64Array(4));',
      '  const eigen = { solver: valuesSolver(), values: Array.from(symmetricEigen(Float64Array.of(1, 0, 0, 3), 2, false).values) };',
      '  return { distances: Array.from(plan.matrix()), gram: Array.from(gram), eigen };',
      '}',
    ].join('\n'));
    const { build, mergeConfig } = await import('vite');
    const user = (await import('../../../vite.main.config.mts')).default;
    await build(mergeConfig(user, {
      configFile: false, root, logLevel: 'error',
      build: {
        outDir: join(dir, 'out'), emptyOutDir: true, minify: true, copyPublicDir: false,
        lib: { entry, formats: ['cjs'], fileName: () => '[name].cjs' },
        rollupOptions: { external: [...builtinModules, ...builtinModules.map((m) => `node:${m}`)] },
      },
      resolve: { conditions: ['node'], mainFields: ['module', 'jsnext:main', 'jsnext'] },
    }));
    const bundle = join(dir, 'out', 'entry.cjs');
    expect(readFileSync(bundle, 'utf8')).toContain('data:application/wasm;base64,');
    const out = execFileSync(process.execPath, ['-e', `process.stdout.write(JSON.stringify(require(${JSON.stringify(bundle)}).probe()))`], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out)).toEqual({ distances: [0, 1, 9, 1, 0, 4, 9, 4, 0], gram: [30, 70, 70, 174], eigen: { solver: 'webassembly', values: [3, 1] } });
  }, 120_000);
});
