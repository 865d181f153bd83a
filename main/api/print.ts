// How a report page is printed, shared by every host's printer (Playwright's page.pdf() in the CLI and
// the headless host, Electron's printToPDF in the shell) and by the report template that sets the
// ready flag: both hosts print the same pages. Plain data, so the shell needs nothing from main/reports.

/** The page sets `window.__reportReady = true` once every chart has been drawn: print only then. */
export const READY_FLAG = '__reportReady';

// Header and footer are rendered by Chromium outside the page (no web fonts there): keep them plain.
const HEADER = `<div style="font-size:7px;width:100%;padding:0 15mm;color:#666;font-family:sans-serif;">
<span>LoRA Auditor · signed forensic report</span></div>`;
const FOOTER = `<div style="font-size:7px;width:100%;padding:0 15mm;color:#666;font-family:sans-serif;text-align:right;">
page <span class="pageNumber"></span> of <span class="totalPages"></span></div>`;

export const PRINT_SETUP = {
  format: 'A4',
  headerTemplate: HEADER,
  footerTemplate: FOOTER,
  margin: { top: '18mm', bottom: '20mm', left: '15mm', right: '15mm' },
} as const;
