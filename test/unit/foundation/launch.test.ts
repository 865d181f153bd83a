// The pieces of `npm start`: finding Electron's binary without triggering its download, where an
// offline zip goes, which browser opens the app and how, when the renderer needs a build, and that
// one stop ends every child it started.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { appWindowArgs, chooseBrowser } from '../../../main/launch/browser.ts';
import { Children } from '../../../main/launch/children.ts';
import { electronCacheRoot, findElectron, offlineZip } from '../../../main/launch/electron.ts';
import { rendererStale } from '../../../main/launch/renderer.ts';

const dir = mkdtempSync(join(tmpdir(), 'lora-audit-launch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fake project root with an electron package: path.txt and the binary only when asked for. */
function fakeRoot(name: string, opts: { pathTxt?: boolean; binary?: boolean }): string {
  const root = join(dir, name);
  const pkg = join(root, 'node_modules', 'electron');
  mkdirSync(join(pkg, 'dist'), { recursive: true });
  writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'electron', version: '45.5.0' }));
  // index.js downloads when the binary is missing: it must never be run
  writeFileSync(join(pkg, 'index.js'), 'throw new Error("index.js was loaded")');
  if (opts.pathTxt) writeFileSync(join(pkg, 'path.txt'), 'electron');
  if (opts.binary) writeFileSync(join(pkg, 'dist', 'electron'), '');
  return root;
}

describe('Electron binary', () => {
  it('is present only when path.txt names a binary that exists', () => {
    expect(findElectron(fakeRoot('none', {}), {})).toEqual({ present: false, why: 'its binary was never downloaded (node_modules/electron/path.txt is missing)' });
    const missing = fakeRoot('missing', { pathTxt: true });
    expect(findElectron(missing, {})).toEqual({ present: false, why: `its binary is missing (${join(missing, 'node_modules', 'electron', 'dist', 'electron')})` });
    const here = fakeRoot('here', { pathTxt: true, binary: true });
    expect(findElectron(here, {})).toEqual({ present: true, binary: join(here, 'node_modules', 'electron', 'dist', 'electron') });
    expect(findElectron(join(dir, 'no-package'), {})).toEqual({ present: false, why: 'the electron package is not installed' });
  });

  it('honours ELECTRON_OVERRIDE_DIST_PATH as the electron package does', () => {
    const here = fakeRoot('override', { pathTxt: true, binary: true });
    const empty = join(dir, 'empty-dist');
    mkdirSync(empty);
    expect(findElectron(here, { ELECTRON_OVERRIDE_DIST_PATH: empty })).toEqual({ present: false, why: `ELECTRON_OVERRIDE_DIST_PATH names no binary (${join(empty, 'electron')})` });
  });

  it('an offline zip goes into @electron/get\'s cache, in the folder named by the release URL\'s SHA-256', () => {
    const zip = offlineZip('45.5.0', { electron_config_cache: '/cache' });
    expect(zip.name).toBe(`electron-v45.5.0-${process.platform}-${process.arch}.zip`);
    expect(zip.flat).toBe(join('/cache', zip.name));
    // sha256("https://github.com/electron/electron/releases/download/v45.5.0"), as @electron/get's Cache computes it
    expect(zip.cached).toBe(join('/cache', '3b240e2bf8f7a3bdbf4436b08f324ce6cefbc1d217c9b8ec4db54ca8fa1ca8de', zip.name));
    expect(electronCacheRoot({ XDG_CACHE_HOME: '/xdg' }, 'linux')).toBe(join('/xdg', 'electron'));
  });
});

describe('browser', () => {
  it('LORA_AUDIT_BROWSER=none opens none; a path that is no executable is refused; an executable is used', () => {
    expect(chooseBrowser({ LORA_AUDIT_BROWSER: 'none' })).toEqual({ none: 'LORA_AUDIT_BROWSER=none' });
    expect(chooseBrowser({ LORA_AUDIT_BROWSER: join(dir, 'nope') })).toEqual({ none: `LORA_AUDIT_BROWSER names no executable (${join(dir, 'nope')})` });
    const fake = join(dir, 'fake-chromium');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    expect(chooseBrowser({ LORA_AUDIT_BROWSER: fake })).toEqual({ path: fake });
  });

  it.runIf(process.platform === 'linux')('finds a Chromium on PATH when there is a display, and none without one', () => {
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'chromium'), '#!/bin/sh\n');
    chmodSync(join(bin, 'chromium'), 0o755);
    expect(chooseBrowser({ PATH: bin, DISPLAY: ':0' })).toEqual({ path: join(bin, 'chromium') });
    expect(chooseBrowser({ PATH: bin })).toEqual({ none: 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' });
    expect(chooseBrowser({ PATH: join(dir, 'empty'), WAYLAND_DISPLAY: 'wayland-0' })).toEqual({ none: 'no Chromium, Chrome or Edge found (LORA_AUDIT_BROWSER=<path> names one)' });
  });

  it('opens an app window on the full URL with a profile of its own, the sandbox off only as root', () => {
    const url = 'http://127.0.0.1:4000/#token=abc';
    const args = appWindowArgs(url, '/data/browser/profile-x', false);
    expect(args).toContain(`--app=${url}`);
    expect(args).toContain('--user-data-dir=/data/browser/profile-x');
    expect(args).toContain('--disable-background-networking');
    expect(args).not.toContain('--no-sandbox');
    expect(appWindowArgs(url, '/p', true)).toContain('--no-sandbox');
  });
});

describe('renderer build', () => {
  it('is needed when renderer/dist is missing or older than a source, not otherwise', () => {
    const root = join(dir, 'project');
    mkdirSync(join(root, 'renderer', 'src'), { recursive: true });
    mkdirSync(join(root, 'main', 'api'), { recursive: true });
    writeFileSync(join(root, 'renderer', 'src', 'App.svelte'), '');
    writeFileSync(join(root, 'main', 'api', 'contract.ts'), '');
    writeFileSync(join(root, 'package-lock.json'), '{}');
    expect(rendererStale(root)).toBe('renderer/dist is missing');

    mkdirSync(join(root, 'renderer', 'dist'));
    writeFileSync(join(root, 'renderer', 'dist', 'index.html'), '');
    const old = new Date('2020-01-01T00:00:00Z');
    for (const p of ['renderer/src/App.svelte', 'renderer/src', 'renderer', 'main/api/contract.ts', 'main/api', 'package-lock.json']) utimesSync(join(root, p), old, old);
    utimesSync(join(root, 'renderer', 'dist'), old, old);
    expect(rendererStale(root)).toBeNull();

    utimesSync(join(root, 'main', 'api', 'contract.ts'), new Date(), new Date());
    expect(rendererStale(root)).toBe('main/api changed since renderer/dist was built');
  });
});

describe('children', () => {
  it('stopAll ends every child, SIGKILL for one that ignores SIGTERM, and resolves once they are gone', async () => {
    const children = new Children(200);
    const node = process.execPath;
    const polite = children.spawn('polite', node, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const stubborn = children.spawn('stubborn', node, ['-e', 'process.on("SIGTERM", () => {}); process.stdout.write("ready\\n"); setInterval(() => {}, 1000)'], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => stubborn.stdout!.once('data', resolve)); // its SIGTERM handler is installed
    const neverStarted = children.spawn('missing', join(dir, 'no-such-program'), [], { stdio: 'ignore' });
    neverStarted.on('error', () => undefined);
    await children.stopAll();
    expect(polite.signalCode).toBe('SIGTERM');
    expect(stubborn.signalCode).toBe('SIGKILL');
    for (const pid of [polite.pid!, stubborn.pid!]) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  });
});
