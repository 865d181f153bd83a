import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.ts$/,
  outputDir: '../../test-results/electron-artifacts',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
});
