// Synthetic reference sets with known ground truth: singular values fall with dataset size (as the
// DSiRe paper found) plus a per-name offset shared by all sizes of that name (the image set's content)
// and per-adapter noise. Deterministic for a seed.
import type { ModuleFeatures } from '../../../native/types.ts';
import type { ReferenceAdapter, ReferenceConfig, ReferenceSet } from '../../../main/reference/types.ts';
import type { AdapterDescriptor } from '../../../main/dsire/types.ts';

export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

export interface SyntheticOptions {
  names?: number;
  sizes?: number[];
  modules?: number;
  rank?: number;
  seed?: number;
  noise?: number;      // per-adapter log-noise
  nameNoise?: number;  // per-name log-offset
  /** Module ids and shapes (default: `modules` made-up ones). */
  layout?: { id: string; inFeatures: number; outFeatures: number }[];
}

export function moduleShapes(M: number): { id: string; inFeatures: number; outFeatures: number }[] {
  const out = [];
  for (let l = 0; l < M; l++) {
    const width = [320, 640, 1280][l % 3];
    const cross = l % 4 === 1; // attn2.to_k reads the text embedding
    out.push({ id: `unet.blocks.${String(l).padStart(3, '0')}.${cross ? 'attn2.to_k' : 'attn1.to_q'}`, inFeatures: cross ? 768 : width, outFeatures: width });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

function sorted(x: Float64Array): Float64Array {
  return x.sort().reverse();
}

export function features(id: string, sigmaA: Float64Array, sigmaB: Float64Array, sigmaDW: Float64Array): ModuleFeatures {
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((a, b) => a + b * b, 0));
  const sq = sigmaDW.reduce((a, b) => a + b * b, 0);
  let h = 0;
  for (const s of sigmaDW) { const p = (s * s) / sq; if (p > 0) h -= p * Math.log(p); }
  return { id, rank: sigmaDW.length, sigmaA, sigmaB, sigmaDW, normA: norm(sigmaA), normB: norm(sigmaB), normDW: norm(sigmaDW), effectiveRank: Math.exp(h) };
}

export function syntheticReference(o: SyntheticOptions = {}): ReferenceSet {
  const names = o.names ?? 50;
  const sizes = o.sizes ?? [1, 2, 3, 4, 5, 6];
  const shapes = o.layout ? [...o.layout].sort((a, b) => (a.id < b.id ? -1 : 1)) : moduleShapes(o.modules ?? 8);
  const M = shapes.length;
  const r = o.rank ?? 8;
  const noise = o.noise ?? 0.06;
  const nameNoise = o.nameNoise ?? 0.05;
  const rand = rng(o.seed ?? 1);
  const nameOffset = Array.from({ length: names }, () => shapes.map(() => nameNoise * gauss(rand)));
  const adapters: ReferenceAdapter[] = [];
  let id = 1;
  for (let n = 0; n < names; n++) {
    for (const s of sizes) {
      const feats = shapes.map((m, l) => {
        const dw = new Float64Array(r);
        const a = new Float64Array(r);
        const b = new Float64Array(r);
        for (let j = 0; j < r; j++) {
          const base = Math.exp(-0.15 * j) * (1 + (0.3 * l) / M);
          dw[j] = base * s ** -0.5 * Math.exp(nameOffset[n][l] + noise * gauss(rand));
          a[j] = 0.2 * (1 + 0.5 * s ** -0.5 * Math.exp(-0.1 * j)) * Math.exp(0.5 * nameOffset[n][l] + noise * gauss(rand));
          b[j] = (dw[j] / a[j]) * Math.exp(noise * gauss(rand));
        }
        return features(m.id, sorted(a), sorted(b), sorted(dw));
      });
      adapters.push({ id: id++, name: `name_${String(n).padStart(2, '0')}`, label: s, source: `synthetic:${n}:${s}`, features: feats });
    }
  }
  const config: ReferenceConfig = {
    rank: r, family: 'diffusers-lora', method: 'lora', scaleRule: 'one', scale: 1, baseModel: 'sd1',
    modules: shapes, sizes: [...sizes], names: Array.from({ length: names }, (_, n) => `name_${String(n).padStart(2, '0')}`),
  };
  return {
    id: 1, name: 'synthetic', config,
    provenance: { source: 'generator', importerVersion: 'test', createdAt: '2026-01-01T00:00:00Z', shards: [] },
    adapters,
  };
}

/** Splits off the adapters of the last `held` names: a reference set without them, and them as queries. */
export function holdOut(ref: ReferenceSet, held: number): { ref: ReferenceSet; queries: ReferenceAdapter[] } {
  const names = [...new Set(ref.adapters.map((a) => a.name))];
  const out = new Set(names.slice(names.length - held));
  const kept = names.filter((n) => !out.has(n));
  return {
    ref: { ...ref, config: { ...ref.config, names: kept }, adapters: ref.adapters.filter((a) => !out.has(a.name)) },
    queries: ref.adapters.filter((a) => out.has(a.name)),
  };
}

export function descriptorFor(config: ReferenceConfig): AdapterDescriptor {
  return {
    family: config.family, method: config.method, scaleRule: config.scaleRule, scale: config.scale,
    baseModel: config.baseModel, ranks: [config.rank], modules: config.modules.map((m) => ({ ...m })), scales: [config.scale],
  };
}

export function queryOf(a: ReferenceAdapter, ref: ReferenceSet, extra: { claimedTrainingImages?: number } = {}) {
  return { file: a.source, sha256: 'f'.repeat(64), descriptor: descriptorFor(ref.config), features: a.features, backend: 'reference', ...extra };
}
