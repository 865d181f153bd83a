// Reports in the app are printed by Electron's own Chromium (printToPDF), from the same HTML
// template the CLI and the headless host print with Playwright's page.pdf().
import { BrowserWindow } from 'electron';

export async function electronPdfRenderer(html: string): Promise<Uint8Array> {
  const win = new BrowserWindow({ show: false, webPreferences: { sandbox: true, contextIsolation: true, nodeIntegration: false, javascript: true } });
  try {
    await win.loadURL(`data:text/html;base64,${Buffer.from(html, 'utf8').toString('base64')}`);
    // The template signals when its charts are drawn.
    await win.webContents.executeJavaScript('window.__reportReady ?? Promise.resolve()', true);
    const pdf = await win.webContents.printToPDF({ pageSize: 'A4', printBackground: true, displayHeaderFooter: true,
      headerTemplate: '<span></span>', footerTemplate: '<div style="font-size:8px;width:100%;text-align:center"><span class="pageNumber"></span> / <span class="totalPages"></span></div>' });
    return new Uint8Array(pdf);
  } finally {
    win.destroy();
  }
}
