// Holds a plan's trainer arguments to the real scripts' argument definitions, as listed in
// test/fixtures/trainer-options/*.json (each with the repository, path and commit it was read from).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface OptionDef { type: 'flag' | 'str' | 'int' | 'float' | 'int_or_float'; choices?: string[]; nargs?: string; required?: boolean }
export interface TrainerFixture {
  script: string;
  sources: { repo: string; path: string; commit: string }[];
  options: Record<string, OptionDef>;
  datasetConfig?: { general: string[]; datasets: string[]; subsets: string[]; requiredInSubset: string[] };
}

const dir = join(import.meta.dirname, '../../fixtures/trainer-options');
export const KOHYA = JSON.parse(readFileSync(join(dir, 'kohya-train_network.json'), 'utf8')) as TrainerFixture;
export const DIFFUSERS = JSON.parse(readFileSync(join(dir, 'diffusers-train_dreambooth_lora.json'), 'utf8')) as TrainerFixture;

const isNumber = (s: string) => /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s);

/** Every problem argparse would have with argv (the script's own options only), as sentences; [] when none. */
export function argvProblems(argv: string[], fx: TrainerFixture): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    const def = fx.options[opt];
    if (!opt.startsWith('--')) { problems.push(`${opt}: a value with no option before it`); continue; }
    if (!def) { problems.push(`${opt}: not an option of ${fx.script}`); continue; }
    if (seen.has(opt)) problems.push(`${opt}: given twice`);
    seen.add(opt);
    if (def.type === 'flag') continue;
    if (def.nargs === '*' || def.nargs === '+') {
      // argparse takes every following word that is not an option
      let k = i + 1;
      while (k < argv.length && !argv[k].startsWith('--')) k++;
      if (def.nargs === '+' && k === i + 1) problems.push(`${opt}: no value`);
      i = k - 1;
      continue;
    }
    const value = argv[i + 1];
    i++;
    if (value === undefined) { problems.push(`${opt}: no value`); continue; }
    if (def.type === 'int' && !/^-?\d+$/.test(value)) problems.push(`${opt} ${value}: not an int`);
    if ((def.type === 'float' || def.type === 'int_or_float') && !isNumber(value)) problems.push(`${opt} ${value}: not a number`);
    if (def.choices && !def.choices.includes(value)) problems.push(`${opt} ${value}: not one of ${def.choices.join(', ')}`);
  }
  for (const [name, def] of Object.entries(fx.options)) if (def.required && !seen.has(name)) problems.push(`${name}: required, missing`);
  return problems;
}

/** The keys of a plan's dataset TOML (the simple form plans write), checked against the sanitizer's schema. */
export function datasetTomlProblems(text: string, fx: TrainerFixture): string[] {
  const schema = fx.datasetConfig;
  if (!schema) return ['the fixture has no dataset schema'];
  const problems: string[] = [];
  let section: 'general' | 'datasets' | 'subsets' | null = null;
  const subsetKeys: string[][] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    if (t === '[general]') { section = 'general'; continue; }
    if (t === '[[datasets]]') { section = 'datasets'; continue; }
    if (t === '[[datasets.subsets]]') { section = 'subsets'; subsetKeys.push([]); continue; }
    const m = /^([A-Za-z_]+)\s*=\s*(.+)$/.exec(t);
    if (!m || !section) { problems.push(`unreadable line: ${t}`); continue; }
    if (!schema[section].includes(m[1])) problems.push(`[${section}] ${m[1]}: not a key the dataset config takes`);
    if (section === 'subsets') subsetKeys[subsetKeys.length - 1].push(m[1]);
  }
  if (subsetKeys.length === 0) problems.push('no [[datasets.subsets]]');
  for (const keys of subsetKeys) for (const r of schema.requiredInSubset) if (!keys.includes(r)) problems.push(`a subset lacks ${r}`);
  return problems;
}
