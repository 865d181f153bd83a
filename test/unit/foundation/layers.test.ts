// The layout is checked, not remembered: only the Electron shell imports electron, the renderer
// reaches main only through the contract's types, and plain-Node layers never reach up.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|svelte)$/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const rel = join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (SOURCE.test(name)) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const found: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) found.push(m[1] ?? m[2] ?? m[3] ?? m[4]);
  return found;
}

const all = ['main', 'native', 'renderer', 'test', 'bin'].flatMap(files);

describe('layers', () => {
  it('finds the source tree', () => {
    expect(all.length).toBeGreaterThan(20);
    expect(all).toContain('main/shell/main.ts');
  });

  it('only main/shell imports electron', () => {
    const offenders = all
      .filter((f) => !f.startsWith('main/shell/') && !f.startsWith('test/electron/'))
      .filter((f) => imports(f).some((i) => i === 'electron' || i.startsWith('electron/')));
    expect(offenders).toEqual([]);
  });

  it('the guard itself sees an electron import when there is one', () => {
    expect(imports('main/shell/main.ts')).toContain('electron');
  });

  it('the renderer reaches main only through the contract', () => {
    const offenders: string[] = [];
    // renderer/src is what runs in the page; the vite config beside it is build tooling.
    for (const f of all.filter((f) => f.startsWith('renderer/src/'))) {
      for (const i of imports(f)) {
        if (!i.startsWith('.')) continue;
        const target = relative(root, join(root, dirname(f), i));
        if (target.startsWith('main/') && target !== 'main/api/contract.ts') offenders.push(`${f} → ${target}`);
        if (target.startsWith('native/')) offenders.push(`${f} → ${target}`);
      }
      for (const i of imports(f)) if (i.startsWith('node:') || ['fs', 'path', 'child_process', 'sqlite3'].includes(i)) offenders.push(`${f} → ${i}`);
    }
    expect(offenders).toEqual([]);
  });

  it('plain-Node layers never import the shell, the hosts or the renderer', () => {
    const lower = all.filter((f) => /^(native|main\/(intake|features|db|reference|dsire|cases|reports|generator|api|paths))\//.test(f));
    const offenders: string[] = [];
    for (const f of lower) {
      for (const i of imports(f)) {
        if (!i.startsWith('.')) continue;
        const target = relative(root, join(root, dirname(f), i));
        if (/^(main\/(shell|host|cli|services)|renderer)\//.test(target)) offenders.push(`${f} → ${target}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('the contract imports nothing at run time, so both sides can load it', () => {
    // One type-only re-export (erased when built): the error codes, which the renderer's advice covers.
    expect(imports('main/api/contract.ts')).toEqual(['../errors.ts']);
    expect(readFileSync(join(root, 'main/api/contract.ts'), 'utf8')).toMatch(/^export type \{ ErrorCode \} from '\.\.\/errors\.ts';$/m);
  });
});
