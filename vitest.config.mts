import { defineConfig } from 'vitest/config';

// Two projects: the unit tests, and the slow suites (they spawn and kill processes, or train models)
// that `npm test` runs last as a stage of their own (test/run-all.mjs), so a quick failure shows first
// and the slow ones do not compete with the rest for the machine's two cores.
const SLOW = [
  'test/unit/hardening/fuzz-harness.test.ts',   // runs the fuzz harness on planted faults
  'test/unit/generator/generator.test.ts',      // trains small LoRA fine-tunes (the generator's effect)
  'test/unit/generator/base-model-pretrain.test.ts', // re-pretrains the shipped base model (about a minute)
  'test/unit/studies/study-cli.test.ts',        // a whole reference study through the CLI (12 fine-tunes)
  'test/unit/cases/crash.test.ts',              // SIGKILL loops over case writes
  'test/unit/reference/cli-crash.test.ts',      // SIGKILL loops over reference imports
];

const shared = { pool: 'forks' as const, testTimeout: 120_000, hookTimeout: 120_000 };

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'], exclude: SLOW } },
      { test: { ...shared, name: 'slow', include: SLOW } },
    ],
  },
});
