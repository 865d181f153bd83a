// The Electron shell's security settings, checked by running main/shell/main.ts against a recording
// stand-in for the electron module (the real one needs a binary this machine cannot download):
// the window options it creates, the session handlers it installs, and what they answer.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

type Handler = (...args: unknown[]) => unknown;
const rec = vi.hoisted(() => ({
  windows: [] as { options: Record<string, unknown>; loaded: string[] }[],
  appHandlers: new Map<string, Handler[]>(),
  beforeRequest: null as Handler | null,
  permissionRequest: null as Handler | null,
  permissionCheck: null as Handler | null,
  sessionEvents: new Map<string, Handler>(),
  protocolHandler: null as Handler | null,
  privileged: [] as unknown[],
  ipc: new Map<string, Handler>(),
  sandboxEnabled: false,
  userData: '',
}));

vi.mock('electron', () => {
  class BrowserWindow {
    webContents = { isDestroyed: () => false, send: () => undefined };
    private entry: { options: Record<string, unknown>; loaded: string[] };
    constructor(options: Record<string, unknown>) { this.entry = { options, loaded: [] }; rec.windows.push(this.entry); }
    once() { return this; }
    show() {}
    async loadURL(url: string) { this.entry.loaded.push(url); }
    static getFocusedWindow() { return null; }
  }
  const on = (event: string, h: Handler) => { rec.appHandlers.set(event, [...(rec.appHandlers.get(event) ?? []), h]); };
  return {
    app: {
      on, enableSandbox: () => { rec.sandboxEnabled = true; }, whenReady: () => Promise.resolve(),
      getPath: () => rec.userData, getVersion: () => '0.0.0-test', isPackaged: true, quit: () => undefined,
    },
    BrowserWindow,
    ipcMain: { handle: (channel: string, h: Handler) => rec.ipc.set(channel, h) },
    protocol: {
      registerSchemesAsPrivileged: (s: unknown[]) => rec.privileged.push(...s),
      handle: (_scheme: string, h: Handler) => { rec.protocolHandler = h; },
    },
    session: {
      defaultSession: {
        webRequest: { onBeforeRequest: (h: Handler) => { rec.beforeRequest = h; } },
        setPermissionRequestHandler: (h: Handler) => { rec.permissionRequest = h; },
        setPermissionCheckHandler: (h: Handler) => { rec.permissionCheck = h; },
        on: (event: string, h: Handler) => rec.sessionEvents.set(event, h),
      },
    },
    dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showSaveDialog: async () => ({ canceled: true }) },
    Menu: { buildFromTemplate: (t: unknown) => t, setApplicationMenu: () => undefined },
    net: { fetch: async (url: string) => new Response(`served ${url}`, { status: 200, headers: { 'content-type': 'text/html' } }) },
  };
});

const here = mkdtempSync(join(tmpdir(), 'lora-audit-shell-'));

beforeAll(async () => {
  rec.userData = join(here, 'userData');
  const build = join(here, '.vite', 'build');
  mkdirSync(join(here, '.vite', 'renderer', 'main_window'), { recursive: true });
  writeFileSync(join(here, '.vite', 'renderer', 'main_window', 'index.html'), '<!doctype html>');
  Object.assign(globalThis, { __dirname: build, MAIN_WINDOW_VITE_NAME: 'main_window', MAIN_WINDOW_VITE_DEV_SERVER_URL: undefined });
  await import('../../../main/shell/main.ts');
  await vi.waitFor(() => expect(rec.windows.length).toBe(1), { timeout: 30_000, interval: 50 });
  await vi.waitFor(() => expect(rec.windows[0].loaded.length).toBe(1), { timeout: 30_000, interval: 50 });
});

afterAll(() => rmSync(here, { recursive: true, force: true }));

describe('Electron shell', () => {
  it('creates the window isolated and sandboxed, without Node, with the bundled preload', () => {
    const prefs = rec.windows[0].options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(String(prefs.preload)).toMatch(/preload\.cjs$/);
    expect(rec.sandboxEnabled).toBe(true);
  });

  it('serves the app from its own app:// origin, not file://', () => {
    expect(rec.windows[0].loaded[0]).toBe('app://lora-auditor/index.html');
    expect(rec.privileged).toEqual([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
  });

  it('refuses every network request that is not the app itself', () => {
    const answer = (url: string) => {
      let result: unknown;
      rec.beforeRequest!({ url }, (r: unknown) => { result = r; });
      return result;
    };
    expect(answer('app://lora-auditor/assets/index.js')).toEqual({ cancel: false });
    for (const url of ['https://huggingface.co/x', 'http://127.0.0.1:8080/', 'ws://example.org/', 'file:///etc/passwd', 'ftp://x/y']) {
      expect(answer(url), url).toEqual({ cancel: true });
    }
  });

  it('denies every permission request and blocks downloads', () => {
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal']) {
      let granted: unknown;
      rec.permissionRequest!({}, p, (g: unknown) => { granted = g; });
      expect(granted, p).toBe(false);
      expect(rec.permissionCheck!({}, p)).toBe(false);
    }
    const event = { prevented: false, preventDefault() { this.prevented = true; } };
    rec.sessionEvents.get('will-download')!(event);
    expect(event.prevented).toBe(true);
  });

  it('refuses navigation away from the app and every new window', () => {
    const listeners = new Map<string, Handler>();
    let openHandler: Handler | null = null;
    const contents = { on: (e: string, h: Handler) => listeners.set(e, h), setWindowOpenHandler: (h: Handler) => { openHandler = h; } };
    for (const h of rec.appHandlers.get('web-contents-created') ?? []) h({}, contents);
    const navigate = (url: string) => {
      const event = { prevented: false, preventDefault() { this.prevented = true; } };
      listeners.get('will-navigate')!(event, url);
      return event.prevented;
    };
    expect(navigate('https://example.org/phish')).toBe(true);
    expect(navigate('file:///home/examiner/evidence.safetensors')).toBe(true);
    expect(navigate('app://lora-auditor/index.html')).toBe(false);
    expect(openHandler!({ url: 'https://example.org' })).toEqual({ action: 'deny' });
  });

  it('serves renderer files with the strict CSP and refuses paths outside the renderer', async () => {
    const ok = (await rec.protocolHandler!(new Request('app://lora-auditor/index.html'))) as Response;
    expect(ok.status).toBe(200);
    const csp = ok.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    expect(csp).toContain("object-src 'none'");
    const other = (await rec.protocolHandler!(new Request('app://someone-else/index.html'))) as Response;
    expect(other.status).toBe(403);
  });

  it('answers the contract over IPC to its own page only', async () => {
    const invoke = rec.ipc.get('lora-audit:invoke')!;
    const frame = (url: string) => ({ senderFrame: { url }, sender: { isDestroyed: () => false, send: () => undefined } });
    const foreign = (await invoke(frame('https://evil.example/'), { channel: 'cases.list', request: {} })) as { ok: boolean; error: { code: string } };
    expect(foreign).toMatchObject({ ok: false, error: { code: 'UNAUTHORIZED' } });
    const mine = (await invoke(frame('app://lora-auditor/index.html'), { channel: 'cases.list', request: {} })) as { ok: boolean; value: unknown };
    expect(mine).toEqual({ ok: true, value: [] });
    const unknown = (await invoke(frame('app://lora-auditor/index.html'), { channel: 'fs.readFile', request: { path: '/etc/passwd' } })) as { ok: boolean; error: { code: string } };
    expect(unknown).toMatchObject({ ok: false, error: { code: 'BAD_REQUEST' } });
  });
});
