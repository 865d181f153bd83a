// HTML → PDF. Rendering stays behind one function type: the CLI and the headless host print with
// Playwright in Debian's Chromium; the Electron shell supplies printToPDF over the same HTML.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { AuditError } from '../errors.ts';
import { PRINT_SETUP, READY_FLAG } from '../api/print.ts';
import { FONTS_URL } from './template.ts';

export type PdfRenderer = (html: string) => Promise<Uint8Array>;

export interface ChromiumRenderer {
  render: PdfRenderer;
  close(): Promise<void>;
}

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';


const READY_TIMEOUT_MS = 30_000;

/** One browser for many reports; every render is a fresh, offline page. Close it when done. */
export async function chromiumRenderer(executablePath = process.env.LORA_AUDIT_CHROMIUM || DEFAULT_CHROMIUM): Promise<ChromiumRenderer> {
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-extensions', '--disable-sync'],
    });
  } catch (err) {
    throw new AuditError('RENDER_FAILED', `cannot start Chromium to print the report (${(err as Error).message.split('\n')[0]}); ` +
      'install chromium or point LORA_AUDIT_CHROMIUM at a Chromium binary', executablePath);
  }
  const render: PdfRenderer = async (html) => {
    // Loaded from a private temporary file rather than page.setContent: Chromium took the 2.6 MB
    // self-contained page in 4.9 s from a file against 9.8 s through setContent, same browser, same
    // load (profiled; see docs/BENCHMARKS.md, reports section), and a file page may use the bundled fonts by file:
    // URL (RenderOptions.fontBase).
    const dir = await mkdtemp(join(tmpdir(), 'lora-audit-render-'));
    const pageUrl = pathToFileURL(join(dir, 'report.html')).href;
    await writeFile(join(dir, 'report.html'), html, { mode: 0o600 });
    const context = await browser.newContext({ offline: true, javaScriptEnabled: true });
    try {
      const page = await context.newPage();
      // The report is self-contained: anything else it asks for is a bug or an injection, so every
      // request but the page itself, data: URLs and the bundled fonts is refused.
      await page.route('**/*', (route) => {
        const url = route.request().url();
        return url === pageUrl || url.startsWith('data:') || url.startsWith(FONTS_URL) ? route.continue() : route.abort('blockedbyclient');
      });
      // A script error on the page (a chart that cannot draw) fails the render at once, rather than
      // after the ready timeout.
      let onError: (err: Error) => void = () => undefined;
      const failed = new Promise<never>((_, reject) => {
        onError = (err) => reject(new AuditError('RENDER_FAILED', `the report page failed while drawing: ${err.message}`));
      });
      failed.catch(() => undefined);
      page.on('pageerror', (err) => onError(err));
      await Promise.race([failed, (async () => {
        await page.goto(pageUrl, { waitUntil: 'load' });
        await page.waitForFunction(`window.${READY_FLAG} === true`, undefined, { timeout: READY_TIMEOUT_MS }).catch(() => {
          throw new AuditError('RENDER_FAILED', `the report page did not finish drawing its charts within ${READY_TIMEOUT_MS / 1000} s`);
        });
      })()]);
      // Fonts load asynchronously; printing before they are in would fall back to a system font.
      await page.evaluate('document.fonts.ready.then(() => true)');
      await page.emulateMedia({ media: 'print' });
      const pdf = await page.pdf({
        format: PRINT_SETUP.format, printBackground: true, preferCSSPageSize: true, displayHeaderFooter: true,
        headerTemplate: PRINT_SETUP.headerTemplate, footerTemplate: PRINT_SETUP.footerTemplate, margin: { ...PRINT_SETUP.margin },
        tagged: true, outline: true,
      });
      return new Uint8Array(pdf.buffer, pdf.byteOffset, pdf.byteLength);
    } finally {
      await context.close();
      await rm(dir, { recursive: true, force: true });
    }
  };
  return { render, close: () => browser.close() };
}
