// Writes a parquet shard in the exact LoRA-WiSE schema (../shared/docs/LORA-WISE.md): `name` (string
// or int64), `label` int64, and per module two flat `list<double>` columns named by the diffusers key,
// `<id>.lora.down.weight` (A, r×in row-major) and `<id>.lora.up.weight` (B, out×r). Used by the
// generator for its mini benchmark and by the tests and benchmarks for fixtures.
//
// DuckDB is the only installed parquet writer: rows go through an appender into an in-memory table,
// then `COPY … TO … (FORMAT parquet)`. Each weight column is copied into DuckDB's list vector as one
// block of bytes through the bindings that @duckdb/node-api is built on: the public DuckDBListVector
// sets list elements one JS value at a time, far too slow for a 600 MB shard.
import { renameSync, rmSync } from 'node:fs';
import { DuckDBInstance, DuckDBDataChunk, BIGINT, VARCHAR, DOUBLE, LIST, type DuckDBType } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { ModuleWeights } from '../intake/model.ts';

export interface LoraWiseRow {
  name: string | number;
  label: number;
  modules: ModuleWeights[];
}

export interface LoraWiseWriteOptions {
  compression?: 'snappy' | 'zstd';
  /** Rows per parquet row group (DuckDB's ROW_GROUP_SIZE); default 2, as small shards still get several. */
  rowGroupSize?: number;
}

export function downColumn(id: string): string { return `${id}.lora.down.weight`; }
export function upColumn(id: string): string { return `${id}.lora.up.weight`; }

function quoteIdent(name: string): string { return `"${name.replaceAll('"', '""')}"`; }
function quoteString(s: string): string { return `'${s.replaceAll("'", "''")}'`; }

/** Checks that every row has the same modules with the same shapes, so the file has one schema. */
function layoutOf(rows: LoraWiseRow[]): { ids: string[]; nameType: 'string' | 'int' } {
  if (rows.length === 0) throw new Error('writeLoraWiseParquet: no rows to write');
  const first = rows[0].modules;
  const ids = first.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error('writeLoraWiseParquet: duplicate module ids in a row');
  const nameType = typeof rows[0].name === 'string' ? 'string' : 'int';
  rows.forEach((row, r) => {
    if ((typeof row.name === 'string' ? 'string' : 'int') !== nameType) {
      throw new Error(`writeLoraWiseParquet: row ${r}: name ${JSON.stringify(row.name)} is not a ${nameType} like row 0's`);
    }
    if (nameType === 'int' && !Number.isSafeInteger(row.name)) throw new Error(`writeLoraWiseParquet: row ${r}: name must be an integer or a string`);
    if (!Number.isSafeInteger(row.label)) throw new Error(`writeLoraWiseParquet: row ${r}: label must be an integer`);
    if (row.modules.length !== first.length) throw new Error(`writeLoraWiseParquet: row ${r} has ${row.modules.length} modules, row 0 has ${first.length}`);
    row.modules.forEach((m, i) => {
      const f = first[i];
      if (m.id !== f.id) throw new Error(`writeLoraWiseParquet: row ${r} module ${i} is ${m.id}, row 0 has ${f.id}`);
      if (m.a.length !== m.rank * m.inFeatures || m.b.length !== m.outFeatures * m.rank) {
        throw new Error(`writeLoraWiseParquet: row ${r} ${m.id}: A holds ${m.a.length} values, B ${m.b.length}, for rank ${m.rank} ${m.outFeatures}×${m.inFeatures}`);
      }
    });
  });
  return { ids, nameType };
}

/** Copies one flat float column into row `row` of a single-row list vector in one block. */
function setListColumn(chunk: DuckDBDataChunk, column: number, values: Float32Array | Float64Array): void {
  const f64 = values instanceof Float64Array ? values : Float64Array.from(values);
  const vector = duckdb.data_chunk_get_vector(chunk.chunk, column);
  duckdb.list_vector_reserve(vector, f64.length);
  duckdb.list_vector_set_size(vector, f64.length);
  const entry = new BigUint64Array([0n, BigInt(f64.length)]);
  duckdb.copy_data_to_vector(vector, 0, entry.buffer, 0, entry.byteLength);
  const child = duckdb.list_vector_get_child(vector);
  duckdb.copy_data_to_vector(child, 0, f64.buffer as ArrayBuffer, f64.byteOffset, f64.byteLength);
}

export async function writeLoraWiseParquet(path: string, rows: LoraWiseRow[], opts: LoraWiseWriteOptions = {}): Promise<void> {
  const { ids, nameType } = layoutOf(rows);
  const compression = opts.compression ?? 'zstd';
  const rowGroupSize = opts.rowGroupSize ?? 2;
  if (!Number.isInteger(rowGroupSize) || rowGroupSize < 1) throw new Error('writeLoraWiseParquet: rowGroupSize must be a positive integer');

  const columns: { name: string; type: DuckDBType }[] = [
    { name: 'name', type: nameType === 'string' ? VARCHAR : BIGINT },
    { name: 'label', type: BIGINT },
  ];
  for (const id of ids) {
    columns.push({ name: downColumn(id), type: LIST(DOUBLE) }, { name: upColumn(id), type: LIST(DOUBLE) });
  }

  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  const tmp = `${path}.partial-${process.pid}`;
  try {
    await conn.run(`CREATE TABLE shard (${columns.map((c) => `${quoteIdent(c.name)} ${c.type.toString()}`).join(', ')})`);
    const appender = await conn.createAppender('shard');
    const chunk = DuckDBDataChunk.create(columns.map((c) => c.type));
    for (const row of rows) {
      chunk.reset();
      chunk.rowCount = 1;
      chunk.setColumnValues(0, [nameType === 'string' ? String(row.name) : BigInt(row.name)]);
      chunk.setColumnValues(1, [BigInt(row.label)]);
      row.modules.forEach((m, i) => {
        setListColumn(chunk, 2 + 2 * i, m.a);
        setListColumn(chunk, 3 + 2 * i, m.b);
      });
      appender.appendDataChunk(chunk);
    }
    appender.closeSync();
    // Insertion order is kept (DuckDB's default), so row groups hold rows in the order given.
    // DuckDB's parquet writer cuts row groups only between the chunks it receives, and one table scan
    // is one chunk here; a UNION ALL of rowid ranges feeds it one chunk per row group.
    const parts: string[] = [];
    for (let start = 0; start < rows.length; start += rowGroupSize) {
      parts.push(`SELECT * FROM shard WHERE rowid >= ${start} AND rowid < ${start + rowGroupSize}`);
    }
    // The rank goes into the footer's key/value metadata (the columns stay exactly LoRA-WiSE's): shapes
    // are not stored, and small-width shards (the generator's) cannot have their rank inferred from
    // SD widths. Real LoRA-WiSE shards lack it; the importer then infers the rank.
    const ranks = new Set(rows[0].modules.map((m) => m.rank));
    const kv = ranks.size === 1 ? `, KV_METADATA {lora_rank: '${[...ranks][0]}'}` : '';
    await conn.run(`COPY (${parts.join(' UNION ALL ')}) TO ${quoteString(tmp)} (FORMAT parquet, COMPRESSION ${compression}, ROW_GROUP_SIZE ${rowGroupSize}${kv})`);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
