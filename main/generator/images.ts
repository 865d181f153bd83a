// Procedural images: the generator's stand-in for photographs. 16×16 RGB in [-1, 1], row-major HWC.
// Pre-training draws random shapes of eight classes; a "concept" (one LoRA-WiSE name) is one specific
// object: a fixed class, palette, size, orientation, surface texture and a marking, of which each sample
// is a new view (position, scale, angle, lighting and pixel noise vary). Everything follows from a seed.
import { Rng, seedOf } from './random.ts';

export const IMAGE_SIZE = 16;
export const CHANNELS = 3;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;

export const CLASSES = ['disc', 'square', 'ring', 'triangle', 'stripes', 'checker', 'cross', 'blob'] as const;
export type ShapeClass = typeof CLASSES[number];

const ADJECTIVES = ['plushie', 'wooden', 'glass', 'velvet', 'rusty', 'neon', 'marble', 'paper', 'golden',
  'mossy', 'frosted', 'clay', 'denim', 'copper', 'silk', 'chalk'];

interface Look {
  cls: ShapeClass;
  cx: number; cy: number;          // centre, pixels
  size: number;                    // radius-like extent, pixels
  angle: number;                   // radians
  fg: [number, number, number];    // [-1, 1]
  bg: [number, number, number];
  texAmp: number; texFx: number; texFy: number; texPhase: number;
  mark: { dx: number; dy: number; colour: [number, number, number] } | null;
  light: number;                   // brightness offset
  noise: number;                   // pixel noise std
}

function colour(rng: Rng): [number, number, number] {
  return [rng.range(-1, 1), rng.range(-1, 1), rng.range(-1, 1)];
}

/** Coverage in [0, 1] of the shape at pixel (x, y) in the shape's rotated frame (u, v) scaled by size. */
function coverage(cls: ShapeClass, u: number, v: number): number {
  const r = Math.hypot(u, v);
  const soft = (d: number) => Math.min(1, Math.max(0, 0.5 - d * 3));   // antialiased edge
  switch (cls) {
    case 'disc': return soft(r - 1);
    case 'square': return soft(Math.max(Math.abs(u), Math.abs(v)) - 0.85);
    case 'ring': return soft(Math.abs(r - 0.8) - 0.25);
    case 'triangle': return soft(Math.max(v - 0.7, -0.866 * u - 0.5 * v - 0.5, 0.866 * u - 0.5 * v - 0.5) * 1.2);
    case 'stripes': return r < 1.3 ? (Math.sin(u * 5) > 0 ? 1 : 0) * soft(r - 1.2) : 0;
    case 'checker': return (Math.sin(u * 4) * Math.sin(v * 4) > 0 ? 1 : 0) * soft(Math.max(Math.abs(u), Math.abs(v)) - 1);
    case 'cross': return soft(Math.min(Math.max(Math.abs(u) - 0.3, Math.abs(v) - 1), Math.max(Math.abs(v) - 0.3, Math.abs(u) - 1)));
    case 'blob': return Math.exp(-(u * u * 1.3 + v * v * 0.7) * 1.5);
  }
}

function render(look: Look, rng: Rng): Float32Array {
  const out = new Float32Array(PIXELS);
  const ca = Math.cos(look.angle), sa = Math.sin(look.angle);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const dx = (x + 0.5 - look.cx) / look.size, dy = (y + 0.5 - look.cy) / look.size;
      const u = ca * dx + sa * dy, v = -sa * dx + ca * dy;
      const a = coverage(look.cls, u, v);
      const tex = look.texAmp * Math.sin(look.texFx * u + look.texFy * v + look.texPhase);
      let m = 0;
      if (look.mark) m = Math.max(0, 1 - Math.hypot(u - look.mark.dx, v - look.mark.dy) * 4) * a;
      for (let c = 0; c < CHANNELS; c++) {
        let val = (1 - a) * look.bg[c] + a * (look.fg[c] + tex);
        if (look.mark) val = (1 - m) * val + m * look.mark.colour[c];
        val += look.light + look.noise * rng.normal();
        out[(y * IMAGE_SIZE + x) * CHANNELS + c] = Math.max(-1, Math.min(1, val));
      }
    }
  }
  return out;
}

/** A pre-training image: a random shape of class `cls` in random colours and placement. */
export function randomImage(rng: Rng, cls: ShapeClass): Float32Array {
  return render({
    cls, cx: rng.range(4, 12), cy: rng.range(4, 12), size: rng.range(3, 6), angle: rng.range(0, Math.PI),
    fg: colour(rng), bg: colour(rng), texAmp: rng.range(0, 0.3), texFx: rng.range(1, 6), texFy: rng.range(1, 6),
    texPhase: rng.range(0, 6.28), mark: null, light: rng.range(-0.1, 0.1), noise: 0.03,
  }, rng);
}

export interface Concept {
  name: string;
  cls: ShapeClass;
}

/** `count` distinct concept names, `<adjective>_<class>`, in a fixed order (like LoRA-WiSE's `plushie_panda`). */
export function conceptNames(count: number): Concept[] {
  const max = ADJECTIVES.length * CLASSES.length;
  if (count > max) throw new RangeError(`at most ${max} concept names exist, asked for ${count}`);
  const out: Concept[] = [];
  for (let i = 0; i < count; i++) {
    // Walk classes fastest, so every prefix of the list covers all classes evenly.
    const cls = CLASSES[i % CLASSES.length];
    const adj = ADJECTIVES[(Math.floor(i / CLASSES.length) + i) % ADJECTIVES.length];
    out.push({ name: `${adj}_${cls}`, cls });
  }
  return out;
}

/**
 * Sample `index` of a concept. The concept's identity comes from (seed, name) alone and each sample
 * from (seed, name, index), so the N-image training set is a prefix of the (N+1)-image one.
 */
export function conceptImage(seed: number, concept: Concept, index: number): Float32Array {
  const id = new Rng(seedOf(seed, 'concept', concept.name));
  const base = {
    size: id.range(3.5, 5.5), angle: id.range(0, Math.PI), fg: colour(id), bg: colour(id),
    texAmp: id.range(0.15, 0.4), texFx: id.range(2, 7), texFy: id.range(2, 7), texPhase: id.range(0, 6.28),
    mark: { dx: id.range(-0.5, 0.5), dy: id.range(-0.5, 0.5), colour: colour(id) },
  };
  // Views differ as photos of one object do: anywhere in the frame, any backdrop, any lighting. The
  // first recipe (±2.5 px, backdrop ±0.3 around the concept's) left the images of a name so alike that
  // the LoRA norm did not depend on N (docs/BENCHMARKS.md, generator section).
  const view = new Rng(seedOf(seed, 'sample', concept.name, index));
  return render({
    ...base, cls: concept.cls,
    cx: 8 + view.range(-4, 4), cy: 8 + view.range(-4, 4),
    size: base.size * view.range(0.7, 1.3), angle: base.angle + view.range(-1.5, 1.5),
    bg: colour(view), light: view.range(-0.3, 0.3), noise: 0.04,
  }, view);
}
