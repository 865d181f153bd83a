import { defineConfig } from 'vite';

// Native and heavy modules stay outside the bundle and are loaded from node_modules at run time
// (forge.config.ts copies them, with their dependencies, into the package).
export default defineConfig({
  build: {
    rollupOptions: {
      external: [/^sqlite3/, /^@duckdb\//, 'gpu.js', 'webgpu', 'gl', /^playwright-core/, 'ml-matrix', 'node-forge', /^tar(\/|$)/, /^@tensorflow\//],
    },
  },
});
