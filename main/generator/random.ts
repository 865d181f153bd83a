// Seeded randomness for the generator. Everything the generator draws (images, noise, timesteps, LoRA
// init) comes from here, never from Math.random or TF.js's own seeding, so a seed fixes every byte.
// Why not native/prng.ts's mulberry32, which the evaluation splits and the probes use: a demo build draws
// about 10⁹ numbers, more than mulberry32's 2³² period should serve, and sfc32 (2¹²⁸ state) is what the
// committed demo was generated with, so changing it would change every byte of assets/demo/.
import { FNV1A_OFFSET, fnv1a } from '../common/hashing.ts';

/** FNV-1a over the parts joined by '/': a stable 32-bit seed for (base seed, name, size, …). */
export function seedOf(...parts: (string | number)[]): number {
  let h = FNV1A_OFFSET;
  const s = parts.join('/');
  for (let i = 0; i < s.length; i++) h = fnv1a(h, s.charCodeAt(i));
  return h;
}

/** sfc32: small, fast, good enough statistically for procedural data; 2^128 state. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare: number | null = null;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.uint32();
  }

  uint32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box–Muller, the second value kept for the next call). */
  normal(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    const m = Math.sqrt(-2 * Math.log(u));
    this.#spare = m * Math.sin(2 * Math.PI * v);
    return m * Math.cos(2 * Math.PI * v);
  }

  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.normal() * std;
    return out;
  }
}
