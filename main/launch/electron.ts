// Is Electron's binary here, and if not, can it be added without a network? The electron package's
// own index.js answers the first question by downloading when the answer is no, so it is never
// imported here: its path.txt and dist/ are read the way index.js reads them. The second: the
// package's install.js extracts a release zip from @electron/get's cache, checked against the
// checksums the package ships, with no network when the zip is there.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type ElectronState = { present: true; binary: string } | { present: false; why: string };

function electronDir(root: string): string {
  return join(root, 'node_modules', 'electron');
}

export function electronVersion(root: string): string | null {
  try {
    const v = (JSON.parse(readFileSync(join(electronDir(root), 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' && /^\d+\.\d+\.\d+/.test(v) ? v : null;
  } catch {
    return null;
  }
}

/** The binary electron-forge would start, as node_modules/electron/index.js finds it (ELECTRON_OVERRIDE_DIST_PATH honoured), without its download. */
export function findElectron(root: string, env: NodeJS.ProcessEnv = process.env): ElectronState {
  const dir = electronDir(root);
  if (!electronVersion(root)) return { present: false, why: 'the electron package is not installed' };
  const pathFile = join(dir, 'path.txt');
  const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const binary = join(env.ELECTRON_OVERRIDE_DIST_PATH, rel || 'electron');
    return existsSync(binary) ? { present: true, binary } : { present: false, why: `ELECTRON_OVERRIDE_DIST_PATH names no binary (${binary})` };
  }
  if (!rel) return { present: false, why: 'its binary was never downloaded (node_modules/electron/path.txt is missing)' };
  const binary = join(dir, 'dist', rel);
  return existsSync(binary) ? { present: true, binary } : { present: false, why: `its binary is missing (${binary})` };
}

/** @electron/get's cache folder (env-paths' cache for "electron", or electron_config_cache). */
export function electronCacheRoot(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (env.electron_config_cache) return env.electron_config_cache;
  const home = homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'electron');
  if (platform === 'win32') return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'electron', 'Cache');
  return join(env.XDG_CACHE_HOME ?? join(home, '.cache'), 'electron');
}

export interface OfflineZip {
  /** The release zip's file name, e.g. electron-v45.5.0-linux-x64.zip. */
  name: string;
  /** Where a person may drop it: the cache folder itself. */
  flat: string;
  /** Where @electron/get looks: a folder named by the SHA-256 of the release's URL. */
  cached: string;
}

export function offlineZip(version: string, env: NodeJS.ProcessEnv = process.env): OfflineZip {
  const name = `electron-v${version}-${process.platform}-${process.arch}.zip`;
  const root = electronCacheRoot(env);
  const urlFolder = createHash('sha256').update(`https://github.com/electron/electron/releases/download/v${version}`).digest('hex');
  return { name, flat: join(root, name), cached: join(root, urlFolder, name) };
}

/** Installs the binary from a zip already in the cache (either place); returns why not, or null when installed. */
export function installFromCache(root: string, log: (line: string) => void): string | null {
  const version = electronVersion(root);
  if (!version) return 'the electron package is not installed';
  const zip = offlineZip(version);
  if (!existsSync(zip.cached)) {
    if (!existsSync(zip.flat)) return `no ${zip.name} in ${electronCacheRoot()}`;
    mkdirSync(join(zip.cached, '..'), { recursive: true });
    copyFileSync(zip.flat, zip.cached);
  }
  log(`installing Electron ${version} from ${zip.cached} (checked against the package's checksums; no network)`);
  const r = spawnSync(process.execPath, [join(electronDir(root), 'install.js')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) return `node_modules/electron/install.js failed (exit ${r.status ?? r.signal})`;
  const state = findElectron(root);
  return state.present ? null : state.why;
}
