// One LoRA-WiSE parquet shard, read the way the format is laid out: magic bytes, then the footer
// (schema, row groups, per-column value counts, key/value metadata), then the weight columns of a few
// modules at a time, streamed chunk by chunk (DuckDB yields one chunk per row group), so a 860 MB
// shard never sits in memory whole. DuckDB is the fastest parquet reader measured here
// (../shared/docs/STACK.md); the flat float64 lists are taken from its vectors as one block per
// column through @duckdb/node-bindings, the layer @duckdb/node-api is built on, because the public
// list vector hands out one JS value per element.
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk, type DuckDBResult } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import { AuditError } from '../errors.ts';
import { canonicalIdFromKey } from '../intake/naming.ts';

export interface WeightColumn {
  column: string;          // the key as written in the file
  id: string;              // canonical module id
  part: 'A' | 'B';
}

export interface ShardModuleColumns {
  id: string;
  down: string;            // A column
  up: string;              // B column
  /** Values per row in the footer's counts (sum over row groups / rows); exact unless a row differs. */
  downLength: number;
  upLength: number;
  /** Compressed bytes of both columns in the file, for progress. */
  compressedBytes: number;
}

export interface ShardLayout {
  file: string;
  rows: number;
  rowGroups: number;
  largestRowGroup: number;
  nameType: 'string' | 'int';
  modules: ShardModuleColumns[];      // sorted by id
  /** Columns that are neither name, label nor a LoRA weight: ignored, reported. */
  ignored: string[];
  kv: Record<string, string>;
}

/** One row's flat factors for the modules asked for, as float64 (LoRA-WiSE stores double). */
export interface RowColumns {
  row: number;                         // 0-based row in the file
  values: (Float64Array | null)[];     // per requested column; null when the list is NULL
  hasNullElement: boolean[];           // per requested column
}

/**
 * Bounds on what a shard may declare, checked from its footer before any row is read: a LoRA-WiSE
 * shard holds a few hundred to a few thousand rows and 258 columns (name, label, 2 × 128 modules);
 * an SDXL-sized layout needs about 1,500. Far larger numbers mean a damaged or hostile footer.
 */
export const SHARD_LIMITS = { maxRows: 10_000_000, maxColumns: 20_000 };

function quoteIdent(name: string): string { return `"${name.replaceAll('"', '""')}"`; }
function quoteString(s: string): string { return `'${s.replaceAll("'", "''")}'`; }

/** `scheme://…`: DuckDB would hand such a name to httpfs (http, https, s3, gcs, hf, …). */
const URL_LIKE = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The absolute local path of a shard named on the command line or in a request; a URL is refused,
 *  so no name can ever make the importer fetch anything. Absolute, so DuckDB never expands a leading `~`. */
export function localShardPath(file: string): string {
  if (URL_LIKE.test(file)) {
    throw new AuditError('BAD_REQUEST', 'is a URL; reference shards are read from local files only and nothing is fetched from the network', file);
  }
  return resolve(file);
}

/**
 * A path as a DuckDB file pattern that matches only that file. DuckDB's readers expand `*`, `?` and
 * `[…]` (and `**` across folders) in every path, so a shard named `a*.parquet` would also pull in the
 * rows of `a1.parquet`, a file never hashed. A one-character class matches its character literally;
 * `{` is escaped too, against versions that expand `{a,b}`.
 */
export function literalPattern(path: string): string {
  return path.replace(/[*?[{]/g, '[$&]');
}

/**
 * A DuckDB that reads exactly one file and nothing else: extensions are never installed or loaded on
 * their own (no download, no httpfs), external access is off except for that file (its name and its
 * literal pattern), and the configuration is locked so no later statement can turn any of it back on.
 */
export async function lockedInstance(path: string, threads = 1): Promise<{ instance: DuckDBInstance; conn: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(threads),
    // preserve_insertion_order keeps rows in file order, so every pass over the file sees row k at the same place.
    preserve_insertion_order: 'true',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  const conn = await instance.connect();
  try {
    // In this order: allowed_paths cannot change once external access is off. (At create time DuckDB
    // refuses this combination, hence the SET statements.)
    const allowed = [...new Set([path, literalPattern(path)])].map(quoteString).join(', ');
    await conn.run(`SET allowed_paths = [${allowed}]`);
    // The importer reads a shard a few modules at a time, one query each; without this every query
    // parses the footer again (about 7 ms of CPU a query for a 258-column shard, measured).
    await conn.run('SET parquet_metadata_cache = true');
    await conn.run('SET enable_external_access = false');
    await conn.run('SET lock_configuration = true');
  } catch (err) {
    conn.closeSync();
    instance.closeSync();
    throw err;
  }
  return { instance, conn };
}

/** PAR1 at both ends, checked before DuckDB sees the file, so the error says what is wrong. */
export async function checkMagic(file: string, size: number): Promise<void> {
  if (size === 0) throw new AuditError('EMPTY_FILE', 'the file is empty, not a parquet shard', file);
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    if (head.toString('latin1') !== 'PAR1') {
      throw new AuditError('NOT_PARQUET', 'not a parquet file (it does not start with the PAR1 magic bytes)', file);
    }
    if (size < 12) throw new AuditError('TRUNCATED', `the file holds only ${size} bytes: the shard was cut short`, file);
    await fh.read(tail, 0, 4, size - 4);
    if (tail.toString('latin1') !== 'PAR1') {
      throw new AuditError('TRUNCATED', 'the shard is truncated: it has no parquet footer (no PAR1 at its end); copy it again', file);
    }
  } finally {
    await fh.close();
  }
}

export class ParquetShard {
  readonly file: string;
  /** Absolute path of the file: what DuckDB is allowed to open. */
  private readonly path: string;
  /** The path as a quoted SQL string literal that DuckDB's glob matches to this file only: the one way
   *  every query below names the file. */
  private readonly sqlPath: string;
  private readonly instance: DuckDBInstance;
  private readonly conn: DuckDBConnection;

  private constructor(file: string, path: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.file = file;
    this.path = path;
    this.sqlPath = quoteString(literalPattern(path));
    this.instance = instance;
    this.conn = conn;
  }

  /** Decoding threads: one per core, at most 4, as each thread may hold a row group's projected columns.
   *  (Leaving a core to the features, which run on the importing thread meanwhile, was slower on 2 cores:
   *  DuckDB then could not use the time that thread spends waiting; 5 of 6 paired runs, +0.25 GB RSS.) */
  static async open(file: string, threads = Math.max(1, Math.min(4, availableParallelism()))): Promise<ParquetShard> {
    const path = localShardPath(file);
    const { instance, conn } = await lockedInstance(path, threads);
    return new ParquetShard(file, path, instance, conn);
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }

  private source(): string {
    return `read_parquet(${this.sqlPath}, file_row_number = true)`;
  }

  /** DuckDB's own message, kept, under a code that says which kind of problem it is. */
  private fail(err: unknown, what: string): AuditError {
    if (err instanceof AuditError) return err;
    const message = err instanceof Error ? err.message : String(err);
    const truncated = /magic|truncat|out of range|too small|corrupt|Invalid Input|footer/i.test(message);
    return new AuditError(truncated ? 'TRUNCATED' : 'BAD_SHARD',
      `${what} failed: ${message.split('\n')[0]}${truncated ? ' (the shard looks damaged or cut short; copy it again)' : ''}`, this.file);
  }

  async layout(): Promise<ShardLayout> {
    try {
      const files = (await this.conn.runAndReadAll(
        `SELECT file_name, num_rows, num_row_groups FROM parquet_file_metadata(${this.sqlPath})`)).getRowObjectsJS();
      // The pattern is literal and access is limited to this file; checked anyway, as the rows of any
      // other file would be imported under this file's hash.
      if (files.length !== 1 || files[0].file_name !== this.path) {
        throw new AuditError('BAD_SHARD', `DuckDB resolved the name to ${files.length} file(s) (${files.map((f) => String(f.file_name)).join(', ')}), not to this one file`, this.file);
      }
      const meta = files[0];
      const rows = Number(meta.num_rows);
      const rowGroups = Number(meta.num_row_groups);
      if (!(rows <= SHARD_LIMITS.maxRows)) {
        throw new AuditError('LIMIT_EXCEEDED', `the footer declares ${rows} rows, more than the ${SHARD_LIMITS.maxRows}-row shard limit (maxRows)`, this.file,
          { limit: 'maxRows', value: SHARD_LIMITS.maxRows });
      }
      const described = (await this.conn.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${this.sqlPath})`))
        .getRowObjectsJS() as { column_name: string; column_type: string }[];
      if (described.length > SHARD_LIMITS.maxColumns) {
        throw new AuditError('LIMIT_EXCEEDED', `the shard has ${described.length} columns, more than the ${SHARD_LIMITS.maxColumns}-column limit (maxColumns)`, this.file,
          { limit: 'maxColumns', value: SHARD_LIMITS.maxColumns });
      }
      const chunks = (await this.conn.runAndReadAll(
        `SELECT row_group_id, row_group_num_rows, path_in_schema, num_values, total_compressed_size
         FROM parquet_metadata(${this.sqlPath})`)).getRowObjectsJS();
      const kvRows = (await this.conn.runAndReadAll(
        `SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata(${this.sqlPath})`)).getRowObjectsJS();
      const kv: Record<string, string> = {};
      for (const r of kvRows) kv[String(r.key)] = String(r.value);

      const types = new Map(described.map((d) => [d.column_name, d.column_type]));
      if (!types.has('label')) throw new AuditError('BAD_SHARD', 'no `label` column: not a LoRA-WiSE shard', this.file);
      if (!types.has('name')) throw new AuditError('BAD_SHARD', 'no `name` column: not a LoRA-WiSE shard', this.file);
      if (!/^(BIGINT|INTEGER|HUGEINT|UBIGINT|UINTEGER|SMALLINT)$/.test(types.get('label')!)) {
        throw new AuditError('BAD_SHARD', `column label is ${types.get('label')}, expected int64 (the dataset size)`, this.file);
      }
      const nameType = types.get('name') === 'VARCHAR' ? 'string' : 'int';

      let largestRowGroup = 0;
      const valuesByColumn = new Map<string, number>();
      const bytesByColumn = new Map<string, number>();
      for (const c of chunks) {
        largestRowGroup = Math.max(largestRowGroup, Number(c.row_group_num_rows));
        // path_in_schema is the column's dotted-free path joined with ', ': its first part is the column.
        const column = String(c.path_in_schema).split(', ')[0];
        valuesByColumn.set(column, (valuesByColumn.get(column) ?? 0) + Number(c.num_values));
        bytesByColumn.set(column, (bytesByColumn.get(column) ?? 0) + Number(c.total_compressed_size));
      }

      const byId = new Map<string, { down?: string; up?: string }>();
      const ignored: string[] = [];
      for (const [column, type] of types) {
        if (column === 'name' || column === 'label') continue;
        const parsed = canonicalIdFromKey(column);
        if (!parsed || (parsed.part !== 'A' && parsed.part !== 'B')) { ignored.push(column); continue; }
        if (type !== 'DOUBLE[]' && type !== 'FLOAT[]') {
          throw new AuditError('BAD_SHARD', `weight column ${column} is ${type}, expected list<double> (a flat matrix)`, this.file);
        }
        const entry = byId.get(parsed.id) ?? {};
        if (parsed.part === 'A') entry.down = column; else entry.up = column;
        byId.set(parsed.id, entry);
      }
      const modules: ShardModuleColumns[] = [];
      for (const [id, e] of byId) {
        if (!e.down || !e.up) {
          throw new AuditError('BAD_SHARD', `module ${id} has only its ${e.down ? 'down (A)' : 'up (B)'} column; LoRA-WiSE stores both`, this.file);
        }
        modules.push({
          id, down: e.down, up: e.up,
          downLength: rows > 0 ? (valuesByColumn.get(e.down) ?? 0) / rows : 0,
          upLength: rows > 0 ? (valuesByColumn.get(e.up) ?? 0) / rows : 0,
          compressedBytes: (bytesByColumn.get(e.down) ?? 0) + (bytesByColumn.get(e.up) ?? 0),
        });
      }
      if (modules.length === 0) throw new AuditError('BAD_SHARD', 'no LoRA weight columns (`unet.….lora.down.weight` / `.lora.up.weight`)', this.file);
      modules.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return { file: this.file, rows, rowGroups, largestRowGroup, nameType, modules, ignored, kv };
    } catch (err) {
      throw this.fail(err, 'reading the parquet footer');
    }
  }

  /** name and label of every row, in file order. */
  async names(): Promise<{ row: number; name: string | null; label: number | null }[]> {
    try {
      const rows = (await this.conn.runAndReadAll(
        `SELECT file_row_number AS r, CAST(name AS VARCHAR) AS name, label FROM ${this.source()} ORDER BY file_row_number`)).getRowObjectsJS();
      return rows.map((r) => ({
        row: Number(r.r),
        name: r.name === null ? null : String(r.name),
        label: r.label === null ? null : Number(r.label),
      }));
    } catch (err) {
      throw this.fail(err, 'reading the name and label columns');
    }
  }

  /**
   * Streams groups of weight columns, one query per group and one DuckDB chunk (≤ one row group) at a
   * time. The next group's query is opened on a second connection while this group's chunks are read,
   * so DuckDB decodes across the boundary instead of the importer waiting for each query to start.
   * `measure` wraps the copy of each chunk out of DuckDB (for profiling).
   */
  async *columnGroups(groups: string[][], signal?: AbortSignal,
    measure: <T>(work: () => T) => T = (work) => work()): AsyncGenerator<{ group: number; rows: RowColumns[] }> {
    const conns = [this.conn, await this.instance.connect()];
    const open = (g: number): Promise<DuckDBResult> => {
      const sql = `SELECT file_row_number, ${groups[g].map(quoteIdent).join(', ')} FROM ${this.source()}`;
      const started = conns[g % 2].stream(sql).catch((err: unknown) => { throw this.fail(err, `reading columns ${groups[g][0]}…`); });
      started.catch(() => undefined);   // awaited in turn; never an unhandled rejection meanwhile
      return started;
    };
    let next: Promise<DuckDBResult> | null = groups.length > 0 ? open(0) : null;
    try {
      for (let g = 0; next !== null; g++) {
        const result = await next;
        next = g + 1 < groups.length ? open(g + 1) : null;
        for (;;) {
          if (signal?.aborted) throw new AuditError('CANCELLED', 'the import was cancelled', this.file);
          let chunk: DuckDBDataChunk | null;
          try {
            chunk = await result.fetchChunk();
          } catch (err) {
            throw this.fail(err, `reading columns ${groups[g][0]}…`);
          }
          if (!chunk || chunk.rowCount === 0) break;
          const rows = measure(() => rowsOfChunk(chunk, groups[g].length));
          yield { group: g, rows };
        }
      }
    } finally {
      await next?.catch(() => undefined);   // a query still starting finishes before its connection closes
      conns[1].closeSync();
    }
  }
}

/**
 * Frees the copies a chunk's values live in now, instead of at V8's next collection: V8 counts them as
 * external memory and starts a full collection every 64 MB of it, which was a collection every few
 * chunks. Call once nothing holds the chunk's values (its features are computed). A buffer the runtime
 * cannot detach is left to the collector.
 */
export function releaseChunk(rows: RowColumns[]): void {
  const buffers = new Set<ArrayBuffer>();
  for (const r of rows) for (const v of r.values) if (v) buffers.add(v.buffer as ArrayBuffer);
  for (const b of buffers) {
    try {
      // ES2024 ArrayBuffer.prototype.transfer (Node ≥ 21, Electron's V8): detaches b and drops its memory.
      (b as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer }).transfer?.(0);
    } catch {
      // not detachable here: the collector frees it
    }
  }
}

function validityBits(vector: duckdb.Vector, count: number): BigUint64Array | null {
  const words = Math.ceil(count / 64);
  if (words === 0) return null;
  const bytes = duckdb.vector_get_validity(vector, words * 8);
  return bytes ? new BigUint64Array(bytes.buffer, bytes.byteOffset, words) : null;
}

function isValid(bits: BigUint64Array | null, i: number): boolean {
  return bits === null || (bits[i >>> 6] & (1n << BigInt(i & 63))) !== 0n;
}

function rowsOfChunk(chunk: DuckDBDataChunk, columnCount: number): RowColumns[] {
  const n = chunk.rowCount;
  // file_row_number: BIGINT, never NULL; read as one block (the public accessor makes a JS value per row).
  const rowBytes = duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk.chunk, 0), n * 8);
  const rowNumbers = new BigInt64Array(rowBytes.buffer, rowBytes.byteOffset, n);
  const out: RowColumns[] = Array.from(rowNumbers, (row) => ({ row: Number(row), values: [], hasNullElement: [] }));
  for (let c = 0; c < columnCount; c++) {
    const vector = duckdb.data_chunk_get_vector(chunk.chunk, c + 1);
    const entryBytes = duckdb.vector_get_data(vector, n * 16);
    const entries = new BigUint64Array(entryBytes.buffer, entryBytes.byteOffset, n * 2);
    const listValid = validityBits(vector, n);
    const child = duckdb.list_vector_get_child(vector);
    const size = duckdb.list_vector_get_size(vector);
    const childType = duckdb.get_type_id(duckdb.vector_get_column_type(child));
    const isFloat = childType === duckdb.Type.FLOAT;
    const raw = duckdb.vector_get_data(child, size * (isFloat ? 4 : 8));
    // vector_get_data copies into a fresh ArrayBuffer, so the views below outlive the chunk.
    const all = isFloat
      ? Float64Array.from(new Float32Array(raw.buffer, raw.byteOffset, size))
      : new Float64Array(raw.buffer, raw.byteOffset, size);
    const elementValid = validityBits(child, size);
    for (let i = 0; i < n; i++) {
      if (!isValid(listValid, i)) { out[i].values.push(null); out[i].hasNullElement.push(false); continue; }
      const offset = Number(entries[2 * i]);
      const length = Number(entries[2 * i + 1]);
      out[i].values.push(all.subarray(offset, offset + length));
      let nullElement = false;
      if (elementValid) for (let k = offset; k < offset + length && !nullElement; k++) nullElement = !isValid(elementValid, k);
      out[i].hasNullElement.push(nullElement);
    }
  }
  return out;
}

/** Pulls the next item while the consumer works on the current one (at most one item ahead). */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const it = source[Symbol.asyncIterator]();
  let next = it.next();
  try {
    for (;;) {
      const r = await next;
      if (r.done) return;
      next = it.next();
      next.catch(() => undefined);   // surfaces at the next await, not as an unhandled rejection
      yield r.value;
    }
  } finally {
    await next.catch(() => undefined);
    await it.return?.(undefined);
  }
}

export function shardFileName(file: string): string {
  return basename(file);
}
