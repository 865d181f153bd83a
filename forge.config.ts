// Electron Forge 8 with the Vite plugin: main and preload are bundled from main/shell/ into
// .vite/build/{main,preload}.cjs, the renderer from renderer/ (its own vite config).
import type { ForgeConfig } from '@electron-forge/shared-types';
import { VitePlugin } from '@electron-forge/plugin-vite';
import { MakerZIP } from '@electron-forge/maker-zip';
import { MakerDeb } from '@electron-forge/maker-deb';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// Modules the main bundle leaves external (see vite.main.config.mts): native addons and large
// libraries loaded at run time. The Vite plugin packages only .vite/, so they and everything they
// depend on are copied into the package's node_modules after the copy step.
const EXTERNAL = ['sqlite3', '@duckdb/node-api', 'gpu.js', 'webgpu', 'playwright-core', 'ml-matrix', 'node-forge', 'tar',
  // the built-in trainer of reference studies (main/generator via main/studies/run.ts)
  '@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-cpu'];

function dependencyClosure(names: string[], root = process.cwd()): Set<string> {
  const seen = new Set<string>();
  const queue = [...names];
  while (queue.length > 0) {
    const name = queue.pop()!;
    const manifest = join(root, 'node_modules', name, 'package.json');
    if (seen.has(name) || !existsSync(manifest)) continue;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> };
    queue.push(...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.optionalDependencies ?? {}));
  }
  return seen;
}

const config: ForgeConfig = {
  packagerConfig: {
    name: 'LoRA Auditor',
    executableName: 'lora-auditor',
    asar: { unpack: '**/{*.node,*.wasm}' },
    extraResource: ['assets'],
  },
  rebuildConfig: { onlyModules: [] }, // sqlite3 and DuckDB are N-API: no rebuild for Electron's ABI
  makers: [
    new MakerZIP({}, ['linux', 'darwin', 'win32']),
    new MakerDeb({ options: { name: 'lora-auditor', productName: 'LoRA Auditor', categories: ['Utility'] } }),
  ],
  hooks: {
    packageAfterCopy: async (_config, buildPath) => {
      for (const name of dependencyClosure(EXTERNAL)) {
        cpSync(join(process.cwd(), 'node_modules', name), join(buildPath, 'node_modules', name), { recursive: true, dereference: true });
      }
    },
  },
  plugins: [
    new VitePlugin({
      build: [
        { entry: 'main/shell/main.ts', config: 'vite.main.config.mts', target: 'main' },
        { entry: 'main/shell/preload.ts', config: 'vite.preload.config.mts', target: 'preload' },
      ],
      renderer: [{ name: 'main_window', config: 'renderer/vite.config.mts' }],
    }),
  ],
};

export default config;
