// lora-audit inspect <file…> [--json] [--config <adapter_config.json>]: what each adapter file is.
// JSON: an array with one InspectReport per file. Exit 1 when any file could not be read.
import type { Command } from '../framework.ts';
import { usageError } from '../framework.ts';
import { inspectFile, type InspectReport } from '../../intake/inspect.ts';
import { DISCLOSURE_CATEGORIES, visible, type Disclosure } from '../../intake/disclosure.ts';

export const command: Command<InspectReport[]> = {
  name: 'inspect',
  summary: 'What an adapter file is: family, method, base-model hint, dtype(s), rank(s), module count, scale, metadata summary, findings, SHA-256.',
  usage: 'inspect <file…> [--config <adapter_config.json>] [--json]',
  options: { config: { type: 'string' } },
  async run(ctx, values, positionals) {
    if (positionals.length === 0) throw usageError('name at least one adapter file');
    const configPath = typeof values.config === 'string' ? values.config : undefined;
    if (configPath && positionals.length > 1) throw usageError('--config applies to one file; inspect the others separately');
    const reports: InspectReport[] = [];
    for (const file of positionals) {
      if (ctx.signal.aborted) break;
      // base models are named from the shipped table plus <data folder>/base-models.json (cli/main.ts names the folder)
      reports.push(await inspectFile(file, configPath ? { configPath } : {}));
    }
    return { data: reports, exitCode: reports.some((r) => r.error) ? 1 : 0 };
  },
  human(reports) {
    return reports.map(humanReport).join('\n\n');
  },
};

function humanReport(r: InspectReport): string {
  const lines = [r.file];
  const id = `  size ${r.size ?? '?'} B   sha256 ${r.sha256 ?? '?'}`;
  if (r.error) {
    lines.push(id, `  REFUSED ${r.error.code}: ${r.error.message}`);
  } else {
    lines.push(
      `  family ${r.family} (${r.container})   method ${r.method}   base model ${r.baseModel}`,
      `  modules ${r.modules}${r.loraModules !== r.modules ? ` (${r.loraModules} LoRA A/B)` : ''}   rank ${r.ranks.join(', ') || '–'}   dtype ${r.dtype.join(', ')}`,
      `  scale ${r.scale.values.map((v) => +v.toPrecision(6)).join(', ') || '–'}${r.scale.rules.length ? ` (${r.scale.rules.join(', ')})` : ''}`,
      id,
    );
    const others = Object.entries(r.otherTensors);
    if (others.length) lines.push(`  other tensors: ${others.map(([role, n]) => `${n} ${role}`).join(', ')}`);
    const k = r.metadata.kohya;
    if (k?.realImageCount !== undefined) {
      lines.push(`  training images claimed: ${k.realImageCount} distinct (ss_dataset_dirs)${k.numTrainImagesWithRepeats !== undefined ? `, ${k.numTrainImagesWithRepeats} with repeats` : ''}`);
    }
    if (k?.sshsModelHash) lines.push(`  sshs_model_hash ${k.sshsModelHash.matches ? 'matches the data' : 'DOES NOT match the data'}`);
    const p = r.metadata.peft;
    if (p) lines.push(`  peft ${p.peftType ?? ''} r=${p.r ?? '?'} alpha=${p.loraAlpha ?? '?'}${p.useRslora ? ' rslora' : ''}${p.useDora ? ' dora' : ''}${p.baseModelNameOrPath ? ` base ${p.baseModelNameOrPath}` : ''}`);
    if (r.metadata.keys) lines.push(`  metadata ${r.metadata.keys} keys (untrusted text)`);
    lines.push(...baseModelLine(r), ...disclosureLines(r.disclosure));
  }
  // Finding messages may quote the file's own text (keys, folder names): shown escaped, like the disclosure.
  for (const f of r.findings.filter((x) => x.severity !== 'info' || r.error)) lines.push(`  ${f.severity}: ${visible(f.message, 2000).text}`);
  return lines.join('\n');
}

const SHOWN = 100;
const short = (s: string) => (s.length > SHOWN ? `${s.slice(0, SHOWN - 1)}…` : s);

function baseModelLine(r: InspectReport): string[] {
  const id = r.baseModelIdentity;
  if (id.status === 'unknown') {
    return [`  base model: unknown hash (${[id.stated.sha256 && `SHA-256 ${id.stated.sha256}`, id.stated.legacyHash && `legacy ${id.stated.legacyHash}`].filter(Boolean).join(', ')})`];
  }
  if (id.status !== 'none') return [`  ${id.summary}`];
  return id.stated.name ? [`  base model named: ${short(id.stated.name)} (no hash to check)`] : [];
}

/** Per category: subject tags as one line per folder ("tag count, …"), the rest one line per item, values cut. */
function disclosureLines(items: Disclosure[]): string[] {
  if (items.length === 0) return [];
  const lines = ['  discloses (the file\'s own text, escaped; full values in --json):'];
  for (const category of DISCLOSURE_CATEGORIES) {
    const here = items.filter((d) => d.category === category);
    const folders = new Map<string, Disclosure[]>();
    for (const d of here) if (d.count !== undefined) folders.set(d.folder ?? '', [...(folders.get(d.folder ?? '') ?? []), d]);
    for (const [folder, tags] of folders) {
      const images = tags[0].images !== undefined ? ` (${tags[0].images} images)` : '';
      lines.push(`    ${category.padEnd(10)} ${folder}${images}: ${tags.map((t) => `${short(t.value)} ${t.count}`).join(', ')}`);
    }
    for (const d of here.filter((x) => x.count === undefined)) lines.push(`    ${category.padEnd(10)} ${d.field}: ${short(d.value)}`);
  }
  return lines;
}
