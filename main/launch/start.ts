// `npm start`: the app wherever it can run. With Electron's binary: the Electron app (electron-forge
// start). Without it (air-gapped labs, CI, a refused download): one line saying why and how to add
// it offline, then the same renderer served by the headless host and opened in the system's
// Chromium as an app window, or, with no browser, the URL for a person to open. Either way the data
// folder is the one every host shares (main/db/data-dir.ts). SIGINT/SIGTERM stop everything started.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appVersion } from '../cases/version.ts';
import { dataDir } from '../db/data-dir.ts';
import { appWindowArgs, chooseBrowser } from './browser.ts';
import { Children } from './children.ts';
import { electronVersion, findElectron, installFromCache, offlineZip } from './electron.ts';
import { buildRenderer, rendererStale } from './renderer.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const version = appVersion();
const data = dataDir();
const children = new Children();
const say = (line: string) => process.stdout.write(line + '\n');
const note = (line: string) => process.stderr.write(line + '\n');

let stopping: Promise<never> | null = null;
let profileDir: string | null = null;

/** Stops every child, removes the browser profile, exits with the first stop's code. */
function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    await children.stopAll();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
    process.exit(code);
  })();
  return stopping;
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

let electron = findElectron(root);
if (!electron.present) {
  // a release zip already in Electron's download cache installs without a network
  const failed = process.env.ELECTRON_OVERRIDE_DIST_PATH ? 'ELECTRON_OVERRIDE_DIST_PATH is set' : installFromCache(root, note);
  if (failed === null) electron = findElectron(root);
  else if (/install\.js/.test(failed)) note(`Electron from the cache: ${failed}`);
}
if (!electron.present) {
  const zip = offlineZip(electronVersion(root) ?? '0.0.0');
  note(`Electron's binary is not here: ${electron.why}. The app runs on the headless host instead. To add Electron offline, put ${zip.name} in ${dirname(zip.flat)} and run npm start again (README: "Without the Electron binary").`);
}

if (electron.present) {
  say(`LoRA Auditor ${version} — Electron app (electron-forge start) — data: ${data}`);
  const forge = join(root, 'node_modules', '@electron-forge', 'cli', 'dist', 'electron-forge.js');
  const child = children.spawn('electron-forge', process.execPath, [forge, 'start', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
  child.once('exit', (code) => void stop(code ?? 1));
} else {
  await startInBrowser();
}

async function startInBrowser(): Promise<void> {
  const stale = rendererStale(root);
  if (stale) {
    note(`building the renderer (${stale})`);
    await buildRenderer(root, children).catch((e: Error) => { note(`LoRA Auditor: ${e.message}`); return stop(1); });
  }
  if (stopping) return;
  mkdirSync(data, { recursive: true });
  const host = children.spawn('headless host', process.execPath, [join(root, 'main', 'host', 'start.ts'), '--data-dir', data], {
    cwd: root, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ready = await new Promise<{ url: string } | null>((resolve) => {
    const lines = createInterface({ input: host.stdout! });
    lines.once('line', (line) => {
      try {
        const info = JSON.parse(line) as { url?: unknown };
        resolve(typeof info.url === 'string' && info.url.startsWith('http://127.0.0.1:') ? { url: info.url } : null);
      } catch {
        resolve(null);
      }
    });
    host.once('exit', () => resolve(null));
  });
  if (!ready) {
    note('LoRA Auditor: the headless host did not start (its error is above)');
    return void stop(1);
  }
  host.once('exit', (code) => { if (!stopping) { note(`LoRA Auditor: the headless host stopped (exit ${code})`); void stop(1); } });

  const browser = chooseBrowser();
  if ('path' in browser) {
    say(`LoRA Auditor ${version} — in ${browser.path} as an app window, served by the headless host — data: ${data}`);
    say(`open ${ready.url}`);
    if (process.getuid?.() === 0) note('running as root: the browser starts without its sandbox (run as a normal user to keep it)');
    mkdirSync(join(data, 'browser'), { recursive: true });
    profileDir = mkdtempSync(join(data, 'browser', 'profile-'));
    const window = children.spawn('browser', browser.path, appWindowArgs(ready.url, profileDir), { stdio: 'ignore' });
    window.once('error', (e) => note(`LoRA Auditor: could not start ${browser.path} (${e.message}); open the URL above in a browser`));
    // Closing the app window ends the session; a browser that fails leaves the host for the URL above.
    window.once('exit', (code) => {
      if (stopping) return;
      if (code === 0) void stop(0);
      else note(`LoRA Auditor: the browser exited (${code ?? 'killed'}); the host keeps running: open the URL above, Ctrl-C to stop`);
    });
  } else {
    say(`LoRA Auditor ${version} — headless host, no browser started (${browser.none}) — data: ${data}`);
    say(`open ${ready.url}`);
  }
  note('Ctrl-C stops it.');
}
