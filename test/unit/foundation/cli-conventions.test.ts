// lora-audit follows the conventions a person and a script expect: --version / -V, `version --json`,
// and mistakes in options, commands and subcommands answered with the nearest right word and exit 2.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../main/cli/main.ts';
import { closest, editDistance } from '../../../main/cli/suggest.ts';
import { DSIRE_VERSION } from '../../../main/dsire/analyze.ts';
import { writeCalibration } from '../../../native/calibration-cache.ts';
import { autoCalibrationKey } from '../../../native/engine.ts';

const pkgVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let home: string;
const savedHome = process.env.LORA_AUDIT_HOME;
beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), 'lora-audit-cli-conv-'));
  process.env.LORA_AUDIT_HOME = home; // the data folder the CLI resolves (its calibration cache lives there)
});
afterAll(() => {
  if (savedHome === undefined) delete process.env.LORA_AUDIT_HOME;
  else process.env.LORA_AUDIT_HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { write: (s: string) => { out += s; } }, { write: (s: string) => { err += s; } });
  return { code, out, err };
}

describe('lora-audit version', () => {
  it('--version and -V print the package version and exit 0', async () => {
    for (const flag of ['--version', '-V']) {
      const r = await run([flag]);
      expect(r).toEqual({ code: 0, out: `lora-audit ${pkgVersion}\n`, err: '' });
    }
  });

  it('version --json: version, methodVersion, node and "not calibrated" before any calibration', async () => {
    const r = await run(['version', '--json']);
    expect(r.code).toBe(0);
    const v = JSON.parse(r.out);
    expect(v).toEqual({ version: pkgVersion, methodVersion: DSIRE_VERSION, node: process.versions.node, backend: 'not calibrated' });
  });

  it('version --json names the verdict cached for this machine, and ignores one cached for another version', async () => {
    const info = { name: 'cpu' as const, reason: 'fastest of 1 backend that agreed with the float64 reference on the probe (2.0 ms)', candidates: [{ name: 'cpu' as const, ok: true, ms: 2, maxRelError: 1e-15, reason: 'agrees with the float64 reference' }] };
    expect(writeCalibration({ dir: home, appVersion: '0.0.0-other' }, autoCalibrationKey('0.0.0-other'), info)).toBeNull();
    expect(JSON.parse((await run(['version', '--json'])).out).backend).toBe('not calibrated');

    expect(writeCalibration({ dir: home, appVersion: pkgVersion }, autoCalibrationKey(pkgVersion), info, '2026-01-02T03:04:05.000Z')).toBeNull();
    const v = JSON.parse((await run(['version', '--json'])).out);
    expect(v.backend).toEqual({ name: 'cpu', reason: info.reason, calibratedAt: '2026-01-02T03:04:05.000Z' });
    expect((await run(['version'])).out).toMatch(/^LoRA Auditor .+\nmethod DSiRe .+\nnode .+\nbackend cpu \(calibrated 2026-01-02T03:04:05\.000Z: fastest of 1 backend/);
  });
});

describe('lora-audit usage mistakes', () => {
  it('an unknown option is refused with the nearest option of that command, exit 2', async () => {
    const r = await run(['analyze', 'x.safetensors', '--refrence', 'set']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(/^lora-audit analyze: unknown option --refrence; did you mean --reference\?\nusage: lora-audit analyze /);
  });

  it('in --json mode the same mistake is a BAD_REQUEST error object on stdout', async () => {
    const r = await run(['features', 'x.safetensors', '--bakend', 'cpu', '--json']);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({ error: { code: 'BAD_REQUEST', message: 'unknown option --bakend; did you mean --backend?' } });
  });

  it('a long option typed with one dash, and one with no near neighbour', async () => {
    expect((await run(['features', 'x', '-jsn'])).err).toMatch(/unknown option -jsn; did you mean --json\?/);
    const far = await run(['features', 'x', '--zzzzzz']);
    expect(far.code).toBe(2);
    expect(far.err).toMatch(/unknown option --zzzzzz\nusage:/);
  });

  it('a missing value and a value given to a flag are named in our words', async () => {
    const missing = await run(['features', 'x', '--backend']);
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--backend needs a value/);
    const ambiguous = await run(['features', '--backend', '--other', 'x']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.err).toMatch(/--backend needs a value \(one that starts with a dash is written --backend=-…\)/);
    const flag = await run(['features', 'x', '--help=yes']);
    expect(flag.code).toBe(2);
    expect(flag.err).toMatch(/--help takes no value/);
  });

  it('a command with subcommands answers --help with their list on stdout, exit 0', async () => {
    for (const argv of [['study', '--help'], ['case', '-h']]) {
      const r = await run(argv);
      expect(r.code).toBe(0);
      expect(r.err).toBe('');
      expect(r.out).toMatch(new RegExp(`^lora-audit ${argv[0]}: one of\\n`));
    }
    expect((await run(['study', '--help'])).out).toContain('  lora-audit study plan <evidence> --images <folder|builtin>');
    expect((await run(['case', '-h'])).out).toContain('  lora-audit case create --title <text> --examiner <name>');
  });

  it('--version misspelt, an unknown command and an unknown subcommand get their nearest word', async () => {
    const opt = await run(['--verison']);
    expect(opt.code).toBe(2);
    expect(opt.err).toMatch(/^lora-audit: unknown option --verison; did you mean --version\?/);
    const cmd = await run(['featurs']);
    expect(cmd.code).toBe(2);
    expect(cmd.err).toMatch(/^lora-audit: unknown command "featurs"; did you mean "features"\?/);
    const sub = await run(['case', 'creat']);
    expect(sub.code).toBe(2);
    expect(sub.err).toMatch(/^lora-audit case: unknown subcommand "creat"; did you mean "create"\?/);
  });
});

describe('suggestions', () => {
  it('edit distance counts a swap of neighbours as one edit', () => {
    expect(editDistance('refrence', 'reference')).toBe(1);
    expect(editDistance('verison', 'version')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('offers only a near word, a prefix counting as near, and nothing for a very long argument', () => {
    expect(closest('--ref', ['--reference', '--mode'])).toBe('--reference');
    expect(closest('--mdoe', ['--reference', '--mode'])).toBe('--mode');
    expect(closest('--xyz', ['--reference', '--mode'])).toBeNull();
    expect(closest('-'.repeat(2) + 'r'.repeat(100_000), ['--reference'])).toBeNull();
  });
});
