// GPU.js looks for WebGPU at `navigator.gpu`, which Node does not have. Dawn's Node binding (the
// `webgpu` npm package) provides one: `create()` returns a GPU object and `globals` the WebGPU
// constants (GPUBufferUsage …) that GPU.js reads from the global scope.

let installed: Promise<void> | null = null;

/** Installs Dawn's `navigator.gpu` once per process; rejects with the reason when Dawn cannot load. */
export function installNavigatorGpu(): Promise<void> {
  installed ??= (async () => {
    const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
    if (nav?.gpu) return; // a browser renderer, or already installed
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, enumerable: true });
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true });
  })();
  return installed;
}

/** The adapter Dawn offers here, or null (no GPU, or no Vulkan driver for it). */
export async function webgpuAdapterName(): Promise<string | null> {
  await installNavigatorGpu();
  const gpu = (globalThis as unknown as { navigator: { gpu: AdapterSource } }).navigator.gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info;
  return [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' ') || 'unnamed adapter';
}

interface AdapterSource {
  requestAdapter(): Promise<{ info?: { vendor?: string; architecture?: string; device?: string; description?: string } } | null>;
}
