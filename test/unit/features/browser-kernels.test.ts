// The GPU.js Gram kernels on real GPU-style backends: WGSL (webgpu) and GLSL ES (webgl2) inside
// Debian's Chromium, where WebGPU and WebGL2 run on SwiftShader. Node has neither here (no gl
// package, no Vulkan), so this is where the kernel sources are proven on the code generators a GPU
// machine would use; the Gram matrices they return go through the same float64 spectrum step and
// must agree with the float64 reference to the engine's tolerance.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AGREEMENT_TOLERANCE, maxRelativeError } from '../../../native/engine.ts';
import { symmetricEigen } from '../../../native/eigen.ts';
import { COL_GRAM, ROW_GRAM } from '../../../native/gpujs/kernels.ts';
import { seededRandom, wellConditionedModule } from '../../../native/probe.ts';
import { referenceFeatures } from '../../../native/reference.ts';
import { featuresFromGrams } from '../../../native/spectrum.ts';
import type { ModuleWeights } from '../../../main/intake/model.ts';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);

let server: Server;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!haveChromium) return;
  const lib = readFileSync(createRequire(import.meta.url).resolve('gpu.js/dist/gpu-browser.js'));
  // WebGPU needs a secure context: http://localhost is one, about:blank is not.
  server = createServer((req, res) => {
    if (req.url === '/gpu.js') res.setHeader('content-type', 'text/javascript').end(lib);
    else res.setHeader('content-type', 'text/html').end('<!doctype html><script src="/gpu.js"></script>');
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'] });
  page = await browser.newPage();
  await page.goto(`http://localhost:${(server.address() as AddressInfo).port}/`);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  server?.close();
});

/** Runs one Gram kernel launch over `count` stacked matrices in the page; returns count r×r Grams. */
async function launch(mode: 'webgpu' | 'webgl2', kind: 'row' | 'col', r: number, len: number, packed: Float32Array, count: number): Promise<Float64Array[]> {
  const planes = await page.evaluate(async ({ src, mode, r, len, data, count }) => {
    const G = (globalThis as unknown as { GPU: new (s: object) => { createKernel(src: string, s: object): (x: Float32Array) => Promise<ArrayLike<ArrayLike<ArrayLike<number>>>>; destroy(): Promise<void> } }).GPU;
    const gpu = new G({ mode });
    const kernel = gpu.createKernel(src, {
      output: [r, r, count], constants: { size: r * len, w: len, h: len, r }, asyncMode: true, precision: 'single', tactic: 'precision',
    });
    const out = await kernel(Float32Array.from(data));
    const plain = Array.from(out, (plane) => Array.from(plane, (row) => Array.from(row)));
    await gpu.destroy();
    return plain;
  }, { src: kind === 'row' ? ROW_GRAM : COL_GRAM, mode, r, len, data: Array.from(packed), count });
  return planes.map((plane) => Float64Array.from(plane.flat()));
}

async function featuresIn(mode: 'webgpu' | 'webgl2', mods: ModuleWeights[]) {
  const { rank: r, inFeatures: w, outFeatures: h } = mods[0];
  const pa = new Float32Array(mods.length * r * w);
  const pb = new Float32Array(mods.length * h * r);
  mods.forEach((m, z) => { pa.set(m.a, z * r * w); pb.set(m.b, z * h * r); });
  const gA = await launch(mode, 'row', r, w, pa, mods.length);
  const gB = await launch(mode, 'col', r, h, pb, mods.length);
  return mods.map((m, z) => featuresFromGrams(m.id, r, m.scale, gA[z], gB[z], symmetricEigen));
}

describe.skipIf(!haveChromium)('GPU.js Gram kernels in Chromium (SwiftShader)', () => {
  for (const mode of ['webgpu', 'webgl2'] as const) {
    it(`${mode}: stacked rank-16 modules' features agree with the float64 reference to ≤ ${AGREEMENT_TOLERANCE}`, async () => {
      const available = await page.evaluate(async (m) => {
        const G = (globalThis as unknown as { GPU: { isWebGPUAvailable(): Promise<boolean>; isWebGL2Supported: boolean } }).GPU;
        return m === 'webgpu' ? G.isWebGPUAvailable() : G.isWebGL2Supported;
      }, mode);
      expect(available, `${mode} should run in Debian's Chromium with SwiftShader`).toBe(true);
      // SwiftShader is slow: two rank-16 modules 320 wide, not the whole calibration probe
      const rand = seededRandom(16);
      const mods = [0, 1].map((i) => wellConditionedModule(rand, { id: `m.${i}`, rank: 16, inFeatures: 320, outFeatures: 320, scale: 0.5 }));
      const got = await featuresIn(mode, mods);
      expect(maxRelativeError(got, mods.map(referenceFeatures))).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
    }, 60_000);

    it(`${mode}: odd rank and widths that are not multiples of 4 are indexed correctly`, async () => {
      const rand = seededRandom(31);
      const mods = [0, 1, 2].map((i) => wellConditionedModule(rand, { id: `odd.${i}`, rank: 5, inFeatures: 37, outFeatures: 29, scale: 1 }));
      const got = await featuresIn(mode, mods);
      expect(maxRelativeError(got, mods.map(referenceFeatures))).toBeLessThanOrEqual(AGREEMENT_TOLERANCE);
    }, 60_000);
  }
});
