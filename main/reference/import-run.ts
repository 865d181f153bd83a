// What every importer (parquet shards, labelled folders, packs) shares: the run's view of the set
// (its configuration, the shards and (name, label) rows already in), the report it builds, and the
// one transaction per shard that makes an import resumable: the set row (created with the first
// shard, marked incomplete while a run is going), the shard's row and its adapters commit together
// or not at all. The set turns complete only when a run has been through every file it was given.
import type { Database } from '../db/database.ts';
import { AuditError, toApiError, type ErrorCode } from '../errors.ts';
import type { FeatureEngine, ModuleFeatures } from '../../native/types.ts';
import { packFeatures } from './features-blob.ts';
import { findSetRow, getReferenceSetSummary } from './store.ts';
import type { ReferenceConfig, ReferenceProvenance, ReferenceSetSummary } from './types.ts';

/** Written into every set's provenance: which importer produced its features. */
export const IMPORTER_VERSION = 'lora-auditor reference importer 1';

export interface ImportProgress {
  phase: 'hashing' | 'reading' | 'committing' | 'committed' | 'skipped' | 'done';
  bytesDone: number;
  bytesTotal: number;
  adaptersDone: number;
  adaptersTotal?: number;
  file?: string;
}

export interface ImportFileError { file: string; code: ErrorCode; message: string }

export interface ImportFinding {
  file: string;
  row?: number;               // 0-based row of a parquet shard
  severity: 'info' | 'warning' | 'error';
  code: string;               // 'NAN_VALUES' | 'NULL_VALUES' | 'NOT_DIVISIBLE_BY_RANK' | 'SHAPE_MISMATCH' | 'DUPLICATE_ROW' | 'MISSING_NAME_OR_LABEL' | 'BAD_LABEL' | 'IGNORED_COLUMNS'
  message: string;
}

export interface ImportReport {
  /** The set after this run; null when nothing was ever imported into it. */
  set: ReferenceSetSummary | null;
  imported: { file: string; sha256: string; rows: number; adapters: number }[];
  skipped: { file: string; sha256: string; reason: string }[];
  errors: ImportFileError[];
  findings: ImportFinding[];
}

export interface ImportOptions {
  name: string;
  paths: string[];
  engine: FeatureEngine;
  signal?: AbortSignal;
  onProgress?: (p: ImportProgress) => void;
  /** LoRA rank of the shards; otherwise the set's, the shard's `lora_rank` metadata, or inferred from SD widths. */
  rank?: number;
  /** Filled with where the time went (benchmarks, profiling); nothing is measured when absent. */
  profile?: ImportProfile;
}

/** The importer's stages on the calling thread, in the order a shard meets them, and the hash worker's. */
export type ImportStage = 'footer' | 'transfer' | 'check' | 'features' | 'names' | 'hash-wait' | 'sqlite' | 'close' | 'hash-worker';

/** Wall and CPU milliseconds per stage, summed over the shards of a run. The stages of the calling thread
 *  do not overlap; its wall time outside them is time spent waiting for DuckDB's decoding. */
export type ImportProfile = Partial<Record<ImportStage, { wallMs: number; cpuMs: number }>>;

/** This thread's CPU time in ms (the process's where the runtime lacks threadCpuUsage). */
export function threadCpuMs(): number {
  const u = typeof process.threadCpuUsage === 'function' ? process.threadCpuUsage() : process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Times one synchronous or asynchronous stage into `profile` (a no-op without one). */
export async function timed<T>(profile: ImportProfile | undefined, stage: ImportStage, work: () => T | Promise<T>): Promise<T> {
  if (!profile) return work();
  const wall = performance.now();
  const cpu = threadCpuMs();
  try {
    return await work();
  } finally {
    addStage(profile, stage, performance.now() - wall, threadCpuMs() - cpu);
  }
}

export function timedSync<T>(profile: ImportProfile | undefined, stage: ImportStage, work: () => T): T {
  if (!profile) return work();
  const wall = performance.now();
  const cpu = threadCpuMs();
  try {
    return work();
  } finally {
    addStage(profile, stage, performance.now() - wall, threadCpuMs() - cpu);
  }
}

export function addStage(profile: ImportProfile | undefined, stage: ImportStage, wallMs: number, cpuMs: number): void {
  if (!profile) return;
  const s = (profile[stage] ??= { wallMs: 0, cpuMs: 0 });
  s.wallMs += wallMs;
  s.cpuMs += cpuMs;
}

export interface AdapterToStore { name: string; label: number; source: string; features: ModuleFeatures[] }

export interface ShardToStore { fileName: string; size: number; sha256: string; rows: number }

export class ImportRun {
  readonly db: Database;
  readonly opts: ImportOptions;
  readonly report: ImportReport = { set: null, imported: [], skipped: [], errors: [], findings: [] };
  setId: number | undefined;
  config: ReferenceConfig | undefined;
  /** The existing set's provenance as stored (null for a new set, or one that is not JSON). */
  provenance: Partial<ReferenceProvenance> | null = null;
  complete = false;
  readonly shas = new Set<string>();
  /** File name + size of the shards in the set: a match is hashed before it is read (probably a re-run). */
  readonly shardKeys = new Set<string>();
  readonly keys = new Set<string>();
  bytesTotal = 0;
  bytesBefore = 0;            // bytes of the files already finished in this run
  adaptersDone = 0;
  adaptersTotal: number | undefined;

  private constructor(db: Database, opts: ImportOptions) {
    this.db = db;
    this.opts = opts;
  }

  static async begin(db: Database, opts: ImportOptions): Promise<ImportRun> {
    if (!opts.name || !opts.name.trim()) throw new AuditError('BAD_REQUEST', 'a reference set needs a name (--name)');
    const run = new ImportRun(db, opts);
    const row = await findSetRow(db, opts.name);
    if (row) {
      run.setId = row.id;
      run.config = JSON.parse(row.config) as ReferenceConfig;
      try { run.provenance = JSON.parse(row.provenance) as Partial<ReferenceProvenance> | null; } catch { run.provenance = null; }
      run.complete = row.complete === 1;
      for (const s of await db.all<{ sha256: string; file_name: string; size: number }>(
        'SELECT sha256, file_name, size FROM reference_shards WHERE set_id = ?', [row.id])) {
        run.shas.add(s.sha256);
        run.shardKeys.add(ImportRun.shardKey(s.file_name, s.size));
      }
      for (const a of await db.all<{ name: string; label: number }>('SELECT name, label FROM reference_adapters WHERE set_id = ?', [row.id])) {
        run.keys.add(ImportRun.key(a.name, a.label));
      }
      run.adaptersDone = run.keys.size;
    }
    return run;
  }

  static key(name: string, label: number): string { return `${name}\u0000${label}`; }
  static shardKey(fileName: string, size: number): string { return `${fileName}\u0000${size}`; }

  progress(p: Omit<ImportProgress, 'bytesTotal' | 'adaptersDone' | 'adaptersTotal'> & { adaptersDone?: number }): void {
    this.opts.onProgress?.({
      bytesTotal: this.bytesTotal,
      adaptersDone: this.adaptersDone,
      ...(this.adaptersTotal !== undefined ? { adaptersTotal: this.adaptersTotal } : {}),
      ...p,
    });
  }

  checkCancelled(file?: string): void {
    if (this.opts.signal?.aborted) throw new AuditError('CANCELLED', 'the import was cancelled; run it again to continue where it stopped', file);
  }

  finding(f: ImportFinding): void { this.report.findings.push(f); }

  /** A file that could not be imported: recorded, and the run goes on with the next file. */
  fileError(file: string, err: unknown): void {
    const api = toApiError(err);
    this.report.errors.push({ file, code: api.code, message: api.message });
  }

  /** One shard (or one labelled folder, or one pack) in one transaction with its adapters. */
  async commit(shard: ShardToStore, adapters: AdapterToStore[], newSet: { config: ReferenceConfig; provenance: ReferenceProvenance }): Promise<void> {
    this.checkCancelled(shard.fileName);
    const config = this.config ?? newSet.config;
    const ids = config.modules.map((m) => m.id);
    const blobs = adapters.map((a) => packFeatures(a.features, ids, config.rank));
    const now = new Date().toISOString();
    const setId = await this.db.transaction(async (tx) => {
      let id = this.setId;
      if (id === undefined) {
        const { shards: _omit, ...provenance } = { ...newSet.provenance, featureBackend: this.opts.engine.info.name };
        const r = await tx.run('INSERT INTO reference_sets (name, config, provenance, complete, created_at) VALUES (?, ?, ?, 0, ?)',
          [this.opts.name, JSON.stringify({ ...newSet.config, sizes: [], names: [] }), JSON.stringify(provenance), now]);
        id = r.lastID;
      } else {
        await tx.run('UPDATE reference_sets SET complete = 0 WHERE id = ?', [id]);
      }
      const s = await tx.run('INSERT INTO reference_shards (set_id, file_name, size, sha256, rows, imported_at) VALUES (?, ?, ?, ?, ?, ?)',
        [id, shard.fileName, shard.size, shard.sha256, shard.rows, now]);
      for (let i = 0; i < adapters.length; i++) {
        const a = adapters[i];
        await tx.run('INSERT INTO reference_adapters (set_id, shard_id, name, label, source, features) VALUES (?, ?, ?, ?, ?, ?)',
          [id, s.lastID, a.name, a.label, a.source, blobs[i]]);
      }
      return id;
    });
    this.setId = setId;
    this.config = config;
    this.complete = false;
    this.shas.add(shard.sha256);
    this.shardKeys.add(ImportRun.shardKey(shard.fileName, shard.size));
    for (const a of adapters) this.keys.add(ImportRun.key(a.name, a.label));
    this.adaptersDone += adapters.length;
    this.report.imported.push({ file: shard.fileName, sha256: shard.sha256, rows: shard.rows, adapters: adapters.length });
  }

  /** Every file has been through: the set becomes loadable. Not called on cancel or crash. */
  async finish(): Promise<ImportReport> {
    if (this.setId !== undefined) {
      if (!this.complete) await this.db.run('UPDATE reference_sets SET complete = 1 WHERE id = ?', [this.setId]);
      this.complete = true;
      this.report.set = await getReferenceSetSummary(this.db, this.opts.name);
    }
    this.progress({ phase: 'done', bytesDone: this.bytesTotal });
    return this.report;
  }
}
