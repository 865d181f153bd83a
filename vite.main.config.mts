import { defineConfig } from 'vite';

// Native and heavy modules stay outside the bundle and are loaded from node_modules at run time
// (forge.config.ts copies them, with their dependencies, into the package).
//
// The bundle is CommonJS, where `import.meta` does not exist: left alone, `import.meta.url` became
// `{}.url` (undefined) and `new URL('../../assets/', import.meta.url)` threw at load, so the app
// could not start. It is defined as the bundle file's own URL; main/assets.ts then finds the assets
// from there (development) or from the packaged app's resources.
export default defineConfig({
  define: {
    'import.meta.url': 'require("node:url").pathToFileURL(__filename).href',
  },
  build: {
    rollupOptions: {
      external: [/^sqlite3/, /^@duckdb\//, 'gpu.js', 'webgpu', 'gl', /^playwright-core/, 'ml-matrix', 'node-forge', /^tar(\/|$)/, /^@tensorflow\//],
    },
  },
});
