// The one test command (`npm test`, run by .ci/run): type-check, unit tests, the renderer build, the
// Chromium end-to-end tests against the headless host, the Electron end-to-end tests (skipped with
// their reason where no Electron binary exists), the slow unit suites (vitest.config.mts) and a short fuzz pass. Every stage runs; the exit
// code is non-zero when any failed. The last line counts tests: "N passed, N failed, N skipped".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'test-results');
mkdirSync(results, { recursive: true });
const only = process.argv.slice(2);

const stages = [
  { name: 'typecheck', cmd: ['npm', 'run', '--silent', 'typecheck'] },
  { name: 'unit', cmd: ['npx', 'vitest', 'run', '--project', 'unit', '--reporter=default', '--reporter=json', `--outputFile=${join(results, 'vitest.json')}`], count: () => vitestCounts(join(results, 'vitest.json')) },
  { name: 'renderer build', cmd: ['npm', 'run', '--silent', 'build:renderer'] },
  { name: 'e2e (Chromium + headless host)', cmd: ['npx', 'playwright', 'test', '-c', 'test/e2e/playwright.config.ts', '--reporter=list,json'], env: { PLAYWRIGHT_JSON_OUTPUT_NAME: join(results, 'e2e.json') }, count: () => playwrightCounts(join(results, 'e2e.json')) },
  { name: 'e2e (Electron)', cmd: ['npx', 'playwright', 'test', '-c', 'test/electron/playwright.config.ts', '--reporter=list,json'], env: { PLAYWRIGHT_JSON_OUTPUT_NAME: join(results, 'electron.json') }, count: () => playwrightCounts(join(results, 'electron.json')) },
  // the slow suites (process kills, training, the fuzz harness's self-test) after everything else
  { name: 'unit (slow suites)', cmd: ['npx', 'vitest', 'run', '--project', 'slow', '--reporter=default', '--reporter=json', `--outputFile=${join(results, 'vitest-slow.json')}`], count: () => vitestCounts(join(results, 'vitest-slow.json')) },
  { name: 'fuzz (short)', cmd: ['npm', 'run', '--silent', 'fuzz', '--', '--seconds', '60'], optionalScript: 'test/fuzz/run.mjs' },
];

const totals = { passed: 0, failed: 0, skipped: 0 };
const summary = [];
for (const stage of stages) {
  if (only.length && !only.some((o) => stage.name.startsWith(o))) continue;
  if (stage.optionalScript && !existsSync(join(root, stage.optionalScript))) continue;
  process.stdout.write(`\n=== ${stage.name}: ${stage.cmd.join(' ')}\n`);
  const started = Date.now();
  const r = spawnSync(stage.cmd[0], stage.cmd.slice(1), { cwd: root, stdio: 'inherit', env: { ...process.env, ...stage.env } });
  const ok = r.status === 0;
  const counts = stage.count?.() ?? { passed: ok ? 1 : 0, failed: ok ? 0 : 1, skipped: 0 };
  if (!ok && counts.failed === 0) counts.failed = 1; // a stage that crashed before counting still fails
  totals.passed += counts.passed; totals.failed += counts.failed; totals.skipped += counts.skipped;
  summary.push(`${ok ? 'ok  ' : 'FAIL'} ${stage.name} (${((Date.now() - started) / 1000).toFixed(0)} s): ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
}

process.stdout.write(`\n=== summary\n${summary.join('\n')}\n\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(totals.failed > 0 ? 1 : 0);

function vitestCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0 };
  const j = JSON.parse(readFileSync(file, 'utf8'));
  return { passed: j.numPassedTests ?? 0, failed: (j.numFailedTests ?? 0) || (j.numFailedTestSuites ?? 0), skipped: (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0) };
}

function playwrightCounts(file) {
  if (!existsSync(file)) return { passed: 0, failed: 1, skipped: 0 };
  const s = JSON.parse(readFileSync(file, 'utf8')).stats ?? {};
  return { passed: (s.expected ?? 0) + (s.flaky ?? 0), failed: s.unexpected ?? 0, skipped: s.skipped ?? 0 };
}
