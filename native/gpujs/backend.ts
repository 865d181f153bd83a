// GPU.js backends for the Gram products, under the async contract (`asyncMode: true`: every kernel
// call returns a Promise, as GPU.js v3 will require). Factors of the same shape are stacked into one
// launch across modules and adapters; the r×r eigen step then runs in float64 on the CPU, as on
// every other backend.
//
// Why buckets of equal shape rather than one launch padded to the batch's widest factor: an SD-1.x
// adapter has factors 320 to 1280 wide, so padding would make the 320-wide half of the work 4× larger,
// while an adapter has only a handful of distinct shapes (7 buckets for SD-1.x attention, whatever the
// number of adapters in the batch). A few large launches cost less than one launch carrying zeros.
import { createRequire } from 'node:module';
import type { GPU as GpuClass, IKernelRunShortcut } from 'gpu.js';
import { AuditError } from '../../main/errors.ts';
import type { ModuleWeights } from '../types.ts';
import type { ComputeBackend } from '../backend.ts';
import { symmetricEigen } from '../eigen.ts';
import { checkModuleShape } from '../gram.ts';
import { featuresFromGrams } from '../spectrum.ts';
import type { ModuleFeatures } from '../types.ts';
import { COL_GRAM, ROW_GRAM } from './kernels.ts';
import { vulkanLoaderMissing, webgpuAdapterName } from './webgpu.ts';

export type GpujsBackendName = 'gpujs-cpu' | 'webasm' | 'headlessgl' | 'webgpu' | 'webgl2';

const MODE: Record<GpujsBackendName, string> = {
  'gpujs-cpu': 'cpu', webasm: 'webasm', headlessgl: 'headlessgl', webgpu: 'webgpu', webgl2: 'webgl2',
};

/**
 * Floats per launch. GL backends index inputs through float32 texture coordinates, exact only below
 * 2^24, and big textures fail on small GPUs: 2^22 keeps well inside both. WebGPU reads raw storage
 * buffers; 2^24 floats (64 MiB) stays under the spec's default 128 MiB binding limit.
 */
const MAX_FLOATS: Record<GpujsBackendName, number> = {
  'gpujs-cpu': 1 << 22, webasm: 1 << 22, headlessgl: 1 << 22, webgl2: 1 << 22, webgpu: 1 << 24,
};

interface Job {
  kind: 'row' | 'col';
  r: number;
  /** row: width of A (in); col: height of B (out) */
  len: number;
  data: Float32Array | Float64Array;
  out: Float64Array;
}

/** Why this backend cannot run in this process, or null when it can. */
async function unavailableReason(name: GpujsBackendName, GPU: typeof GpuClass): Promise<string | null> {
  switch (name) {
    case 'gpujs-cpu':
      return null;
    case 'webasm':
      return GPU.isWebAssemblySupported ? null : 'unavailable: this runtime has no WebAssembly SIMD support';
    case 'webgl2':
      return 'unavailable: webgl2 exists only inside a browser renderer, not in Node';
    case 'headlessgl': {
      if (GPU.isHeadlessGLSupported) return null;
      try {
        createRequire(import.meta.url).resolve('gl');
      } catch {
        return 'unavailable: gl not installed (the optional native package for headless WebGL did not build here)';
      }
      return 'unavailable: gl is installed but created no WebGL context (it needs an X server: run under xvfb-run)';
    }
    case 'webgpu': {
      const noLoader = vulkanLoaderMissing();
      if (noLoader) return `unavailable: no adapter (${noLoader}: Dawn has no way to reach a GPU here)`;
      let adapter: string | null;
      try {
        adapter = await webgpuAdapterName();
      } catch (e) {
        return `unavailable: Dawn (the webgpu package) did not load: ${e instanceof Error ? e.message : String(e)}`;
      }
      return adapter ? null : 'unavailable: no adapter (Dawn found no GPU with a working Vulkan driver here)';
    }
  }
}

export async function createGpujsBackend(name: GpujsBackendName): Promise<ComputeBackend> {
  let GPU: typeof GpuClass;
  let WebGPUContext: { destroy(): Promise<void> } | undefined;
  try {
    const lib = await import('gpu.js');
    GPU = lib.GPU;
    WebGPUContext = (lib as unknown as { WebGPUContext?: { destroy(): Promise<void> } }).WebGPUContext;
  } catch (e) {
    throw new AuditError('BACKEND_FAILED', `${name} unavailable: gpu.js did not load: ${e instanceof Error ? e.message : String(e)}`);
  }
  const reason = await unavailableReason(name, GPU);
  if (reason) throw new AuditError('BACKEND_FAILED', `${name} ${reason}`);

  let gpu: GpuClass;
  try {
    gpu = new GPU({ mode: MODE[name] as 'cpu' });
  } catch (e) {
    throw new AuditError('BACKEND_FAILED', `${name} unavailable: ${e instanceof Error ? e.message : String(e)}`);
  }
  const kernels = new Map<string, IKernelRunShortcut>();
  const kernel = (kind: 'row' | 'col', r: number, len: number, count: number): IKernelRunShortcut => {
    const key = `${kind}:${r}:${len}:${count}`;
    let k = kernels.get(key);
    if (!k) {
      k = gpu.createKernel(kind === 'row' ? ROW_GRAM : COL_GRAM, {
        output: [r, r, count],
        constants: { size: r * len, w: len, h: len, r },
        asyncMode: true,
        precision: 'single',
        tactic: 'precision',
      } as never);
      kernels.set(key, k);
    }
    return k;
  };

  async function runBucket(jobs: Job[]): Promise<void> {
    const { kind, r, len } = jobs[0];
    const size = r * len;
    const perLaunch = Math.max(1, Math.floor(MAX_FLOATS[name] / size));
    for (let start = 0; start < jobs.length; start += perLaunch) {
      const chunk = jobs.slice(start, start + perLaunch);
      const packed = new Float32Array(chunk.length * size);
      chunk.forEach((j, z) => packed.set(j.data, z * size));
      let result: unknown;
      try {
        result = await (kernel(kind, r, len, chunk.length) as unknown as (x: Float32Array) => Promise<unknown>)(packed);
      } catch (e) {
        throw new AuditError('BACKEND_FAILED', `${name} kernel failed on a batch of ${chunk.length} ${kind === 'row' ? 'A' : 'B'} factors (rank ${r}, ${len} wide): ${e instanceof Error ? e.message : String(e)}`);
      }
      const planes = result as ArrayLike<ArrayLike<ArrayLike<number>>>;
      chunk.forEach((j, z) => {
        const plane = planes[z];
        for (let y = 0; y < r; y++) {
          const row = plane[y];
          for (let x = 0; x < r; x++) j.out[y * r + x] = row[x];
        }
      });
    }
  }

  return {
    name,
    async features(adapters: ModuleWeights[][]): Promise<ModuleFeatures[][]> {
      const buckets = new Map<string, Job[]>();
      const grams: { m: ModuleWeights; gA: Float64Array; gB: Float64Array }[][] = adapters.map((mods) => mods.map((m) => {
        checkModuleShape(m);
        const r = m.rank;
        const g = { m, gA: new Float64Array(r * r), gB: new Float64Array(r * r) };
        const jobs: Job[] = [
          { kind: 'row', r, len: m.inFeatures, data: m.a, out: g.gA },
          { kind: 'col', r, len: m.outFeatures, data: m.b, out: g.gB },
        ];
        for (const j of jobs) {
          const key = `${j.kind}:${j.r}:${j.len}`;
          const list = buckets.get(key);
          if (list) list.push(j);
          else buckets.set(key, [j]);
        }
        return g;
      }));
      // Buckets run one after another: a GPU queue serialises launches anyway, and the CPU-side
      // backends would only contend for the same cores.
      for (const jobs of buckets.values()) await runBucket(jobs);
      return grams.map((mods) => mods.map(({ m, gA, gB }) => featuresFromGrams(m.id, m.rank, m.scale, gA, gB, symmetricEigen)));
    },
    async dispose() {
      kernels.clear();
      await gpu.destroy();
      // gpu.destroy() leaves the shared WebGPU device alive (by design, for pages); a live Dawn
      // device keeps Node's event loop running, so a CLI run would never exit. Release it here; the
      // next webgpu engine acquires a fresh one.
      if (name === 'webgpu') await WebGPUContext?.destroy();
    },
  };
}
