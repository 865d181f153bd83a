// Reference sets from LoRA-WiSE parquet shards (../shared/docs/LORA-WISE.md), and the one entry point
// for every import: importReference. Per shard: magic bytes, SHA-256 on a worker thread (a shard
// already in the set is skipped), the footer (which columns, how many values per row, which rank),
// then the weight columns of a few modules at a time, each flat list reshaped with the rank (down →
// r×in, up → out×r) and turned into features by the features engine, then name and label, then —
// with the file unchanged since before the hash began — one transaction. Bad rows (NaN, NULL, a length
// the rank does not divide, a shape unlike the others, a duplicate (name, label)) become findings
// naming the file and row; a bad file becomes an error naming it; the rest goes on. Where the time
// goes: docs/BENCHMARKS.md, "Reference import"; ImportOptions.profile measures it.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../db/database.ts';
import { AuditError } from '../errors.ts';
import type { BaseModelHint } from '../intake/model.ts';
import type { ModuleFeatures } from '../../native/types.ts';
import { importLabelledFolder, LABELS_FILE } from './import-folder.ts';
import { addStage, IMPORTER_VERSION, ImportRun, timed, timedSync, type AdapterToStore, type ImportOptions, type ImportReport } from './import-run.ts';
import { checkMagic, localShardPath, ParquetShard, readAhead, releaseChunk, shardFileName, type ShardLayout, type ShardModuleColumns } from './parquet-shard.ts';
import { fileChange, hashShard, identityOf, type FileIdentity, type HashJob } from './shard-hash.ts';
import { checkChunk, Float32Arena, RowStates, type ChunkContext } from './shard-rows.ts';
import { isTrainingSetSize } from './store.ts';
import type { ModuleShape, ReferenceConfig } from './types.ts';

export type { ImportOptions, ImportReport, ImportProgress, ImportFinding, ImportFileError, ImportProfile, ImportStage } from './import-run.ts';

/** Decoded float64 bytes of one column group across one row group: bounds the memory of a pass. 8 MB
 *  measured best on the 659 MB bench shard (2 cores): against 32 MB, 0.4-0.6 s less CPU per shard
 *  (a third fewer page faults, as DuckDB's and the copies' buffers are smaller and reused, and the
 *  checks run on data still in cache) and 0.1-0.3 GB less RSS; 4 MB was no faster (each query also
 *  costs a few ms to plan). 96 MB had peaked at 0.87 GB RSS on a 300 MB shard. */
const GROUP_BUDGET_BYTES = 8 * 1024 * 1024;

/** Attention widths of Stable Diffusion 1.x/2.x UNets (channels 320/640/1280, text 768/1024). */
const SD_WIDTHS = new Set([320, 640, 1280, 768, 1024]);

/** The smallest rank for which every column reshapes into widths an SD UNet has; null when none does. */
export function inferRank(modules: Pick<ShardModuleColumns, 'downLength' | 'upLength'>[]): number | null {
  const lengths = modules.flatMap((m) => [m.downLength, m.upLength]);
  if (lengths.some((l) => !Number.isInteger(l) || l <= 0)) return null;
  const smallest = Math.min(...lengths);
  for (let r = 1; r <= smallest; r++) {
    if (lengths.every((l) => l % r === 0 && SD_WIDTHS.has(l / r))) return r;
  }
  return null;
}

/** attn2.to_k reads the text embedding: 768 wide in SD 1.x, 1024 in SD 2.x. */
export function baseModelHint(modules: ModuleShape[]): BaseModelHint {
  const k = modules.find((m) => m.id.endsWith('attn2.to_k'));
  if (!k) return 'unknown';
  return k.inFeatures === 768 ? 'sd1' : k.inFeatures === 1024 ? 'sd2' : 'unknown';
}

function resolveRank(run: ImportRun, layout: ShardLayout, file: string): number {
  const stated = layout.kv.lora_rank !== undefined ? Number(layout.kv.lora_rank) : undefined;
  const candidates: [string, number | undefined][] = [
    ['--rank', run.opts.rank], [`the set "${run.opts.name}"`, run.config?.rank], ["the shard's lora_rank metadata", stated],
  ];
  const given = candidates.filter((c): c is [string, number] => c[1] !== undefined);
  for (const [what, r] of given) {
    if (!Number.isInteger(r) || r < 1) throw new AuditError('BAD_SHARD', `${what} gives rank ${r}, not a positive integer`, file);
  }
  if (given.length > 1 && given.some((g) => g[1] !== given[0][1])) {
    throw new AuditError('BAD_SHARD', `the rank does not match the set's configuration: ${given.map(([w, r]) => `${w} says ${r}`).join(', ')}`, file);
  }
  if (given.length > 0) return given[0][1];
  const inferred = inferRank(layout.modules);
  if (inferred === null) {
    throw new AuditError('BAD_SHARD', 'cannot tell the LoRA rank from the column lengths (not the widths of an SD 1.x/2.x UNet); pass --rank', file);
  }
  return inferred;
}

/** Refuses a shard whose columns cannot belong to the set: other modules, or (from the footer) another rank. */
function checkAgainstConfig(config: ReferenceConfig, layout: ShardLayout, file: string): void {
  const want = new Set(config.modules.map((m) => m.id));
  const have = new Set(layout.modules.map((m) => m.id));
  const missing = [...want].filter((id) => !have.has(id));
  const extra = [...have].filter((id) => !want.has(id));
  if (missing.length || extra.length) {
    throw new AuditError('BAD_SHARD',
      `its modules do not match the set's configuration (${config.modules.length} modules): ` +
      `${missing.length ? `missing ${missing.length} (e.g. ${missing[0]})` : ''}${missing.length && extra.length ? ', ' : ''}` +
      `${extra.length ? `${extra.length} not in the set (e.g. ${extra[0]})` : ''}`, file);
  }
  const shapes = new Map(config.modules.map((m) => [m.id, m]));
  for (const m of layout.modules) {
    const s = shapes.get(m.id)!;
    const a = config.rank * s.inFeatures;
    const b = s.outFeatures * config.rank;
    // The footer's counts are per-row averages: exact when every row has the same length. When they are
    // whole numbers and differ, the whole shard has another shape (another rank or model), not one bad row.
    if (Number.isInteger(m.downLength) && Number.isInteger(m.upLength) && (m.downLength !== a || m.upLength !== b)) {
      throw new AuditError('BAD_SHARD',
        `its columns do not match the set's configuration (rank ${config.rank}): ${m.id} holds ${m.downLength} + ${m.upLength} values per row, ` +
        `the set expects ${a} + ${b} (${s.outFeatures}×${s.inFeatures}); another rank or another base model?`, file);
    }
  }
}

function groupModules(layout: ShardLayout): ShardModuleColumns[][] {
  const groups: ShardModuleColumns[][] = [];
  let current: ShardModuleColumns[] = [];
  let bytes = 0;
  const rows = Math.max(1, layout.largestRowGroup);
  for (const m of layout.modules) {
    const b = (m.downLength + m.upLength) * 8 * rows;
    if (current.length > 0 && bytes + b > GROUP_BUDGET_BYTES) { groups.push(current); current = []; bytes = 0; }
    current.push(m);
    bytes += b;
  }
  if (current.length) groups.push(current);
  return groups;
}

/** Imports one shard; throws an AuditError naming the file when the shard as a whole is unusable. */
async function importShard(run: ImportRun, file: string): Promise<void> {
  const fileName = shardFileName(file);
  const profile = run.opts.profile;
  const before = identityOf(await stat(file, { bigint: true }));
  const size = Number(before.size);
  await checkMagic(file, size);
  // The hash runs on a worker thread from the start. A shard whose name and size match one already in
  // the set is probably a re-run: its hash is awaited first and the shard skipped. A new shard is hashed
  // while DuckDB decodes it and this thread computes features; the hash is awaited before the commit.
  const hashing = hashShard(file, (bytes) => run.progress({ phase: 'hashing', bytesDone: run.bytesBefore + bytes, file }));
  const stopHashing = () => hashing.stop();
  run.opts.signal?.addEventListener('abort', stopHashing, { once: true });
  const skipIfKnown = (sha256: string): boolean => {
    if (!run.shas.has(sha256)) return false;
    run.report.skipped.push({ file: fileName, sha256, reason: `already in set "${run.opts.name}" (same SHA-256)` });
    run.progress({ phase: 'skipped', bytesDone: run.bytesBefore + size, file });
    return true;
  };
  let shard: ParquetShard | undefined;
  try {
    run.checkCancelled(file);
    if (run.shardKeys.has(ImportRun.shardKey(fileName, size)) && skipIfKnown((await hashing.done).sha256)) return;
    shard = await timed(profile, 'footer', () => ParquetShard.open(file));
    await readShard(run, file, shard, before, hashing, skipIfKnown);
  } finally {
    run.opts.signal?.removeEventListener('abort', stopHashing);
    hashing.stop();   // a no-op once the hash is done
    if (shard) timedSync(profile, 'close', () => shard!.close());
  }
}

/** Footer, columns, features, names, then (with the hash and the file unchanged) one commit. */
async function readShard(run: ImportRun, file: string, shard: ParquetShard, before: FileIdentity, hashing: HashJob,
  skipIfKnown: (sha256: string) => boolean): Promise<void> {
  const fileName = shardFileName(file);
  const profile = run.opts.profile;
  const size = Number(before.size);
  const layout = await timed(profile, 'footer', () => shard.layout());
  const rank = resolveRank(run, layout, file);
  if (run.config) checkAgainstConfig(run.config, layout, file);
  if (layout.ignored.length) {
    run.finding({ file: fileName, severity: 'info', code: 'IGNORED_COLUMNS',
      message: `${layout.ignored.length} column(s) that are not LoRA factors were ignored (e.g. ${layout.ignored[0]})` });
  }
  const rows = new RowStates(run, fileName);
  await readWeights(run, file, size, shard, layout, rank, rows);
  const shapes = settleShapes(run, layout, rank, rows, file);
  const adapters = await timed(profile, 'names', async () => collectAdapters(run, layout, rows, await shard.names(), fileName));

  const hashed = await timed(profile, 'hash-wait', () => hashing.done);
  addStage(profile, 'hash-worker', 0, hashed.cpuMs);
  // The bytes hashed are the bytes DuckDB read only if the file stayed the same file, unchanged, from
  // before the hash began until after DuckDB's last read.
  const after = identityOf(await stat(file, { bigint: true }));
  const change = fileChange(before, hashed.opened) ?? fileChange(before, hashed.hashed) ?? fileChange(before, after);
  if (change !== null || hashed.bytes !== size) {
    throw new AuditError('HASH_MISMATCH', `the file changed while it was being imported (${change ?? 'its length changed'}); ` +
      'nothing from it was stored: import it again once nothing is writing to it', file);
  }
  if (skipIfKnown(hashed.sha256)) return;
  const config: ReferenceConfig = run.config ?? {
    rank, family: 'diffusers-lora', method: 'lora', scaleRule: 'one', scale: 1,
    baseModel: baseModelHint(shapes), modules: shapes, sizes: [], names: [],
  };
  run.progress({ phase: 'committing', bytesDone: run.bytesBefore + size, file });
  await timed(profile, 'sqlite', () => run.commit({ fileName, size, sha256: hashed.sha256, rows: layout.rows }, adapters, {
    config,
    provenance: { source: 'lora-wise-parquet', importerVersion: IMPORTER_VERSION, createdAt: new Date().toISOString(), shards: [] },
  }));
  run.progress({ phase: 'committed', bytesDone: run.bytesBefore + size, file });
}

/** The weight columns, a group of modules at a time, each row checked and turned into features. */
async function readWeights(run: ImportRun, file: string, size: number, shard: ParquetShard, layout: ShardLayout, rank: number,
  rows: RowStates): Promise<void> {
  const profile = run.opts.profile;
  const moduleIndex = new Map(layout.modules.map((m, i) => [m.id, i]));
  const context: ChunkContext = {
    rank, scale: run.config?.scale ?? 1, moduleIndex, rows, arena: new Float32Arena(),
    configShapes: run.config ? new Map(run.config.modules.map((m) => [m.id, m])) : null,
  };
  const totalCompressed = layout.modules.reduce((s, m) => s + m.compressedBytes, 0) || 1;
  let compressedDone = 0;

  const groups = groupModules(layout);
  const chunks = shard.columnGroups(groups.map((group) => group.flatMap((m) => [m.down, m.up])), run.opts.signal,
    (work) => timedSync(profile, 'transfer', work));
  let groupsDone = 0;
  const progressTo = (done: number) => {
    for (; groupsDone < done; groupsDone++) compressedDone += groups[groupsDone].reduce((s, m) => s + m.compressedBytes, 0);
    run.progress({ phase: 'reading', bytesDone: run.bytesBefore + Math.round(size * compressedDone / totalCompressed), file });
  };
  // Read-ahead: DuckDB decodes the next chunk on its threads while this one's features are computed.
  for await (const { group: groupIndex, rows: chunk } of readAhead(chunks)) {
    if (groupIndex > groupsDone) progressTo(groupIndex);
    const group = groups[groupIndex];
    const { batch, batchRows } = timedSync(profile, 'check', () => checkChunk(chunk, group, context));
    if (batch.length) {
      run.checkCancelled(file);
      const features = await timed(profile, 'features', () => run.opts.engine.computeBatch(batch));
      features.forEach((fs, k) => {
        const state = rows.of(batchRows[k]);
        fs.forEach((f, j) => { state.features[moduleIndex.get(batch[k][j].id)!] = f; });
      });
    }
    releaseChunk(chunk);
  }
  progressTo(groups.length);
}

/** The set's module shapes: its own, or (a new set) what most rows of this first shard have; rows unlike them are left out. */
function settleShapes(run: ImportRun, layout: ShardLayout, rank: number, rows: RowStates, file: string): ModuleShape[] {
  if (run.config) return run.config.modules;
  const shapes = layout.modules.map((m, i) => {
    const count = new Map<string, number>();
    for (const [, s] of rows.entries()) if (!s.bad && s.shapes[i]) { const k = s.shapes[i].join('x'); count.set(k, (count.get(k) ?? 0) + 1); }
    const best = [...count.entries()].sort((x, y) => y[1] - x[1])[0];
    if (!best) throw new AuditError('BAD_SHARD', `no usable row: every row was left out (see the findings)`, file);
    const [inF, outF] = best[0].split('x').map(Number);
    return { id: m.id, inFeatures: inF, outFeatures: outF };
  });
  for (const [row, s] of rows.entries()) {
    if (s.bad) continue;
    const i = shapes.findIndex((m, k) => s.shapes[k][0] !== m.inFeatures || s.shapes[k][1] !== m.outFeatures);
    if (i >= 0) {
      rows.bad(row, 'SHAPE_MISMATCH', `${shapes[i].id} is ${s.shapes[i][1]}×${s.shapes[i][0]} at rank ${rank}, ` +
        `most rows have ${shapes[i].outFeatures}×${shapes[i].inFeatures}`);
    }
  }
  return shapes;
}

/** The rows to store: every row not left out, with a name, a training-set size, and features for every module. */
function collectAdapters(run: ImportRun, layout: ShardLayout, rows: RowStates,
  names: { row: number; name: string | null; label: number | null }[], fileName: string): AdapterToStore[] {
  const adapters: AdapterToStore[] = [];
  const seen = new Set<string>();
  for (const r of names) {
    const s = rows.of(r.row);
    if (s.bad) continue;
    if (r.name === null || r.label === null) { rows.bad(r.row, 'MISSING_NAME_OR_LABEL', 'name or label is NULL'); continue; }
    if (!isTrainingSetSize(r.label)) { rows.bad(r.row, 'BAD_LABEL', `label ${r.label} is not a training-set size (a whole number ≥ 1)`); continue; }
    const key = ImportRun.key(r.name, r.label);
    if (seen.has(key) || run.keys.has(key)) {
      rows.bad(r.row, 'DUPLICATE_ROW', `(name ${r.name}, label ${r.label}) is already ${seen.has(key) ? 'in this shard' : `in set "${run.opts.name}"`}`);
      continue;
    }
    if (s.features.length !== layout.modules.length || s.features.some((f) => f === undefined)) {
      rows.bad(r.row, 'MISSING_VALUES', 'some weight columns were never read for this row');
      continue;
    }
    seen.add(key);
    adapters.push({ name: r.name, label: r.label, source: `${fileName}#row${r.row}`, features: s.features as ModuleFeatures[] });
  }
  return adapters;
}

interface Unit { kind: 'shard' | 'folder'; path: string; bytes: number }

async function expand(paths: string[]): Promise<{ units: Unit[]; missing: { path: string; err: unknown }[] }> {
  const units: Unit[] = [];
  const missing: { path: string; err: unknown }[] = [];
  for (const p of paths) {
    try {
      localShardPath(p);
    } catch (err) {
      missing.push({ path: p, err });
      continue;
    }
    const st = await stat(p).catch((err: unknown) => { missing.push({ path: p, err }); return null; });
    if (!st) continue;
    if (!st.isDirectory()) { units.push({ kind: 'shard', path: p, bytes: st.size }); continue; }
    const entries = (await readdir(p)).sort();
    if (entries.includes(LABELS_FILE)) {
      let bytes = 0;
      for (const e of entries) bytes += (await stat(join(p, e))).size;
      units.push({ kind: 'folder', path: p, bytes });
      continue;
    }
    const shards = entries.filter((e) => e.endsWith('.parquet'));
    if (shards.length === 0) {
      missing.push({ path: p, err: new AuditError('NOT_FOUND', `the folder holds neither .parquet shards nor a ${LABELS_FILE}`, p) });
    }
    for (const e of shards) units.push({ kind: 'shard', path: join(p, e), bytes: (await stat(join(p, e))).size });
  }
  return { units, missing };
}

/** Imports LoRA-WiSE shards and labelled adapter folders into the set `opts.name`, creating it or
 *  continuing it. Throws AuditError CANCELLED when opts.signal aborts (what was committed stays, the
 *  set stays incomplete); every other per-file problem is in the report. */
export async function importReference(db: Database, opts: ImportOptions): Promise<ImportReport> {
  if (opts.paths.length === 0) throw new AuditError('BAD_REQUEST', 'nothing to import: give shard files or folders');
  const run = await ImportRun.begin(db, opts);
  if (run.provenance?.source === 'study') {
    // A study set's rows are its runs' outputs, and its provenance says which run each came from: a row
    // added from elsewhere would be counted as a run's, or left unexplained.
    throw new AuditError('ALREADY_EXISTS', `reference set "${opts.name}" was built by a study import: add to it with ` +
      'lora-audit study import of its bundle, or import these files under another --name');
  }
  const { units, missing } = await expand(opts.paths);
  for (const m of missing) run.fileError(m.path, m.err);
  run.bytesTotal = units.reduce((s, u) => s + u.bytes, 0);
  for (const unit of units) {
    run.checkCancelled();
    try {
      if (unit.kind === 'shard') await importShard(run, unit.path);
      else await importLabelledFolder(run, unit.path);
    } catch (err) {
      if (err instanceof AuditError && err.code === 'CANCELLED') throw err;
      run.fileError(unit.path, err);
    }
    run.bytesBefore += unit.bytes;
  }
  return run.finish();
}
