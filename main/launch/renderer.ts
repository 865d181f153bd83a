// The headless host serves renderer/dist, which `npm run build:renderer` makes. The launcher builds
// it when it is missing or older than anything it is built from.
import { existsSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Children } from './children.ts';

/** What the renderer bundle is built from: its sources and config, the contract it types against, the locked dependencies. */
export const RENDERER_INPUTS = ['renderer', 'main/api', 'package-lock.json'];

function newestMtime(path: string, skip: Set<string>): number {
  let st;
  try {
    st = lstatSync(path); // a symlinked folder is not descended (no loops)
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const name of readdirSync(path)) {
    const child = join(path, name);
    if (skip.has(child) || name === 'node_modules') continue;
    newest = Math.max(newest, newestMtime(child, skip));
  }
  return newest;
}

/** Why renderer/dist must be (re)built, or null when it is current. */
export function rendererStale(root: string): string | null {
  const index = join(root, 'renderer', 'dist', 'index.html');
  if (!existsSync(index)) return 'renderer/dist is missing';
  const built = statSync(index).mtimeMs;
  const skip = new Set([join(root, 'renderer', 'dist')]);
  const changed = RENDERER_INPUTS.find((p) => newestMtime(join(root, p), skip) > built);
  return changed ? `${changed} changed since renderer/dist was built` : null;
}

/** Runs `npm run build:renderer` (the one definition of the build), its output shown. */
export async function buildRenderer(root: string, children: Children): Promise<void> {
  const npmCli = process.env.npm_execpath;
  const [cmd, args] = npmCli && /\.c?js$/.test(npmCli)
    ? [process.execPath, [npmCli, 'run', '--silent', 'build:renderer']]
    : [process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', '--silent', 'build:renderer']];
  const child = children.spawn('renderer build', cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], shell: process.platform === 'win32' });
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (code !== 0) throw new Error(`npm run build:renderer failed (exit ${code})`);
}
