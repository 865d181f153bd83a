import { defineConfig } from 'vite';

// Native and heavy modules stay outside the bundle and are loaded from node_modules at run time.
export default defineConfig({
  build: {
    rollupOptions: {
      external: ['sqlite3', '@duckdb/node-api', '@duckdb/node-bindings', 'gpu.js', 'webgpu', 'gl', 'playwright-core', 'ml-matrix', 'node-forge', 'tar'],
    },
  },
});
