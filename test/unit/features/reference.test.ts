// The float64 reference against dense linear algebra, and the identities DSiRe's features rest on.
import { Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { isAuditError } from '../../../main/errors.ts';
import { cpuFeatures } from '../../../native/cpu.ts';
import { seededRandom, wellConditionedModule } from '../../../native/probe.ts';
import { referenceFeatures } from '../../../native/reference.ts';
import { effectiveRank } from '../../../native/spectrum.ts';
import { denseDeltaW, isDescending, matrixOf, randomModule, relErr, singularValues } from './helpers.ts';

const small = [
  randomModule(1, 4, 12, 10, 0.75),
  randomModule(2, 8, 40, 24, 2),
  randomModule(3, 5, 9, 30, -1.5), // odd rank, wide B, negative scale
  randomModule(4, 16, 64, 48, 1 / 16),
];

describe('float64 reference features', () => {
  for (const m of small) {
    const label = `rank ${m.rank}, ${m.outFeatures}×${m.inFeatures}, scale ${m.scale}`;
    it(`σ(ΔW) equals the dense SVD of scale·B·A (${label})`, () => {
      const f = referenceFeatures(m);
      expect(f.sigmaDW).toHaveLength(m.rank);
      expect(isDescending(f.sigmaDW)).toBe(true);
      expect(relErr(f.sigmaDW, singularValues(denseDeltaW(m), m.rank))).toBeLessThan(1e-9);
    });
    it(`σ(A), σ(B) equal their dense SVDs (${label})`, () => {
      const f = referenceFeatures(m);
      expect(relErr(f.sigmaA, singularValues(matrixOf(m.a, m.rank, m.inFeatures), m.rank))).toBeLessThan(1e-10);
      expect(relErr(f.sigmaB, singularValues(matrixOf(m.b, m.outFeatures, m.rank), m.rank))).toBeLessThan(1e-10);
    });
    it(`Σσ(ΔW)² = ‖ΔW‖_F² computed densely (${label})`, () => {
      const f = referenceFeatures(m);
      const dense = denseDeltaW(m).norm('frobenius');
      expect(Math.abs(f.normDW - dense) / dense).toBeLessThan(1e-12);
      const sumSq = f.sigmaDW.reduce((s, v) => s + v * v, 0);
      expect(Math.abs(sumSq - dense * dense) / (dense * dense)).toBeLessThan(1e-12);
      expect(Math.abs(f.normA - matrixOf(m.a, m.rank, m.inFeatures).norm('frobenius'))).toBeLessThan(1e-12 * f.normA);
      expect(Math.abs(f.normB - matrixOf(m.b, m.outFeatures, m.rank).norm('frobenius'))).toBeLessThan(1e-12 * f.normB);
    });
  }

  it('σ(ΔW) is invariant to (B·G, G⁻¹·A) for a random invertible G, while σ(A) and σ(B) are not', () => {
    const m = randomModule(7, 6, 50, 40, 0.5);
    const rand = seededRandom(99);
    const G = new Matrix(6, 6);
    for (let i = 0; i < 6; i++) for (let j = 0; j < 6; j++) G.set(i, j, (i === j ? 1.5 : 0) + rand() - 0.5);
    const Gi = inverse(G);
    const A2 = Gi.mmul(matrixOf(m.a, 6, 50));
    const B2 = matrixOf(m.b, 40, 6).mmul(G);
    const m2 = { ...m, a: Float64Array.from(A2.to1DArray()), b: Float64Array.from(B2.to1DArray()) };
    const f1 = referenceFeatures(m);
    const f2 = referenceFeatures(m2);
    expect(relErr(f2.sigmaDW, f1.sigmaDW)).toBeLessThan(1e-9);
    expect(relErr(f2.sigmaA, f1.sigmaA)).toBeGreaterThan(1e-3);
    // the fast path sees the same invariance
    expect(relErr(cpuFeatures(m2).sigmaDW, f1.sigmaDW)).toBeLessThan(1e-9);
  });

  it('a zero row in A gives a zero singular value, not NaN', () => {
    const m = randomModule(11, 8, 32, 24, 1);
    const a = Float64Array.from(m.a);
    a.fill(0, 3 * 32, 4 * 32);
    for (const f of [referenceFeatures({ ...m, a }), cpuFeatures({ ...m, a })]) {
      expect(f.sigmaA[7]).toBe(0);
      expect(f.sigmaDW[7]).toBe(0);
      expect(f.sigmaDW.slice(0, 7).every((v) => v > 0)).toBe(true);
      expect([...f.sigmaA, ...f.sigmaB, ...f.sigmaDW, f.normDW, f.effectiveRank].every(Number.isFinite)).toBe(true);
      expect(relErr(f.sigmaDW.slice(0, 7), singularValues(denseDeltaW({ ...m, a }), 7))).toBeLessThan(1e-8);
    }
  });

  it('non-finite weights (which intake reports) give NaN features for that module, not a crash or a hang', () => {
    const m = randomModule(15, 4, 16, 16);
    const a = Float64Array.from(m.a);
    a[5] = NaN;
    for (const f of [referenceFeatures({ ...m, a }), cpuFeatures({ ...m, a })]) {
      expect([...f.sigmaDW].every(Number.isNaN)).toBe(true);
      expect([...f.sigmaA].every(Number.isNaN)).toBe(true);
      expect([...f.sigmaB].every(Number.isFinite)).toBe(true);
      expect(Number.isNaN(f.normDW)).toBe(true);
    }
  });

  it('an untrained adapter (B = 0, the usual LoRA init) has σ(ΔW) = 0 and effective rank 0', () => {
    const m = randomModule(12, 4, 16, 16, 1);
    const f = referenceFeatures({ ...m, b: new Float64Array(m.b.length) });
    expect([...f.sigmaDW]).toEqual([0, 0, 0, 0]);
    expect(f.normDW).toBe(0);
    expect(f.effectiveRank).toBe(0);
    expect(f.sigmaA[0]).toBeGreaterThan(0);
  });

  it('recovers known singular values of constructed factors (float32 storage)', () => {
    const s = [3, 2.5, 2, 1.5, 1];
    const t = [0.9, 0.8, 0.7, 0.6, 0.5];
    const m = wellConditionedModule(seededRandom(5), { id: 'x', rank: 5, inFeatures: 200, outFeatures: 150, sigmaA: s, sigmaB: t });
    const f = referenceFeatures(m);
    expect(relErr(f.sigmaA, s)).toBeLessThan(1e-6);
    expect(relErr(f.sigmaB, t)).toBeLessThan(1e-6);
  });

  it('effective rank is r for a flat spectrum and 1 for a single direction', () => {
    expect(effectiveRank(new Float64Array([2, 2, 2, 2]))).toBeCloseTo(4, 12);
    expect(effectiveRank(new Float64Array([5, 0, 0, 0]))).toBe(1);
    const m = randomModule(13, 8, 64, 64);
    const e = referenceFeatures(m).effectiveRank;
    expect(e).toBeGreaterThan(1);
    expect(e).toBeLessThan(8);
  });

  it('refuses factors whose length does not match the declared shape', () => {
    const m = randomModule(14, 4, 10, 10);
    let caught: unknown;
    try {
      referenceFeatures({ ...m, a: m.a.subarray(0, 39) });
    } catch (e) {
      caught = e;
    }
    expect(isAuditError(caught, 'SHAPE_MISMATCH')).toBe(true);
    expect(String((caught as Error).message)).toMatch(/A should hold rank×in = 4×10 = 40 values, has 39/);
    expect(() => cpuFeatures({ ...m, b: new Float32Array(41) })).toThrow(/B should hold out×rank/);
  });

  // A file whose factors hold one value everywhere: rank-one A and B. The fast path's eigen solver once
  // gave σA = [30.0, 4.47] for [30.33, 0] at rank 46, and σ(ΔW) = NaN (an underflowing QL rotation).
  for (const rank of [46, 47, 64]) {
    it(`the fast path agrees with the reference on constant factors (rank ${rank})`, () => {
      const m = { id: 'constant', rank, inFeatures: 320, outFeatures: 320, scale: 1,
        a: new Float32Array(rank * 320).fill(0.25), b: new Float32Array(320 * rank).fill(0.25) };
      const fast = cpuFeatures(m);
      const ref = referenceFeatures(m);
      for (const key of ['sigmaA', 'sigmaB', 'sigmaDW'] as const) {
        expect(Math.abs(fast[key][0] - ref[key][0]), key).toBeLessThan(1e-9 * ref[key][0]);
        for (let i = 1; i < rank; i++) expect(Math.abs(fast[key][i]), `${key}[${i}]`).toBeLessThan(1e-6 * ref[key][0]);
      }
      expect(fast.sigmaDW[0]).toBeCloseTo(0.25 * 0.25 * rank * 320, 6);
    });
  }
});
