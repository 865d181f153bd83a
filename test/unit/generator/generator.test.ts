// The mini LoRA-WiSE generator, on a seconds-scale configuration: regeneration is byte-identical,
// the files are what their family's readers expect (and say the true image count where the family
// can), and the parquet shard imports through the reference importer with the features of the same
// adapters read as standalone files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { generate, type GenerateResult, type Manifest } from '../../../main/generator/benchmark.ts';
import { effectOptions, smallOptions } from '../../../main/generator/presets.ts';
import { formatEffect } from '../../../main/generator/effect.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { extractFeatures } from '../../../main/features/extract.ts';
import { openDatabase } from '../../../main/services/database.ts';
import { importReference } from '../../../main/reference/import-parquet.ts';
import { loadReferenceSet } from '../../../main/reference/store.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import type { FeatureEngine, ModuleFeatures } from '../../../native/types.ts';

let dir: string;
let a: GenerateResult;
let b: GenerateResult;
let engine: FeatureEngine;

// Two reference rows also written standalone in all three families: the "same adapters" that the
// import test compares; plus the held-out evidence of the small preset.
const options = (out: string) => {
  const o = smallOptions(out);
  return {
    ...o,
    evidence: [
      ...o.evidence,
      { family: 'diffusers' as const, name: 1, size: 3, fromReference: true },
      { family: 'peft' as const, name: 1, size: 3, fromReference: true },
      { family: 'kohya' as const, name: 2, size: 6, fromReference: true },
    ],
  };
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'generator-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
  a = await generate(options(join(dir, 'a')));
  b = await generate(options(join(dir, 'b')));
}, 240_000);
afterAll(() => {
  engine?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function files(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p); else out.push(relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}

const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

async function parquetRows(path: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const c = await inst.connect();
  try {
    return (await c.runAndReadAll(`SELECT * FROM read_parquet('${path.replaceAll("'", "''")}')`)).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    inst.closeSync();
  }
}

describe('regeneration with the same seed', () => {
  it('writes the same files, with identical bytes for every adapter file and the manifest', () => {
    const fa = files(a.out), fb = files(b.out);
    expect(fa).toEqual(fb);
    expect(fa.filter((f) => f.endsWith('.safetensors')).length).toBe(6);
    for (const f of fa.filter((x) => !x.endsWith('.parquet'))) expect(sha(join(b.out, f)), f).toBe(sha(join(a.out, f)));
  });

  it('writes a parquet shard with identical bytes (DuckDB\'s writer is byte-stable here) and identical values', async () => {
    expect(sha(b.parquet)).toBe(sha(a.parquet));
    const [ra, rb] = [await parquetRows(a.parquet), await parquetRows(b.parquet)];
    expect(ra).toEqual(rb);
  });
});

describe('what it writes', () => {
  it('holds one LoRA-WiSE row per (name, size), the 128 SD-1.x modules as float64 lists', async () => {
    const rows = await parquetRows(a.parquet);
    const m = JSON.parse(readFileSync(a.manifest, 'utf8')) as Manifest;
    expect(rows.length).toBe(9);
    expect(rows.map((r) => [r.name, Number(r.label)])).toEqual(m.reference.names.flatMap((n) => [1, 3, 6].map((s) => [n, s])));
    const cols = Object.keys(rows[0]);
    expect(cols.length).toBe(2 + 256);
    expect(cols).toContain('unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight');
    expect(cols).toContain('unet.up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0.lora.up.weight');
    // rank 4: attn2.to_k reads the 24-wide context, down blocks.0 is 8 wide, mid is 32 wide
    expect((rows[0]['unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k.lora.down.weight'] as number[]).length).toBe(4 * 24);
    expect((rows[0]['unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_v.lora.up.weight'] as number[]).length).toBe(32 * 4);
    // float64 cells hold float32 values, as LoRA-WiSE's do
    const cell = rows[4]['unet.up_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight'] as number[];
    expect(cell.some((v) => v !== 0)).toBe(true);
    for (const v of cell) expect(Math.fround(v)).toBe(v);
  });

  it('writes evidence files each family reader recognises, with rank, scale 1 and the true image count', async () => {
    const m = JSON.parse(readFileSync(a.manifest, 'utf8')) as Manifest;
    const expectedFamily = { diffusers: 'diffusers-lora', peft: 'peft', kohya: 'kohya' } as const;
    for (const ad of m.adapters) {
      const opened = await openAdapter(join(a.out, ad.file));
      try {
        expect(sha(join(a.out, ad.file))).toBe(ad.sha256);
        expect(opened.family, ad.file).toBe(expectedFamily[ad.family]);
        expect(opened.modules.length).toBe(128);
        expect(opened.ranks).toEqual([ad.rank]);
        expect(new Set(opened.modules.map((x) => x.scale))).toEqual(new Set([1]));
        if (ad.family === 'kohya') {
          expect(opened.metadata.kohya?.realImageCount).toBe(ad.size);
          expect(opened.metadata.kohya?.sshsModelHash?.matches).toBe(true);
        }
      } finally {
        await opened.source.close();
      }
    }
  });
});

describe('through the reference importer', () => {
  it('stores, for each reference row, the features of the same adapter read as a standalone file', async () => {
    const db = await openDatabase(join(dir, 'ref.sqlite'));
    try {
      const report = await importReference(db, { name: 'mini', paths: [a.parquet], engine });
      expect(report.errors).toEqual([]);
      const set = await loadReferenceSet(db, 'mini');
      expect(set.adapters.length).toBe(9);
      expect(set.config.rank).toBe(4);
      const m = JSON.parse(readFileSync(a.manifest, 'utf8')) as Manifest;
      const copies = m.adapters.filter((x) => x.file.includes('from-reference'));
      expect(copies.length).toBe(3);
      for (const c of copies) {
        const stored = set.adapters.find((r) => r.name === c.name && r.label === c.size)!;
        expect(stored, `${c.name}/${c.size}`).toBeTruthy();
        const opened = await openAdapter(join(a.out, c.file));
        try {
          const direct = (await extractFeatures(opened, engine)).modules;
          expect(relDiff(stored.features, direct), c.file).toBeLessThan(1e-9);
        } finally {
          await opened.source.close();
        }
      }
    } finally {
      await db.close();
    }
  });
});

function relDiff(got: ModuleFeatures[], want: ModuleFeatures[]): number {
  expect(got.map((g) => g.id)).toEqual(want.map((w) => w.id));
  let worst = 0;
  got.forEach((g, i) => {
    const w = want[i];
    for (const [x, y] of [[g.sigmaA, w.sigmaA], [g.sigmaB, w.sigmaB], [g.sigmaDW, w.sigmaDW]] as const) {
      for (let k = 0; k < y.length; k++) worst = Math.max(worst, Math.abs(x[k] - y[k]) / Math.max(Math.abs(y[k]), 1e-12));
    }
  });
  return worst;
}

describe('the paper\'s effect', () => {
  it('is present in a small run: ‖ΔW‖_F and σ1(ΔW) are larger after 1 image than after 6', async () => {
    const r = await generate(effectOptions(join(dir, 'effect')));
    const [one, six] = r.effect.rows;
    expect([one.size, six.size]).toEqual([1, 6]);
    expect(one.meanNorm, formatEffect(r.effect)).toBeGreaterThan(six.meanNorm);
    expect(one.meanSigma1).toBeGreaterThan(six.meanSigma1);
    expect(r.effect.present).toBe(true);
  }, 240_000);
});
