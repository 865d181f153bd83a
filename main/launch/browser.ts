// The system's Chromium-family browser, to show the headless host's page as an app window
// (`--app=URL`: no tabs, no address bar) with a profile of its own, so it neither touches the
// person's browsing profile nor hands the URL to a browser already running.
import { accessSync, constants, existsSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export type BrowserChoice = { path: string } | { none: string };

const LINUX_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'microsoft-edge', 'brave-browser'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function platformCandidates(env: NodeJS.ProcessEnv): string[] {
  if (process.platform === 'darwin') {
    return ['Google Chrome', 'Chromium', 'Microsoft Edge', 'Brave Browser'].map((app) => `/Applications/${app}.app/Contents/MacOS/${app}`);
  }
  if (process.platform === 'win32') {
    const roots = [env.ProgramFiles, env['ProgramFiles(x86)'], env.LOCALAPPDATA].filter((r): r is string => !!r);
    return roots.flatMap((r) => [join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'), join(r, 'Microsoft', 'Edge', 'Application', 'msedge.exe')]);
  }
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  return LINUX_NAMES.flatMap((name) => dirs.map((d) => join(d, name)));
}

/** LORA_AUDIT_BROWSER: "none" (print the URL only) or a browser's path; else the first Chromium-family browser found. */
export function chooseBrowser(env: NodeJS.ProcessEnv = process.env): BrowserChoice {
  const asked = env.LORA_AUDIT_BROWSER;
  if (asked === 'none') return { none: 'LORA_AUDIT_BROWSER=none' };
  if (asked) {
    return isAbsolute(asked) && existsSync(asked) && executable(asked) ? { path: asked } : { none: `LORA_AUDIT_BROWSER names no executable (${asked})` };
  }
  if (process.platform === 'linux' && !env.DISPLAY && !env.WAYLAND_DISPLAY) return { none: 'no display (neither DISPLAY nor WAYLAND_DISPLAY is set)' };
  const found = platformCandidates(env).find((p) => existsSync(p) && executable(p));
  return found ? { path: found } : { none: 'no Chromium, Chrome or Edge found (LORA_AUDIT_BROWSER=<path> names one)' };
}

/** Arguments for an app window on `url` with its own profile; nothing that reaches the network on its own. */
export function appWindowArgs(url: string, profileDir: string, isRoot = process.getuid?.() === 0): string[] {
  return [
    `--app=${url}`,
    `--user-data-dir=${profileDir}`,
    '--no-first-run', '--no-default-browser-check', '--disable-default-apps',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-features=Translate,MediaRouter,OptimizationHints',
    '--window-size=1280,860',
    // Chromium will not start as root with its sandbox on. Without it a renderer exploit runs as
    // root; the launcher says so, and a normal user account avoids it.
    ...(isRoot ? ['--no-sandbox'] : []),
  ];
}
