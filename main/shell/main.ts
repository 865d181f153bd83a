// The Electron main process: the only place (with preload.ts and its siblings) that imports
// electron. Everything it does beyond windows, menus, dialogs, IPC and printing is delegated to the
// plain-Node services in main/services.
import { app, BrowserWindow, ipcMain, protocol, session, dialog, Menu, net } from 'electron';
import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { IPC_INVOKE, IPC_PROGRESS, type ProgressEvent } from '../api/contract.ts';
import { createServices } from '../services/create.ts';
import { dispatch } from '../services/dispatch.ts';
import { buildMenu } from './menu.ts';
import { electronPdfRenderer } from './print.ts';
import {
  APP_HOST, APP_ORIGIN, APP_SCHEME, CONTENT_SECURITY_POLICY, isAllowedNavigation, isAllowedRequest,
  isPermissionGranted, webPreferences,
} from './policy.ts';

declare const MAIN_WINDOW_VITE_DEV_SERVER_URL: string | undefined;
declare const MAIN_WINDOW_VITE_NAME: string;

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

const rendererRoot = () => normalize(join(__dirname, `../renderer/${MAIN_WINDOW_VITE_NAME}`));

function hardenSession(): void {
  const ses = session.defaultSession;
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
  ses.setPermissionRequestHandler((_wc, permission, callback) => callback(isPermissionGranted(permission)));
  ses.setPermissionCheckHandler((_wc, permission) => isPermissionGranted(permission));
  ses.on('will-download', (event) => event.preventDefault());
}

function serveRenderer(): void {
  protocol.handle(APP_SCHEME, async (request) => {
    const url = new URL(request.url);
    const root = rendererRoot();
    const file = normalize(join(root, url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname)));
    if (url.host !== APP_HOST || !file.startsWith(root + sep)) return new Response('forbidden', { status: 403 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(response.body, { status: response.status, headers });
  });
}

app.on('web-contents-created', (_event, contents) => {
  contents.on('will-navigate', (event, url) => { if (!isAllowedNavigation(url)) event.preventDefault(); });
  contents.on('will-redirect', (event, url) => { if (!isAllowedNavigation(url)) event.preventDefault(); });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
});

async function createWindow(): Promise<void> {
  const services = await createServices({
    host: 'electron',
    // LORA_AUDIT_HOME first, as main/db/data-dir.ts resolves it for the CLI and `npm start`'s browser host
    dataDir: process.env.LORA_AUDIT_HOME || app.getPath('userData'),
    appVersion: app.getVersion(),
    renderPdf: electronPdfRenderer,
    openFiles: async (req) => {
      const win = BrowserWindow.getFocusedWindow();
      const properties: ('openFile' | 'openDirectory' | 'multiSelections')[] = [req.directories ? 'openDirectory' : 'openFile'];
      if (req.multiple !== false) properties.push('multiSelections');
      const options = { title: req.title, properties, filters: req.filters };
      const result = win ? await dialog.showOpenDialog(win, options) : await dialog.showOpenDialog(options);
      return result.canceled ? [] : result.filePaths;
    },
    saveFile: async (req) => {
      const win = BrowserWindow.getFocusedWindow();
      const options = { title: req.title, defaultPath: req.defaultName, filters: req.filters };
      const result = win ? await dialog.showSaveDialog(win, options) : await dialog.showSaveDialog(options);
      return result.canceled || !result.filePath ? null : result.filePath;
    },
  });

  const win = new BrowserWindow({
    width: 1280,
    height: 860,
    title: 'LoRA Auditor',
    show: false,
    webPreferences: webPreferences(join(__dirname, 'preload.cjs')),
  });

  ipcMain.handle(IPC_INVOKE, async (event, message: { channel: string; request: unknown; jobId?: string }) => {
    // Only our own page may call in: a frame from anywhere else gets nothing.
    if (!event.senderFrame || !event.senderFrame.url.startsWith(`${APP_ORIGIN}/`)) {
      return { ok: false, error: { code: 'UNAUTHORIZED', message: 'caller is not the app' } };
    }
    const emit = (e: ProgressEvent) => { if (!event.sender.isDestroyed()) event.sender.send(IPC_PROGRESS, e); };
    return dispatch(services.handlers, services.jobs, message?.channel, message?.request, message?.jobId, emit);
  });

  Menu.setApplicationMenu(buildMenu(win));
  win.once('ready-to-show', () => win.show());
  if (MAIN_WINDOW_VITE_DEV_SERVER_URL && !app.isPackaged) await win.loadURL(MAIN_WINDOW_VITE_DEV_SERVER_URL);
  else await win.loadURL(`${APP_ORIGIN}/index.html`);
  app.on('before-quit', () => { void services.close(); });
}

app.enableSandbox();
app.whenReady().then(async () => {
  hardenSession();
  serveRenderer();
  await createWindow();
});

app.on('window-all-closed', () => app.quit());
