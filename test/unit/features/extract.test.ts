// Adapter files → features, through intake: F16/BF16 factors upcast correctly, the real adapters give
// finite features, grouping does not change results, and adapters without A/B factors are refused.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import { extractFeatures } from '../../../main/features/extract.ts';
import { featuresToJson, moduleFeaturesFromJson } from '../../../main/features/json.ts';
import { diffusersKey } from '../../../main/intake/naming.ts';
import { openAdapter } from '../../../main/intake/open.ts';
import { encodeSafetensors, type TensorToWrite } from '../../../main/intake/safetensors-writer.ts';
import type { CanonicalAdapter } from '../../../main/intake/model.ts';
import { createFeatureEngine } from '../../../native/engine.ts';
import { seededRandom } from '../../../native/probe.ts';
import { referenceFeatures } from '../../../native/reference.ts';
import type { FeatureEngine } from '../../../native/types.ts';
import { isDescending, relErr } from './helpers.ts';
import { haveRealAdapters, realAdapter, realAdaptersDir } from '../../fixtures.ts';


let dir: string;
let engine: FeatureEngine;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'features-'));
  engine = await createFeatureEngine({ backend: 'cpu' });
});
afterAll(() => {
  engine.dispose();
  rmSync(dir, { recursive: true, force: true });
});

async function withAdapter<T>(path: string, fn: (a: CanonicalAdapter) => Promise<T>): Promise<T> {
  const adapter = await openAdapter(path);
  try {
    return await fn(adapter);
  } finally {
    await adapter.source.close();
  }
}

// Values with at most 8 significant bits and small exponents are exact in F32, F16 and BF16 alike,
// so the three files hold the same numbers and must give the same features, bit for bit.
const RANK = 4;
const IDS = [
  'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q',
  'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_k',
];
const SHAPES: Record<string, [number, number]> = { [IDS[0]]: [40, 40], [IDS[1]]: [64, 40] }; // [in, out]
function exactValues(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => (Math.floor(rand() * 255) - 127) / 256);
}
const rand = seededRandom(77);
const factors = IDS.map((id) => {
  const [inF, outF] = SHAPES[id];
  return { id, inF, outF, a: exactValues(RANK * inF, rand), b: exactValues(outF * RANK, rand) };
});

function writeAdapter(dtype: TensorToWrite['dtype']): string {
  const tensors: TensorToWrite[] = factors.flatMap((f) => [
    { key: diffusersKey(f.id, 'A'), dtype, shape: [RANK, f.inF], data: f.a },
    { key: diffusersKey(f.id, 'B'), dtype, shape: [f.outF, RANK], data: f.b },
  ]);
  const path = join(dir, `adapter-${dtype}.safetensors`);
  writeFileSync(path, encodeSafetensors(tensors));
  return path;
}

describe('features from adapter files', () => {
  it('F16 and BF16 factors are upcast exactly: same features as F32 and as the float64 values', async () => {
    const results = new Map<string, Float64Array[]>();
    for (const dtype of ['F32', 'F16', 'BF16', 'F64'] as const) {
      const f = await withAdapter(writeAdapter(dtype), (a) => extractFeatures(a, engine));
      expect(f.modules.map((m) => m.id)).toEqual([...IDS].sort());
      results.set(dtype, f.modules.map((m) => m.sigmaDW));
    }
    const f32 = results.get('F32')!;
    for (const dtype of ['F16', 'BF16', 'F64']) {
      results.get(dtype)!.forEach((s, i) => expect(relErr(s, f32[i])).toBeLessThan(1e-14));
    }
    const direct = factors.map((f) => referenceFeatures({ id: f.id, rank: RANK, inFeatures: f.inF, outFeatures: f.outF, scale: 1, a: f.a, b: f.b }));
    direct.forEach((d, i) => expect(relErr(f32[i], d.sigmaDW)).toBeLessThan(1e-12));
  });

  it.skipIf(!haveRealAdapters)('reading in small groups gives the same features as reading the adapter at once', async () => {
    const path = realAdapter('diffusers-sd15-attnproc-catundchat-animal/pytorch_lora_weights.safetensors');
    await withAdapter(path, async (a) => {
      const whole = await extractFeatures(a, engine);
      const grouped = await extractFeatures(a, engine, { groupValues: 5000 });
      expect(grouped.modules.map((m) => m.id)).toEqual(whole.modules.map((m) => m.id));
      grouped.modules.forEach((m, i) => expect([...m.sigmaDW]).toEqual([...whole.modules[i].sigmaDW]));
    });
  });

  it.skipIf(!haveRealAdapters)('refuses an adapter with no LoRA A/B modules (LyCORIS LoKr) with NO_MODULES', async () => {
    const path = realAdapter('lycoris-lokr-sd15-dim4-smartfalcon/smart_falcon_4_lokr.safetensors');
    await withAdapter(path, async (a) => {
      await expect(extractFeatures(a, engine)).rejects.toSatisfy((e: unknown) => isAuditError(e, 'NO_MODULES') && /lokr/.test((e as Error).message));
    });
  });

  it.skipIf(!haveRealAdapters)('the real adapters give finite, descending features for every module, matching the float64 reference', async () => {
    const reference = await createFeatureEngine({ backend: 'reference' });
    let checked = 0;
    try {
      for (const name of readdirSync(realAdaptersDir).sort()) {
        const folder = join(realAdaptersDir, name);
        if (!existsSync(folder) || name.endsWith('.md')) continue;
        for (const file of readdirSync(folder).filter((f) => /\.(safetensors|bin)$/.test(f))) {
          let adapter: CanonicalAdapter;
          try {
            adapter = await openAdapter(join(folder, file));
          } catch (e) {
            expect(isAuditError(e)).toBe(true); // the truncated SDXL file is refused by intake
            continue;
          }
          try {
            if (adapter.modules.length === 0) continue;
            const f = await extractFeatures(adapter, engine);
            const ref = await extractFeatures(adapter, reference);
            expect(f.modules).toHaveLength(adapter.modules.length);
            f.modules.forEach((m, i) => {
              const all = [...m.sigmaA, ...m.sigmaB, ...m.sigmaDW, m.normA, m.normB, m.normDW, m.effectiveRank];
              expect(all.every(Number.isFinite), `${name}/${file} ${m.id}`).toBe(true);
              expect(m.sigmaDW).toHaveLength(m.rank);
              expect(isDescending(m.sigmaDW) && isDescending(m.sigmaA) && isDescending(m.sigmaB)).toBe(true);
              // real factors can be ill-conditioned: compare against the largest value, not each one
              const r = ref.modules[i];
              const top = r.sigmaDW[0];
              for (let j = 0; j < m.rank; j++) expect(Math.abs(m.sigmaDW[j] - r.sigmaDW[j])).toBeLessThanOrEqual(1e-9 * top);
            });
            const json = featuresToJson(adapter.identity, f, engine.info);
            expect(JSON.parse(JSON.stringify(json)).modules[0].sigmaDW).toEqual(Array.from(f.modules[0].sigmaDW));
            expect(moduleFeaturesFromJson(json.modules[0]).sigmaDW).toEqual(f.modules[0].sigmaDW);
            checked++;
          } finally {
            await adapter.source.close();
          }
        }
      }
    } finally {
      reference.dispose();
    }
    expect(checked).toBeGreaterThanOrEqual(10);
  });
});
