/**
 * Where adapters come from. Browsers have `navigator.gpu`; the Node entry point registers a provider
 * backed by Dawn (see node_provider.ts) so the engine itself never imports `webgpu`.
 */
export type DriverKind = 'hardware' | 'lavapipe' | 'swiftshader' | 'unknown';
export type DriverChoice = 'auto' | 'hardware' | 'lavapipe' | 'swiftshader';

export interface AdapterCandidate {
  adapter: GPUAdapter;
  driver: DriverKind;
}

export interface GpuProvider {
  /** Adapters in order of preference; the first that yields a device is used. */
  adapters(choice: DriverChoice): AsyncGenerator<AdapterCandidate>;
  /** Text for NoAdapterError: how to get an adapter on this platform. */
  noAdapterHint(choice: DriverChoice): string;
}

/**
 * Which kind of adapter this is, from what it says about itself: the kernel tuning tables are per
 * kind (software drivers differ tenfold on the same kernel), in Node and in browsers alike (Chromium
 * without a GPU reports vendor "google", architecture "swiftshader").
 */
export function classifyAdapter(adapter: GPUAdapter): DriverKind {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  if (text.includes('swiftshader')) return 'swiftshader';
  return 'hardware';
}

let current: GpuProvider | undefined;

export function setGpuProvider(provider: GpuProvider): void {
  current = provider;
}

export function getGpuProvider(): GpuProvider {
  if (current) return current;
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu) {
    return {
      async *adapters() {},
      noAdapterHint: () =>
        'this browser has no WebGPU (navigator.gpu is missing): use a recent Chrome or Edge, or Firefox/Safari with WebGPU enabled, on a page served over https or localhost',
    };
  }
  return {
    async *adapters() {
      for (const powerPreference of ['high-performance', undefined] as const) {
        const adapter = await gpu.requestAdapter(powerPreference ? { powerPreference } : undefined);
        if (adapter) yield { adapter, driver: classifyAdapter(adapter) };
      }
    },
    noAdapterHint: () =>
      'navigator.gpu gave no adapter: WebGPU may be disabled or blocklisted for this GPU (see chrome://gpu)',
  };
}
