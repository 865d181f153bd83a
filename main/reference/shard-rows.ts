// The rows of a shard as the importer checks them: per row, the features computed so far and each
// module's shape, or the one finding that left it out; and per chunk, the checks every row passes
// before its factors reach the features engine (NULL, a length the rank divides, NaN or ±Inf, the
// set's shapes), with the factors narrowed to float32 where that loses nothing.
import type { ModuleWeights } from '../intake/model.ts';
import type { ModuleFeatures } from '../../native/types.ts';
import type { ImportRun } from './import-run.ts';
import type { RowColumns, ShardModuleColumns } from './parquet-shard.ts';
import type { ModuleShape } from './types.ts';

export interface RowState {
  features: (ModuleFeatures | undefined)[];   // by index in layout.modules
  shapes: [number, number][];                  // [in, out] by index in layout.modules
  bad: boolean;
}

/** Per row of a shard: the features computed so far, the shape of each module, and whether it was left out. */
export class RowStates {
  private readonly states = new Map<number, RowState>();
  private readonly run: ImportRun;
  private readonly fileName: string;

  constructor(run: ImportRun, fileName: string) {
    this.run = run;
    this.fileName = fileName;
  }

  of(row: number): RowState {
    let s = this.states.get(row);
    if (!s) { s = { features: [], shapes: [], bad: false }; this.states.set(row, s); }
    return s;
  }

  entries(): IterableIterator<[number, RowState]> { return this.states.entries(); }

  /** Leaves the row out, with one finding (its first problem) naming the file and row. */
  bad(row: number, code: string, message: string): void {
    const s = this.of(row);
    if (!s.bad) this.run.finding({ file: this.fileName, row, severity: 'error', code, message: `row ${row}: ${message}; the row was left out` });
    s.bad = true;
  }
}

/**
 * Narrowed copies of a chunk's factors, in one buffer reused from chunk to chunk: the engine is done
 * with a batch's factors once computeBatch resolves, and the next chunk is checked only after that.
 * (A fresh array per factor was a third of a gigabyte of garbage per shard.)
 */
export class Float32Arena {
  private buffer = new Float32Array(0);
  private used = 0;

  /** Room for a chunk of `values` values in all (so its slices never move); forgets the previous chunk's. */
  reserve(values: number): void {
    if (this.buffer.length < values) this.buffer = new Float32Array(values);
    this.used = 0;
  }

  take(length: number): Float32Array {
    const slice = this.buffer.subarray(this.used, this.used + length);
    this.used += length;
    return slice;
  }

  /** Gives back the last slice taken (its factor did not narrow). */
  giveBack(length: number): void { this.used -= length; }
}

/**
 * One pass over a flat factor: the index of its first NaN or ±Inf (-1 when none), and its values as
 * float32 when every one of them is a float32 exactly, else the float64 values themselves. LoRA-WiSE's
 * factors were trained in float32 and stored as double, so they narrow without loss, and the features
 * engine takes float32 factors on its fast path (WebAssembly SIMD, exact f32×f32 products summed in
 * float64: the same products as its float64 loops, in about half the time).
 */
function checkFactor(v: Float64Array, arena: Float32Arena): { nonFinite: number; values: Float32Array | Float64Array } {
  const narrow = arena.take(v.length);
  const n = v.length;
  let i = 0;
  for (; i < n; i++) {
    const x = v[i];
    narrow[i] = x;
    if (narrow[i] !== x || x - x !== 0) break;   // inexact, NaN (never equal to itself) or ±Inf
  }
  if (i === n) return { nonFinite: -1, values: narrow };
  arena.giveBack(n);
  for (; i < n; i++) if (v[i] - v[i] !== 0) return { nonFinite: i, values: v };
  return { nonFinite: -1, values: v };
}

/** What every chunk of a shard is checked against. */
export interface ChunkContext {
  rank: number;
  scale: number;
  /** The set's shapes by module id; null for a new set (its shapes are settled after the whole shard). */
  configShapes: Map<string, ModuleShape> | null;
  /** Index of each module in the shard's layout, where its features and shape are kept per row. */
  moduleIndex: Map<string, number>;
  rows: RowStates;
  arena: Float32Arena;
}

/**
 * Checks a chunk's rows for one group of modules, leaving bad rows out with a finding, and returns the
 * rest as one batch for the features engine (the float32 copies live in the arena until the next chunk).
 */
export function checkChunk(chunk: RowColumns[], group: ShardModuleColumns[], ctx: ChunkContext): { batch: ModuleWeights[][]; batchRows: number[] } {
  const { rank, scale, configShapes, moduleIndex, rows, arena } = ctx;
  const batch: ModuleWeights[][] = [];
  const batchRows: number[] = [];
  arena.reserve(chunk.reduce((sum, rc) => sum + rc.values.reduce((s, v) => s + (v?.length ?? 0), 0), 0));
  for (const rc of chunk) {
    const state = rows.of(rc.row);
    if (state.bad) continue;
    const modules: ModuleWeights[] = [];
    for (let g = 0; g < group.length && !state.bad; g++) {
      const m = group[g];
      const a = rc.values[2 * g];
      const b = rc.values[2 * g + 1];
      if (a === null || b === null || rc.hasNullElement[2 * g] || rc.hasNullElement[2 * g + 1]) {
        rows.bad(rc.row, 'NULL_VALUES', `${a === null || rc.hasNullElement[2 * g] ? m.down : m.up} holds NULL`);
        break;
      }
      if (a.length % rank !== 0 || b.length % rank !== 0 || a.length === 0 || b.length === 0) {
        const col = a.length % rank !== 0 || a.length === 0 ? m.down : m.up;
        const len = col === m.down ? a.length : b.length;
        rows.bad(rc.row, 'NOT_DIVISIBLE_BY_RANK', `${col} holds ${len} values, not a (non-zero) multiple of rank ${rank}`);
        break;
      }
      const checkedA = checkFactor(a, arena);
      const checkedB = checkedA.nonFinite < 0 ? checkFactor(b, arena) : checkedA;
      if (checkedA.nonFinite >= 0 || checkedB.nonFinite >= 0) {
        rows.bad(rc.row, 'NAN_VALUES', `${checkedA.nonFinite >= 0 ? m.down : m.up} holds NaN or infinite values ` +
          `(first at index ${checkedA.nonFinite >= 0 ? checkedA.nonFinite : checkedB.nonFinite})`);
        break;
      }
      const inF = a.length / rank;
      const outF = b.length / rank;
      const s = configShapes?.get(m.id);
      if (s && (s.inFeatures !== inF || s.outFeatures !== outF)) {
        rows.bad(rc.row, 'SHAPE_MISMATCH', `${m.id} is ${outF}×${inF} at rank ${rank}, the set has ${s.outFeatures}×${s.inFeatures}`);
        break;
      }
      state.shapes[moduleIndex.get(m.id)!] = [inF, outF];
      modules.push({ id: m.id, rank, inFeatures: inF, outFeatures: outF, scale, a: checkedA.values, b: checkedB.values });
    }
    if (state.bad) continue;
    batch.push(modules);
    batchRows.push(rc.row);
  }
  return { batch, batchRows };
}
