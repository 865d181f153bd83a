// Helpers for the renderer's end-to-end tests: simulated drag and drop of real files, screenshots
// under test-results/ui/, an axe-core accessibility scan that works under the app's CSP, and the
// choice of evidence on the analysis screen.
import { mkdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, type Locator, type Page } from '@playwright/test';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export { realAdaptersDir as realAdapters } from '../fixtures.ts';
export const demoAssets = join(root, 'assets', 'demo');

/** Drops files on a drop zone as a user dragging them from the desktop would: a DataTransfer built
 *  in the page from the files' bytes, delivered with dragover and drop events. */
export async function dropFiles(zone: Locator, files: { name: string; bytes: Buffer }[]): Promise<void> {
  const payload = files.map((f) => ({ name: f.name, b64: f.bytes.toString('base64') }));
  await zone.evaluate((el, list) => {
    const dt = new DataTransfer();
    for (const f of list) {
      const bin = atob(f.b64);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      dt.items.add(new File([bytes], f.name, { type: 'application/octet-stream' }));
    }
    el.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
    el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, payload);
}

export function fileFrom(path: string, name = basename(path)): { name: string; bytes: Buffer } {
  return { name, bytes: readFileSync(path) };
}

export async function shot(page: Page, name: string): Promise<void> {
  const dir = join(root, 'test-results', 'ui');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

const axeSource = readFileSync(join(root, 'node_modules', 'axe-core', 'axe.min.js'), 'utf8');

interface AxeViolation { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }

/** Runs axe-core on the page as it is now and fails on any serious or critical violation. The
 *  app's CSP (script-src 'self') blocks an injected <script>, so axe's source is evaluated over the
 *  DevTools protocol, which CSP does not govern; the app itself is untouched. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const loaded = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== 'undefined');
  if (!loaded) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious, `accessibility violations on the ${screen} screen`).toEqual([]);
}

/** On the analysis screen, ticks only the evidence whose file name matches `file`. First waits for every
 *  applicability check to answer: the screen unticks an item the references do not apply to when its
 *  check answers, and a click at that moment toggled the box back (a CI run saw "Clicking the checkbox
 *  did not change its state"). */
export async function analyseOnly(page: Page, file: RegExp): Promise<void> {
  await expect(page.getByText('checking whether the references apply…')).toHaveCount(0, { timeout: 60_000 });
  const group = page.getByRole('group', { name: 'Evidence to analyse' });
  for (const box of await group.getByRole('checkbox').all()) await box.setChecked(false);
  await group.getByRole('checkbox', { name: file }).check();
}
