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

/**
 * On Linux Dawn reaches the GPU through the Vulkan loader. Without libvulkan.so.1 there can be no
 * adapter, and loading Dawn (a 21 MB addon) only to have it print a warning on stderr helps nobody:
 * ask the dynamic loader first. dlopen of a library that is not a Node addon fails *after* loading
 * it ("did not self-register"); only "cannot open shared object file" means it is absent.
 */
export function vulkanLoaderMissing(): string | null {
  if (process.platform !== 'linux') return null;
  try {
    process.dlopen({ exports: {} } as unknown as NodeJS.Module, 'libvulkan.so.1');
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (/cannot open shared object file/.test(message)) return 'no Vulkan loader (libvulkan.so.1 not found)';
  }
  return null;
}

/** The adapter Dawn offers here, or null (no GPU, or no Vulkan driver for it). */
export async function webgpuAdapterName(): Promise<string | null> {
  if (vulkanLoaderMissing()) return null;
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
