// The layout is checked, not remembered: every import of every source file under main/, native/ and
// renderer/src/ (static, dynamic and type-only) must be allowed by the layer rules in ./layers.ts, the
// table in docs/ARCHITECTURE.md must be those rules, and the checker must see a planted violation.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { allows, layerOf, LAYERS, renderTable } from './layers.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOURCE = /\.(ts|mts|cts|js|mjs|cjs|svelte)$/;

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const rel = posix.join(dir, name);
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (SOURCE.test(name)) out.push(rel);
  }
  return out;
}

interface Import { spec: string; typeOnly: boolean; dynamic: boolean }

/** Every module a file names: `import … from`, `export … from`, bare `import 'x'`, `import('x')`, `require('x')`. */
export function importsOf(text: string): Import[] {
  const found: Import[] = [];
  const statement = /^\s*(import|export)(\s+type)?\b[^;'"]*?\bfrom\s*['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
  for (const m of text.matchAll(statement)) found.push({ spec: m[3] ?? m[4], typeOnly: Boolean(m[2]), dynamic: false });
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)|\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) {
    found.push({ spec: m[1] ?? m[2], typeOnly: false, dynamic: true });
  }
  return found;
}

function packageOf(spec: string): string {
  return spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
}

/** The imports of one file that its layer does not allow, as "file → target (why)". */
export function violations(file: string, text: string): string[] {
  const layer = layerOf(file);
  if (!layer) return [`${file}: in no layer of test/unit/foundation/layers.ts`];
  const out: string[] = [];
  for (const imp of importsOf(text)) {
    const how = imp.dynamic ? ' (dynamic import)' : '';
    if (!imp.spec.startsWith('.')) {
      if (imp.spec.startsWith('node:')) {
        if (layer.folder.startsWith('renderer')) out.push(`${file} → ${imp.spec}: the renderer runs in a page, not in Node${how}`);
        continue;
      }
      if (!(layer.packages ?? []).includes(packageOf(imp.spec))) out.push(`${file} → ${imp.spec}: package not allowed for ${layer.folder}${how}`);
      continue;
    }
    const target = posix.normalize(posix.join(posix.dirname(file), imp.spec));
    if (layerOf(target) === layer) continue;
    const rule = layer.mayImport.find((m) => allows(m, target));
    if (!rule) out.push(`${file} → ${target}: ${layer.folder} may not import it${how}`);
    else if (layer.typesOnly && !imp.typeOnly) out.push(`${file} → ${target}: ${layer.folder} may import types only${how}`);
  }
  return out;
}

const sources = ['main', 'native', 'renderer/src'].flatMap(files);

describe('layers', () => {
  it('finds the source tree', () => {
    expect(sources.length).toBeGreaterThan(100);
    expect(sources).toContain('main/shell/main.ts');
  });

  it('every import of every source file is allowed by its layer', () => {
    const all = sources.flatMap((f) => violations(f, readFileSync(join(root, f), 'utf8')));
    expect(all).toEqual([]);
  });

  it('docs/ARCHITECTURE.md shows exactly these rules', () => {
    const doc = readFileSync(join(root, 'docs/ARCHITECTURE.md'), 'utf8');
    expect(doc).toContain(renderTable());
  });

  it('sees planted violations of every kind', () => {
    // plain Node reaching up to a host, dynamically
    expect(violations('main/intake/x.ts', "const m = await import('../cli/framework.ts');"))
      .toEqual(['main/intake/x.ts → main/cli/framework.ts: main/intake may not import it (dynamic import)']);
    // native reaching into intake
    expect(violations('native/x.ts', "import type { ModuleWeights } from '../main/intake/model.ts';")).toHaveLength(1);
    // electron outside the shell, a Node built-in in the renderer, code (not types) from the contract
    // (the planted line is assembled, so this file has no line that reads as an electron import itself)
    const electron = ['elec', 'tron'].join('');
    expect(violations('main/services/x.ts', `import { app } from '${electron}';`)).toHaveLength(1);
    expect(violations('renderer/src/x.ts', "import { readFileSync } from 'node:fs';")).toHaveLength(1);
    expect(violations('main/api/contract.ts', "import { AuditError } from '../errors.ts';")).toEqual(
      ['main/api/contract.ts → main/errors.ts: main/api may import types only']);
    expect(violations('main/api/contract.ts', "export type { ErrorCode } from '../errors.ts';")).toEqual([]);
    expect(violations('renderer/src/x.ts', "import { api } from '../../main/services/handlers.ts';")).toHaveLength(1);
    // and what is allowed passes
    expect(violations('main/cases/x.ts', "import { AuditError } from '../errors.ts';\nimport { Database } from '../db/database.ts';")).toEqual([]);
  });

  it('every rule names folders that exist', () => {
    for (const l of LAYERS) {
      expect(existsSync(join(root, l.folder)), l.folder).toBe(true);
      for (const m of l.mayImport) expect(existsSync(join(root, m)), `${l.folder} → ${m}`).toBe(true);
    }
  });
});
