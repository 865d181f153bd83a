// Electron Forge 8 with the Vite plugin: main and preload are bundled from main/shell/ into
// .vite/build/{main,preload}.cjs, the renderer from renderer/ (its own vite config).
import type { ForgeConfig } from '@electron-forge/shared-types';
import { VitePlugin } from '@electron-forge/plugin-vite';
import { MakerZIP } from '@electron-forge/maker-zip';
import { MakerDeb } from '@electron-forge/maker-deb';

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
