// The fast path's own symmetric eigen solver against ml-matrix (the reference's solver).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { symmetricEigen, useWasmEigen, valuesSolver } from '../../../native/eigen.ts';
import { seededRandom } from '../../../native/probe.ts';
import { mlMatrixEigen } from '../../../native/reference.ts';

function symmetricFrom(values: number[], n: number): Float64Array {
  const a = new Float64Array(n * n);
  let k = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
    a[i * n + j] = values[k % values.length];
    a[j * n + i] = values[k % values.length];
    k++;
  }
  return a;
}

describe('symmetric eigen solver', () => {
  it('matches ml-matrix and gives orthonormal eigenvectors with A·v = λ·v', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 33 }),
      // Gram-like magnitudes; denormal entries are tested separately below
      fc.array(fc.double({ min: -10, max: 10, noNaN: true }).map((v) => (Math.abs(v) < 1e-6 ? 0 : v)), { minLength: 1, maxLength: 600 }),
      (n, values) => {
        const a = symmetricFrom(values, n);
        const mine = symmetricEigen(a, n, true);
        const ref = mlMatrixEigen(a, n, false);
        const scale = Math.max(1, ...Array.from(ref.values, Math.abs));
        for (let i = 0; i < n; i++) expect(Math.abs(mine.values[i] - ref.values[i])).toBeLessThan(1e-10 * scale);
        const V = mine.vectors!;
        for (let c = 0; c < n; c++) {
          for (let c2 = 0; c2 < n; c2++) {
            let dot = 0;
            for (let k = 0; k < n; k++) dot += V[k * n + c] * V[k * n + c2];
            expect(Math.abs(dot - (c === c2 ? 1 : 0))).toBeLessThan(1e-10);
          }
          for (let i = 0; i < n; i++) {
            let av = 0;
            for (let k = 0; k < n; k++) av += a[i * n + k] * V[k * n + c];
            expect(Math.abs(av - mine.values[c] * V[i * n + c])).toBeLessThan(1e-9 * scale);
          }
        }
        // values-only mode returns the same values
        const only = symmetricEigen(a, n, false);
        for (let i = 0; i < n; i++) expect(Math.abs(only.values[i] - mine.values[i])).toBeLessThan(1e-10 * scale);
      },
    ), { numRuns: 60 });
  });

  it('copes with denormal and huge entries (the matrix is scaled before the Householder steps)', () => {
    for (const v of [5e-324, 1e-310, 1e300]) {
      const { values } = symmetricEigen(new Float64Array([v, v, v, v]), 2, true);
      expect(values[0] / v).toBeCloseTo(2, 0);
      expect(Math.abs(values[1])).toBeLessThanOrEqual(1e-15 * values[0]);
    }
    const zero = symmetricEigen(new Float64Array(9), 3, true);
    expect([...zero.values]).toEqual([0, 0, 0]);
  });

  it('answers NaN, not an endless loop, for a matrix with a NaN entry', () => {
    const a = symmetricFrom([1, 2, NaN, 4], 3);
    expect(Number.isNaN(symmetricEigen(a, 3, false).values[0])).toBe(true);
  });

  it('gives the same eigenvalues, to the bit, from the WebAssembly and the JavaScript values-only paths', () => {
    expect(valuesSolver(32)).toBe('webassembly');
    const rand = seededRandom(17);
    let checked = 0;
    try {
      for (let t = 0; t < 420; t++) {
        // sizes 1–37 in turn, then sizes that alternate around 100 (one kernel instance grows its memory
        // past its first page, and its views of the memory must follow)
        const n = t < 400 ? 1 + (t % 37) : [100, 5, 97, 100][t % 4];
        const a = new Float64Array(n * n);
        for (let i = 0; i < n; i++) {
          for (let j = i; j < n; j++) {
            // some block-diagonal (blocks of 3: the first row of each block is zero left of the diagonal,
            // the Householder step's scale = 0 branch), some Gram-like
            const v = t % 5 === 0 && Math.floor(i / 3) !== Math.floor(j / 3) ? 0 : (rand() - 0.5) * 10 ** (t % 9 - 4);
            a[i * n + j] = v;
            a[j * n + i] = v;
          }
        }
        if (t % 3 === 0) for (let i = 0; i < n; i++) a[i * n + i] += n * 10 ** (t % 9 - 4);
        useWasmEigen(true);
        const wasm = Array.from(symmetricEigen(a, n, false).values);
        useWasmEigen(false);
        const js = Array.from(symmetricEigen(a, n, false).values);
        expect(wasm).toEqual(js);   // toEqual on numbers is Object.is: the same bits, -0 included
        checked += n;
      }
    } finally {
      useWasmEigen(true);
    }
    expect(checked).toBeGreaterThan(7000);
  });

  // Every entry equal: one eigenvalue n·c, the rest 0. The tridiagonal form of such a matrix has
  // off-diagonal entries far below 1e-154 next to a zero diagonal; a QL rotation that squared them
  // underflowed to 0, divided by 0 and reported a finite wrong value (c = 0.3, n = 46 gave 13.5 and
  // -Infinity for 13.8 and 0), or NaN.
  it('gives n·c and zeros for an n×n matrix of equal entries c, on both paths, with and without vectors', () => {
    try {
      for (const wasm of [true, false]) {
        useWasmEigen(wasm);
        for (const c of [0.3, 1, 7, 1e-3]) {
          for (let n = 2; n <= 128; n += n < 48 ? 1 : 16) {
            for (const wantVectors of [false, true]) {
              const { values } = symmetricEigen(new Float64Array(n * n).fill(c), n, wantVectors);
              const where = `n ${n}, c ${c}, ${wasm ? 'webassembly' : 'javascript'}${wantVectors ? ', with vectors' : ''}`;
              expect(Math.abs(values[0] - n * c), where).toBeLessThan(1e-12 * n * c);
              for (let i = 1; i < n; i++) expect(Math.abs(values[i]), where).toBeLessThan(1e-12 * n * c);
            }
          }
        }
      }
    } finally {
      useWasmEigen(true);
    }
  });

  it('agrees with ml-matrix on block-diagonal and diagonal matrices', () => {
    const rand = seededRandom(5);
    try {
      for (const block of [1, 2, 3, 5]) {
        for (const n of [3, 8, 17, 32]) {
          const a = new Float64Array(n * n);
          for (let i = 0; i < n; i++) for (let j = i; j < n; j++) {
            if (Math.floor(i / block) !== Math.floor(j / block)) continue;
            a[i * n + j] = a[j * n + i] = rand() - 0.5;
          }
          const ref = mlMatrixEigen(a, n, false).values;
          for (const wasm of [true, false]) {
            useWasmEigen(wasm);
            const { values } = symmetricEigen(a, n, false);
            for (let i = 0; i < n; i++) expect(Math.abs(values[i] - ref[i]), `block ${block}, n ${n}, ${wasm ? 'webassembly' : 'javascript'}`).toBeLessThan(1e-13);
          }
        }
      }
      useWasmEigen(true);
      expect(Array.from(symmetricEigen(Float64Array.of(1, 1, 0, 1, 1, 0, 0, 0, 2), 3, false).values).map((v) => Math.round(v * 1e12) / 1e12)).toEqual([2, 2, 0]);
    } finally {
      useWasmEigen(true);
    }
  });
});

