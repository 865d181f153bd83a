// Reports in the app are printed by Electron's own Chromium (printToPDF), from the same HTML
// template and print setup the CLI and the headless host use with Playwright's page.pdf(). The page
// is loaded from a temporary file (a data: URL of a 2 MB page is slow and size-limited), in its own
// offline session, and printed once it says its charts are drawn.
import { BrowserWindow, session } from 'electron';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PRINT_SETUP, READY_FLAG } from '../api/print.ts';

const MM_PER_INCH = 25.4;
const inches = (mm: string) => Number.parseFloat(mm) / MM_PER_INCH;

export async function electronPdfRenderer(html: string): Promise<Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'lora-audit-report-'));
  const file = join(dir, 'report.html');
  writeFileSync(file, html);
  const page = pathToFileURL(file).toString();
  const ses = session.fromPartition('lora-audit-report-printing', { cache: false });
  ses.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !(details.url === page || details.url.startsWith('data:')) }));
  const win = new BrowserWindow({ show: false, webPreferences: { session: ses, sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: true } });
  try {
    await win.loadURL(page);
    await win.webContents.executeJavaScript(`new Promise((resolve, reject) => {
      const started = Date.now();
      const poll = () => window.${READY_FLAG} === true ? resolve(true) : Date.now() - started > 30000 ? reject(new Error('charts did not finish')) : setTimeout(poll, 50);
      poll();
    })`, true);
    const m = PRINT_SETUP.margin;
    const pdf = await win.webContents.printToPDF({
      pageSize: PRINT_SETUP.format, printBackground: true, displayHeaderFooter: true, preferCSSPageSize: true,
      headerTemplate: PRINT_SETUP.headerTemplate, footerTemplate: PRINT_SETUP.footerTemplate,
      margins: { top: inches(m.top), bottom: inches(m.bottom), left: inches(m.left), right: inches(m.right) },
    });
    return new Uint8Array(pdf);
  } finally {
    win.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
