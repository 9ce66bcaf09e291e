/**
 * WebGPU for peers that run in Node on Dawn: the adapter is chosen exactly as our engine chooses it
 * (src/gpu/node_provider.ts, same driver flag), then handed to the peer, which otherwise would ask
 * `navigator.gpu` itself and might land on another driver.
 */
import { nodeGpuProvider } from '../../src/gpu/node_provider.ts';
import type { DriverChoice } from '../../src/gpu/provider.ts';

/** 'hardware': a real GPU, as on a GPU server running the device bundle (scripts/device). */
export type PeerDriver = 'lavapipe' | 'swiftshader' | 'hardware';

export interface PeerAdapter {
  adapter: GPUAdapter;
  /** adapter.info as one line, with the driver kind. */
  name: string;
}

export async function peerAdapter(driver: PeerDriver): Promise<PeerAdapter> {
  const provider = nodeGpuProvider();
  for await (const c of provider.adapters(driver satisfies DriverChoice)) {
    const i = c.adapter.info;
    return { adapter: c.adapter, name: `${i.description || i.device || i.vendor} (${c.driver})` };
  }
  throw new Error(provider.noAdapterHint(driver));
}

/**
 * Installs `navigator.gpu` answering with `adapter` (once: an adapter gives one device). Engines
 * such as tfjs-backend-webgpu look for navigator.gpu when they are imported, so call this first.
 */
export function installNavigatorGpu(adapter: GPUAdapter): void {
  let handedOut = false;
  const gpu = {
    async requestAdapter() {
      if (handedOut) throw new Error('the peer asked for a second adapter; this harness hands out one');
      handedOut = true;
      return adapter;
    },
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: new Set<string>(),
  };
  Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

/**
 * Dawn's writeBuffer rejects views on a SharedArrayBuffer, which is what a threaded WASM runtime
 * (onnxruntime-web) passes: copy such data into a plain ArrayBuffer first. Offsets and sizes keep
 * their meaning because the copy has the same element type and extent.
 */
export function copySharedArrayBufferWrites(): void {
  const original = GPUQueue.prototype.writeBuffer;
  GPUQueue.prototype.writeBuffer = function (
    this: GPUQueue,
    buffer: GPUBuffer,
    offset: number,
    data: BufferSource | SharedArrayBuffer,
    ...rest: [number?, number?]
  ) {
    let plain: BufferSource = data as BufferSource;
    if (data instanceof SharedArrayBuffer) plain = new Uint8Array(data).slice().buffer;
    else if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) plain = (data as Uint8Array).slice();
    return original.call(this, buffer, offset, plain, ...rest);
  };
}
