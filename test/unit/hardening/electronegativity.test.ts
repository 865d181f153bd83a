// Electronegativity over the Electron shell (main/shell), offline: its library runs in a child
// process whose preload (test/security/no-network.cjs) makes every network call fail at once. Any
// high or medium finding not justified in test/security/electronegativity-exceptions.json fails the
// test; each exception's reason is printed, and the claim behind it is re-checked here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, webPreferences } from '../../../main/shell/policy.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const security = join(root, 'test/security');
const dir = mkdtempSync(join(tmpdir(), 'lora-audit-eneg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Issue { id: string; severity: string; confidence: string; manualReview: boolean; file: string; line: number; sample: string; description: string }
interface Exception { id: string; file: string; reason: string; checkedBy?: string }

const mainTs = readFileSync(join(root, 'main/shell/main.ts'), 'utf8');

/** The claims exceptions rest on, verified against the code so a justification cannot go stale silently. */
const CLAIMS: Record<string, () => void> = {
  'policy.webPreferences has contextIsolation: true': () => expect(webPreferences('p')).toMatchObject({ contextIsolation: true, nodeIntegration: false }),
  'policy.webPreferences has sandbox: true; main.ts calls app.enableSandbox()': () => {
    expect(webPreferences('p')).toMatchObject({ sandbox: true });
    expect(mainTs).toMatch(/app\.enableSandbox\(\)/);
  },
  "main.ts sets the Content-Security-Policy header from CONTENT_SECURITY_POLICY, which holds default-src 'self', connect-src 'self', object-src 'none'": () => {
    expect(mainTs).toMatch(/headers\.set\('Content-Security-Policy', CONTENT_SECURITY_POLICY\)/);
    for (const d of ["default-src 'self'", "connect-src 'self'", "object-src 'none'"]) expect(CONTENT_SECURITY_POLICY).toContain(d);
  },
  'main.ts denies window.open for every web contents and guards will-navigate': () => {
    expect(mainTs).toMatch(/web-contents-created[\s\S]*setWindowOpenHandler\(\(\) => \(\{ action: 'deny' \}\)\)/);
    expect(mainTs).toMatch(/'will-navigate', \(event, url\) => \{ if \(!isAllowedNavigation\(url\)\) event\.preventDefault\(\)/);
  },
};

describe('Electronegativity over main/shell', () => {
  it('finds no high or medium issue that the exceptions file does not justify, without touching the network', () => {
    const out = join(dir, 'shell.sarif');
    const r = spawnSync(process.execPath, ['--require', join(security, 'no-network.cjs'), join(security, 'scan.cjs'), join(root, 'main/shell'), out],
      { cwd: root, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(`${out}.json`, 'utf8')) as { atomicChecks: number; globalChecks: number; errors: unknown[]; issues: Issue[] };
    const sarif = JSON.parse(readFileSync(out, 'utf8')) as { runs: { results: { ruleId: string }[] }[] };
    expect(sarif.runs[0].results.map((x) => x.ruleId).sort()).toEqual(report.issues.map((i) => i.id).sort());
    // a file the parser cannot read escapes every check
    expect(report.errors).toEqual([]);
    expect(report.atomicChecks).toBeGreaterThan(20);

    const { exceptions } = JSON.parse(readFileSync(join(security, 'electronegativity-exceptions.json'), 'utf8')) as { exceptions: Exception[] };
    for (const e of exceptions) expect(e.reason.length, `exception ${e.id} ${e.file} needs a reason`).toBeGreaterThan(30);
    const serious = report.issues.filter((i) => i.severity === 'HIGH' || i.severity === 'MEDIUM');
    const unjustified: Issue[] = [];
    for (const issue of serious) {
      const e = exceptions.find((x) => x.id === issue.id && x.file === issue.file);
      if (!e) { unjustified.push(issue); continue; }
      console.log(`accepted ${issue.severity} ${issue.id} (${issue.file}:${issue.line}): ${e.reason}`);
      if (e.checkedBy) {
        const claim = CLAIMS[e.checkedBy];
        expect(claim, `no check implements "${e.checkedBy}"`).toBeTypeOf('function');
        claim();
      }
    }
    for (const e of exceptions) {
      if (!serious.some((i) => i.id === e.id && i.file === e.file)) console.log(`exception no longer needed: ${e.id} ${e.file}`);
    }
    expect(unjustified.map((i) => `${i.severity} ${i.id} at ${i.file}:${i.line}: ${i.description}`)).toEqual([]);
  });
});
