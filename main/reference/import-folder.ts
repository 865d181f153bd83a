// A reference set from a folder of labelled adapters: any file the intake reads, listed in
// `labels.csv` with the columns file,name,size (size = the number of training images). Each adapter
// file is its own shard row (its SHA-256 is its identity), so a re-run skips the adapters already in
// and a killed import loses at most the adapter it was on.
import { readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sha256File } from '../common/hashing.ts';
import { AuditError } from '../errors.ts';
import type { CanonicalAdapter } from '../intake/model.ts';
import { IMPORTER_VERSION, ImportRun } from './import-run.ts';
import { isTrainingSetSize } from './store.ts';
import type { ReferenceConfig, ReferenceProvenance } from './types.ts';

export const LABELS_FILE = 'labels.csv';

export interface LabelRow { line: number; file: string; name: string; size: number }

/** RFC 4180 fields: commas, double quotes around a field, "" for a quote inside one. */
function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { out.push(field); field = ''; }
    else field += c;
  }
  out.push(field);
  return out.map((f) => f.trim());
}

export function parseLabels(text: string, file: string): LabelRow[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  const header = splitCsvLine(lines[0] ?? '').map((h) => h.toLowerCase());
  const col = (n: string) => header.indexOf(n);
  if (col('file') < 0 || col('name') < 0 || col('size') < 0) {
    throw new AuditError('BAD_CONFIG', `the first line must name the columns file,name,size (found: ${lines[0] ?? 'nothing'})`, file);
  }
  const rows: LabelRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const f = splitCsvLine(lines[i]);
    // Digits only: Number() reads '' as 0 and '0x10' or '1e3' as sizes.
    const sizeText = f[col('size')] ?? '';
    const size = /^[0-9]+$/.test(sizeText) ? Number(sizeText) : NaN;
    if (!f[col('file')] || !f[col('name')] || !isTrainingSetSize(size)) {
      throw new AuditError('BAD_CONFIG',
        `line ${i + 1}: expected file,name,size with size a training-set size (a whole number ≥ 1), got "${lines[i].slice(0, 200)}"`, file);
    }
    if (f[col('file')].includes('/') || f[col('file')].includes('\\') || f[col('file')].startsWith('..')) {
      throw new AuditError('BAD_CONFIG', `line ${i + 1}: "${f[col('file')]}" must be a file name inside the folder`, file);
    }
    rows.push({ line: i + 1, file: f[col('file')], name: f[col('name')], size });
  }
  if (rows.length === 0) throw new AuditError('BAD_CONFIG', 'lists no adapters', file);
  return rows;
}

function configOf(adapter: CanonicalAdapter): ReferenceConfig {
  if (adapter.ranks.length !== 1) {
    throw new AuditError('RANK_MISMATCH', `its modules have ranks ${adapter.ranks.join(', ')}; a reference set needs one rank`, adapter.identity.file);
  }
  const first = adapter.modules[0];
  return {
    rank: adapter.ranks[0], family: adapter.family, method: adapter.method, scaleRule: first.scaleRule, scale: first.scale,
    baseModel: adapter.baseModel,
    modules: adapter.modules.map((m) => ({ id: m.id, inFeatures: m.inFeatures, outFeatures: m.outFeatures })),
    sizes: [], names: [],
  };
}

/** Why an adapter cannot join a set with this configuration, or null. */
function mismatch(config: ReferenceConfig, adapter: CanonicalAdapter): string | null {
  if (adapter.method !== config.method) return `its method is ${adapter.method}, the set's is ${config.method}`;
  if (adapter.ranks.length !== 1 || adapter.ranks[0] !== config.rank) return `its rank is ${adapter.ranks.join('/')}, the set's is ${config.rank}`;
  if (adapter.modules.length !== config.modules.length) return `it has ${adapter.modules.length} modules, the set ${config.modules.length}`;
  for (let i = 0; i < adapter.modules.length; i++) {
    const m = adapter.modules[i];
    const s = config.modules[i];
    if (m.id !== s.id || m.inFeatures !== s.inFeatures || m.outFeatures !== s.outFeatures) {
      return `module ${m.id} (${m.outFeatures}×${m.inFeatures}) does not match the set's ${s.id} (${s.outFeatures}×${s.inFeatures})`;
    }
  }
  return null;
}

export async function importLabelledFolder(run: ImportRun, dir: string): Promise<void> {
  const labelsPath = join(dir, LABELS_FILE);
  const labels = parseLabels(await readFile(labelsPath, 'utf8'), labelsPath);
  await importLabelledRows(run, dir, labels, { source: 'labelled-folder', importerVersion: IMPORTER_VERSION, createdAt: new Date().toISOString(), shards: [] });
}

/**
 * The labelled-folder import itself, for rows already listed and checked by the caller (labels.csv, or
 * a study's matched outputs, whose `file` is a path under `dir`): each adapter is its own shard row.
 * `provenance` is the new set's (a study import rewrites it afterwards from what the set then holds).
 */
export async function importLabelledRows(run: ImportRun, dir: string, labels: LabelRow[], provenance: ReferenceProvenance): Promise<void> {
  const { openAdapter, loadModuleWeights } = await import('../intake/open.ts');
  run.adaptersTotal = (run.adaptersTotal ?? 0) + labels.length;
  let bytesDone = 0;
  for (const l of labels) {
    run.checkCancelled(dir);
    const path = join(dir, l.file);
    try {
      const size = (await stat(path)).size;
      const { sha256 } = await sha256File(path);
      if (run.shas.has(sha256)) {
        run.report.skipped.push({ file: l.file, sha256, reason: `already in set "${run.opts.name}" (same SHA-256)` });
        bytesDone += size;
        continue;
      }
      if (run.keys.has(ImportRun.key(l.name, l.size))) {
        run.finding({ file: l.file, severity: 'error', code: 'DUPLICATE_ROW',
          message: `${LABELS_FILE} line ${l.line}: (name ${l.name}, size ${l.size}) is already in set "${run.opts.name}"; the adapter was left out` });
        bytesDone += size;
        continue;
      }
      const adapter = await openAdapter(path, { sha256 });
      try {
        if (adapter.modules.length === 0) throw new AuditError('NO_MODULES', 'has no LoRA A/B modules to compare', path);
        const config = run.config ?? configOf(adapter);
        const why = mismatch(config, adapter);
        if (why) throw new AuditError('BAD_SHARD', `does not match the set's configuration: ${why}`, path);
        const modules = await loadModuleWeights(adapter);
        for (const w of modules) {
          if (!w.a.every(Number.isFinite) || !w.b.every(Number.isFinite)) {
            throw new AuditError('BAD_SHARD', `module ${w.id} holds NaN or infinite values`, path);
          }
        }
        const features = await run.opts.engine.compute(modules);
        await run.commit({ fileName: l.file, size, sha256, rows: 1 },
          [{ name: l.name, label: l.size, source: l.file, features }],
          { config, provenance });
      } finally {
        await adapter.source.close();
      }
      bytesDone += size;
      run.progress({ phase: 'committed', bytesDone: run.bytesBefore + bytesDone, file: l.file });
    } catch (err) {
      if (err instanceof AuditError && err.code === 'CANCELLED') throw err;
      run.fileError(`${basename(dir)}/${l.file}`, err);
    }
  }
}
