import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

// One config for the Electron build and the headless host. Forge's output folder is relative to
// `root`, which is renderer/, so it is spelled out here as the shell expects it
// (.vite/renderer/main_window beside .vite/build); `npm run build:renderer` overrides it with
// --outDir dist (renderer/dist, served by the headless host). Relative base: the app is served from
// app:// and from the loopback host alike.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [svelte({ configFile: fileURLToPath(new URL('./svelte.config.mjs', import.meta.url)) })],
  build: {
    target: 'es2022', sourcemap: false, chunkSizeWarningLimit: 2000, emptyOutDir: true,
    outDir: fileURLToPath(new URL('../.vite/renderer/main_window', import.meta.url)),
  },
  server: { host: '127.0.0.1' },
});
