// The Electron main process runs from a CommonJS bundle (.vite/build/main.cjs), not from the
// TypeScript the other tests load. This builds that bundle the way electron-forge's Vite plugin does
// (our vite.main.config.mts, the plugin's CommonJS library settings) and loads it in Node against a
// stand-in for the electron module: a bundle that throws at load is an app that cannot start. It
// did: `import.meta.url` was left as `{}.url` in CommonJS, and the report template's
// `new URL('../../assets/', import.meta.url)` threw "Invalid URL" before any window opened.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..', '..');
// two folders below the project root, as .vite/build/ is, so the bundle finds assets/ as it would
const outDir = join(root, '.vite', 'bundle-test');

afterAll(() => rmSync(outDir, { recursive: true, force: true }));

describe('the Electron main bundle', () => {
  it('builds, and loads without throwing', async () => {
    const { build, mergeConfig } = await import('vite');
    const user = (await import('../../../vite.main.config.mts')).default;
    await build(mergeConfig(user, {
      configFile: false,
      root,
      logLevel: 'error',
      build: {
        outDir,
        emptyOutDir: true,
        minify: true,
        copyPublicDir: false,
        lib: { entry: join(root, 'main', 'shell', 'main.ts'), formats: ['cjs'], fileName: () => '[name].cjs' },
        rollupOptions: { external: ['electron', 'electron/main', ...builtinModules, ...builtinModules.map((m) => `node:${m}`)] },
      },
      resolve: { conditions: ['node'], mainFields: ['module', 'jsnext:main', 'jsnext'] },
    }));
    const bundle = join(outDir, 'main.cjs');
    expect(existsSync(bundle)).toBe(true);
    expect(readFileSync(bundle, 'utf8')).not.toContain('{}.url');

    // Load it in a child Node with `electron` answered by a stand-in that records what the bundle
    // does at load and never becomes ready (so no window is attempted).
    const probe = `
      const Module = require('node:module');
      const calls = [];
      const stub = new Proxy({}, { get: (_, area) => new Proxy({}, { get: (_, fn) => (...args) => {
        calls.push(String(area) + '.' + String(fn));
        return fn === 'whenReady' ? new Promise(() => {}) : undefined;
      } }) });
      const load = Module._load;
      Module._load = function (request, ...rest) { return request === 'electron' ? stub : load.call(this, request, ...rest); };
      require(${JSON.stringify(bundle)});
      process.stdout.write(JSON.stringify(calls));
      process.exit(0);
    `;
    const out = execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8', cwd: root, timeout: 60_000 });
    const calls = JSON.parse(out) as string[];
    expect(calls).toContain('protocol.registerSchemesAsPrivileged');
    expect(calls).toContain('app.enableSandbox');
    expect(calls).toContain('app.whenReady');
  }, 180_000);
});
