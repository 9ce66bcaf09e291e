/** Node entry's GPU setup: registers Dawn as the adapter provider (idempotent). */
import { nodeGpuProvider } from './gpu/node_provider.ts';
import { setGpuProvider } from './gpu/provider.ts';

let installed = false;
export function installNodeGpu(toggles?: string[]): void {
  if (installed) return;
  installed = true;
  setGpuProvider(nodeGpuProvider(toggles ? { toggles } : {}));
}
