// `npm start` where Electron's binary is absent (as on this machine; ELECTRON_OVERRIDE_DIST_PATH
// pointing at an empty folder makes it absent anywhere): the launcher says why, serves the renderer
// from the headless host with the data folder every host shares, and prints the working URL. Here
// LORA_AUDIT_BROWSER=none keeps it from opening a browser, so the test's own Chromium drives the
// page. Ctrl-C (SIGINT to the launcher alone) must leave nothing running.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test, expect } from '@playwright/test';
import { node24, repoRoot } from './host.ts';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

/** True while any process of the group is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

test('npm start without Electron: the browser host on the shared data folder, stopped whole by Ctrl-C', async ({ page }) => {
  const home = mkdtempSync(join(tmpdir(), 'lora-audit-start-'));
  const noElectron = mkdtempSync(join(tmpdir(), 'lora-audit-no-electron-'));
  // the exact script `npm start` runs (package.json), in a process group of its own
  const script = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  expect(script).toBe('node main/launch/start.ts');
  const launcher = spawn(node24, ['main/launch/start.ts'], {
    cwd: repoRoot,
    detached: true,
    env: { ...process.env, LORA_AUDIT_HOME: home, LORA_AUDIT_BROWSER: 'none', ELECTRON_OVERRIDE_DIST_PATH: noElectron },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  launcher.stderr!.on('data', (chunk) => { stderr += String(chunk); });
  const exited = new Promise<number | null>((resolve) => launcher.once('exit', (code) => resolve(code)));
  try {
    const lines: string[] = [];
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: launcher.stdout! }).on('line', (line) => {
        lines.push(line);
        const m = /^open (http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]+)$/.exec(line);
        if (m) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`the launcher exited (${code}) before printing a URL:\n${lines.join('\n')}\n${stderr}`)));
    });
    expect(lines).toContain(`LoRA Auditor ${version} — headless host, no browser started (LORA_AUDIT_BROWSER=none) — data: ${home}`);
    expect(stderr).toMatch(/Electron's binary is not here: ELECTRON_OVERRIDE_DIST_PATH names no binary/);
    expect(stderr).toMatch(/To add Electron offline, put electron-v[\d.]+-\w+-\w+\.zip in /);

    // The page works with the printed URL alone (its token carried in the fragment): the case list, then a case in it.
    await page.goto(url);
    await expect(page.getByRole('heading', { name: 'Cases' })).toBeVisible();
    await expect(page.getByTestId('empty-cases')).toBeVisible({ timeout: 60_000 });
    await page.getByLabel('Case title').fill('Started by npm start');
    await page.getByLabel('Examiner').fill('Ada Auditor');
    await page.getByRole('button', { name: 'Create case' }).click();
    await expect(page.getByTestId('case-title')).toHaveText('Started by npm start');
    await page.close();

    const origin = new URL(url).origin;
    expect((await fetch(`${origin}/`)).status).toBe(200);
    process.kill(launcher.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    await expect.poll(() => groupAlive(launcher.pid!), { timeout: 15_000 }).toBe(false);
    await expect(fetch(`${origin}/`)).rejects.toThrow();

    // The case landed in the shared data folder: the CLI, on the same LORA_AUDIT_HOME, lists it.
    const cli = spawnSync(node24, [join(repoRoot, 'bin', 'lora-audit.mjs'), 'case', 'list', '--json'], { cwd: repoRoot, env: { ...process.env, LORA_AUDIT_HOME: home }, encoding: 'utf8' });
    expect(cli.status).toBe(0);
    expect((JSON.parse(cli.stdout) as { cases: { title: string }[] }).cases.map((c) => c.title)).toEqual(['Started by npm start']);
  } finally {
    if (groupAlive(launcher.pid!)) process.kill(-launcher.pid!, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
    rmSync(noElectron, { recursive: true, force: true });
  }
});
