// lora-audit reference import|list|show|export|import-pack|delete|reliability: the reference library from the
// command line. Import progress goes to stderr (not with --json); Ctrl-C cancels, and the same command
// run again continues where it stopped.
import { resolve } from 'node:path';
import { usageError, requireString, type Command, type CommandContext, type Values } from '../framework.ts';
import { parseMode } from '../mode.ts';
import { DEFAULT_MODE } from '../../analysis/mode.ts';
import type { ReliabilityRecord, ReliabilityUnavailable } from '../../dsire/reliability.ts';
import type { DsireMode } from '../../dsire/types.ts';
import { defaultDbPath } from '../../db/open.ts';
import { openDatabase } from '../../services/database.ts';
import type { Database } from '../../db/database.ts';
import type { ImportProgress, ImportReport } from '../../reference/import-run.ts';
import type { PackInfo } from '../../reference/pack.ts';
import type { ReferenceSetSummary } from '../../reference/types.ts';
import type { BackendName } from '../../../native/types.ts';

const dbOption = { db: { type: 'string' } } as const;

async function withDb<T>(values: Values, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(typeof values.db === 'string' ? values.db : defaultDbPath());
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function mb(bytes: number): string { return `${(bytes / 1e6).toFixed(1)} MB`; }

/** One line per set: what list prints with --json. */
export interface ReferenceListEntry {
  name: string;
  complete: boolean;
  adapters: number;
  rank: number;
  baseModel: string;
  family: string;
  method: string;
  modules: number;
  sizes: number[];
  names: number;
  shards: number;
  source: string;
  importerVersion: string;
  createdAt: string;
}

function listEntry(s: ReferenceSetSummary): ReferenceListEntry {
  return {
    name: s.name, complete: s.complete, adapters: s.adapterCount, rank: s.config.rank, baseModel: s.config.baseModel,
    family: s.config.family, method: s.config.method, modules: s.config.modules.length, sizes: s.config.sizes,
    names: s.config.names.length, shards: s.provenance.shards.length, source: s.provenance.source,
    importerVersion: s.provenance.importerVersion, createdAt: s.provenance.createdAt,
  };
}

function describeSet(s: ReferenceSetSummary): string {
  return `${s.name}${s.complete ? '' : ' (INCOMPLETE: import interrupted; run the import again)'}: ${s.adapterCount} adapters, ` +
    `rank ${s.config.rank}, ${s.config.modules.length} modules, base ${s.config.baseModel}, sizes ${s.config.sizes.join('/') || '-'}, ` +
    `${s.config.names.length} names, ${s.provenance.shards.length} shard(s), from ${s.provenance.source}`;
}

const importCommand: Command<ImportReport> = {
  name: 'reference import',
  summary: 'Import LoRA-WiSE parquet shards or folders (shards, or labelled adapters with labels.csv: file,name,size) into a reference set. ' +
    'Shards already in the set are skipped by SHA-256; an interrupted import continues on the next run.',
  usage: 'reference import <file-or-folder…> --name <set> [--rank <r>] [--backend <auto|cpu|reference|…>] [--db <path>] [--json]',
  options: { ...dbOption, name: { type: 'string' }, rank: { type: 'string' }, backend: { type: 'string' } },
  async run(ctx, values, positionals) {
    const name = requireString(values, 'name');
    if (positionals.length === 0) throw usageError('give at least one shard file or folder');
    let rank: number | undefined;
    if (values.rank !== undefined) {
      rank = Number(values.rank);
      if (!Number.isInteger(rank) || rank < 1) throw usageError('--rank must be a positive whole number');
    }
    const { importReference } = await import('../../reference/import-parquet.ts');
    const { createFeatureEngine } = await import('../../../native/engine.ts');
    const engine = await createFeatureEngine({ backend: (values.backend as BackendName | 'auto' | undefined) ?? 'auto', log: ctx.log });
    let lastLine = 0;
    let lastPhase = '';
    const onProgress = (p: ImportProgress) => {
      const now = Date.now();
      if (p.phase === lastPhase && now - lastLine < 1000 && p.phase !== 'committed') return;
      lastLine = now;
      lastPhase = p.phase;
      const pct = p.bytesTotal ? ` ${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%` : '';
      ctx.log(`${p.phase}${pct} (${mb(p.bytesDone)} of ${mb(p.bytesTotal)}), ${p.adaptersDone}${p.adaptersTotal ? `/${p.adaptersTotal}` : ''} adapters${p.file ? `: ${p.file}` : ''}`);
    };
    try {
      const report = await withDb(values, (db) => importReference(db, {
        name, paths: positionals.map((p) => resolve(p)), engine, signal: ctx.signal, onProgress, ...(rank ? { rank } : {}),
      }));
      const failed = report.errors.length > 0 || report.findings.some((f) => f.severity === 'error');
      // the method's error on the set, measured once now and cached with it (analyses then state it at once)
      if (report.set?.complete) {
        const measured = await withDb(values, (db) => measure(db, name, DEFAULT_MODE, ctx));
        ctx.log(reliabilityLine(measured));
      }
      return { data: report, exitCode: failed ? 1 : 0 };
    } finally {
      engine.dispose();
    }
  },
  human(r) {
    const lines: string[] = [];
    if (r.set) lines.push(describeSet(r.set));
    for (const i of r.imported) lines.push(`  imported ${i.file}: ${i.adapters} of ${i.rows} rows`);
    for (const s of r.skipped) lines.push(`  skipped ${s.file}: ${s.reason}`);
    for (const e of r.errors) lines.push(`  ERROR ${e.file}: ${e.message} [${e.code}]`);
    for (const f of r.findings) lines.push(`  ${f.severity} ${f.file}${f.row !== undefined ? ` row ${f.row}` : ''}: ${f.message} [${f.code}]`);
    if (!r.set) lines.push('nothing was imported');
    return lines.join('\n');
  },
};

const listCommand: Command<ReferenceListEntry[]> = {
  name: 'reference list',
  summary: 'The reference sets in the database; an interrupted import shows as incomplete.',
  usage: 'reference list [--db <path>] [--json]',
  options: { ...dbOption },
  async run(_ctx, values) {
    const { listReferenceSets } = await import('../../reference/store.ts');
    return { data: (await withDb(values, listReferenceSets)).map(listEntry) };
  },
  human(list) {
    if (list.length === 0) return 'no reference sets; import one with `lora-audit reference import <shards…> --name <set>`';
    return list.map((s) => `${s.name}${s.complete ? '' : ' (INCOMPLETE)'}: ${s.adapters} adapters, rank ${s.rank}, ${s.modules} modules, ` +
      `base ${s.baseModel}, sizes ${s.sizes.join('/') || '-'}, ${s.names} names, ${s.shards} shard(s), from ${s.source}`).join('\n');
  },
};

const showCommand: Command<ReferenceSetSummary> = {
  name: 'reference show',
  summary: "One set's configuration (rank, modules and their shapes, sizes, names) and provenance (every shard's name, size and SHA-256).",
  usage: 'reference show <set> [--db <path>] [--json]',
  options: { ...dbOption },
  async run(_ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('name one reference set');
    const { getReferenceSetSummary } = await import('../../reference/store.ts');
    return { data: await withDb(values, (db) => getReferenceSetSummary(db, positionals[0])) };
  },
  human(s) {
    const lines = [describeSet(s),
      `  family ${s.config.family}, method ${s.config.method}, scale ${s.config.scale} (${s.config.scaleRule})`,
      `  names: ${s.config.names.join(', ')}`,
      `  imported by ${s.provenance.importerVersion}, created ${s.provenance.createdAt}${s.provenance.notes ? `\n  ${s.provenance.notes}` : ''}`,
      '  shards:'];
    for (const sh of s.provenance.shards) lines.push(`    ${sh.fileName}  ${mb(sh.size)}  ${sh.rows} rows  sha256 ${sh.sha256}  ${sh.importedAt}`);
    return lines.join('\n');
  },
};

const exportCommand: Command<PackInfo> = {
  name: 'reference export',
  summary: 'Write a reference pack (features, configuration, provenance, SHA-256 manifest) to carry a set to another machine.',
  usage: 'reference export <set> --out <file> [--db <path>] [--json]',
  options: { ...dbOption, out: { type: 'string' } },
  async run(_ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('name one reference set');
    const out = resolve(requireString(values, 'out'));
    const { exportPack } = await import('../../reference/pack.ts');
    return { data: await withDb(values, (db) => exportPack(db, positionals[0], out)) };
  },
  human(p) { return `wrote ${p.file}: set ${p.set}, ${p.adapters} adapters, ${mb(p.bytes)}, sha256 ${p.sha256}`; },
};

const importPackCommand: Command<ReferenceSetSummary> = {
  name: 'reference import-pack',
  summary: 'Verify a reference pack against its manifest and add its set to the database.',
  usage: 'reference import-pack <file> [--name <new name>] [--db <path>] [--json]',
  options: { ...dbOption, name: { type: 'string' } },
  async run(_ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('give one pack file');
    const { importPack } = await import('../../reference/pack.ts');
    const name = typeof values.name === 'string' && values.name ? values.name : undefined;
    return { data: await withDb(values, (db) => importPack(db, resolve(positionals[0]), name ? { name } : {})) };
  },
  human(s) { return `imported ${describeSet(s)}`; },
};

const deleteCommand: Command<{ deleted: string }> = {
  name: 'reference delete',
  summary: 'Remove a reference set and its stored features.',
  usage: 'reference delete <set> [--db <path>] [--json]',
  options: { ...dbOption },
  async run(_ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('name one reference set');
    const { deleteReferenceSet } = await import('../../reference/store.ts');
    await withDb(values, (db) => deleteReferenceSet(db, positionals[0]));
    return { data: { deleted: positionals[0] } };
  },
  human(d) { return `deleted reference set ${d.deleted}`; },
};

interface SetReliability { referenceSet: string; mode: DsireMode; reliability: ReliabilityRecord | null; unavailable: ReliabilityUnavailable | null }

async function measure(db: Database, name: string, mode: DsireMode, ctx: CommandContext, remeasure = false): Promise<SetReliability> {
  const [{ loadReferenceSet }, { setReliability }] = await Promise.all([import('../../reference/store.ts'), import('../../analysis/reliability.ts')]);
  const ref = await loadReferenceSet(db, name);
  const out = await setReliability(db, ref, mode, { signal: ctx.signal, remeasure, onProgress: (p) => ctx.log(`reliability: ${p.message}`) });
  return { referenceSet: ref.name, mode, reliability: 'record' in out ? out.record : null, unavailable: 'unavailable' in out ? out.unavailable : null };
}

function reliabilityLine(m: SetReliability): string {
  const r = m.reliability;
  if (!r) return `reliability of "${m.referenceSet}" (${m.mode} mode): no figures: ${m.unavailable?.reason}`;
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  return `reliability of "${m.referenceSet}" (${m.mode} mode), on held-out adapters: exact ${pct(r.accuracy.mean)}, within one size ${pct(r.withinOne)}, `
    + `MAE ${r.mae.mean.toFixed(2)}, MAPE ${r.mape.mean.toFixed(0)} %${r.interval ? `, ${pct(r.interval.nominal)} interval coverage ${pct(r.interval.coverage.mean)}` : ''} `
    + `(${r.parameters.splits} splits, ${r.parameters.trainNames} of ${r.names} names as references, seed ${r.parameters.seed}; ${Math.round(r.elapsedMs)} ms)`;
}

const reliabilityCommand: Command<SetReliability> = {
  name: 'reference reliability',
  summary: 'The method\'s error measured on a reference set by the paper\'s protocol (10 seeded splits by name, a quarter of the names '
    + 'held out): accuracy, within-one-size rate, MAE, MAPE, confusion matrix, per-size accuracy, interval coverage. Cached with the set '
    + 'per content, method version and mode (measured after an import and on first use); --remeasure measures again.',
  usage: 'reference reliability <set> [--mode faithful|best] [--remeasure] [--db <path>] [--json]',
  options: { ...dbOption, mode: { type: 'string' }, remeasure: { type: 'boolean' } },
  async run(ctx, values, positionals) {
    if (positionals.length !== 1) throw usageError('name one reference set');
    const mode = parseMode(values);
    return { data: await withDb(values, (db) => measure(db, positionals[0], mode, ctx, values.remeasure === true)) };
  },
  human(m) {
    const lines = [reliabilityLine(m)];
    const r = m.reliability;
    if (r) {
      lines.push(`  always answering the median size would err by ${r.baselineMae.toFixed(2)} on average; measured ${r.measuredAt}, set content ${r.setHash.slice(0, 16)}…`);
      lines.push(`  confusion (rows true, columns named): ${r.confusion.sizes.join(' ')}`);
      r.confusion.counts.forEach((row, i) => lines.push(`  ${String(r.confusion.sizes[i]).padStart(6)}  ${row.map((c) => String(c).padStart(5)).join('')}   exact ${r.perSize[i].accuracy === null ? '—' : `${Math.round(r.perSize[i].accuracy! * 100)} %`}`));
    }
    return lines.join('\n');
  },
};

export const commands: Command[] = [
  importCommand, listCommand, showCommand, exportCommand, importPackCommand, deleteCommand, reliabilityCommand,
] as Command[];
