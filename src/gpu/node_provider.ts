/**
 * Dawn (npm `webgpu`) as the adapter provider in Node. This module owns Dawn's lifetime: every
 * instance created here stays referenced for the life of the process, because Dawn crashes if an
 * instance is garbage-collected while it still has work in flight.
 *
 * Order for `auto`: whatever the system Vulkan loader offers that is real hardware, then lavapipe
 * (Mesa >= 25), then SwiftShader from Debian's chromium. The Vulkan loader reads VK_ICD_FILENAMES
 * when an instance is created, so each software driver gets its own instance.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { driverHelp, type DriverHelpFacts } from './driver_help.ts';
import { classifyAdapter, type AdapterCandidate, type DriverChoice, type GpuProvider } from './provider.ts';

interface DawnModule {
  create(toggles: string[]): GPU;
  globals: Record<string, unknown>;
}

const instances: GPU[] = [];
let dawn: DawnModule | undefined;

function loadDawn(): DawnModule {
  if (dawn) return dawn;
  const require = createRequire(import.meta.url);
  // `webgpu` is ESM-only at its root; its index just requires dawn.node and re-exports.
  const path = require.resolve('webgpu').replace(/index\.js$/, '');
  const arch = process.platform === 'darwin' ? 'universal' : process.arch;
  const mod = require(`${path}dist/${process.platform}-${arch}/dawn.node`) as DawnModule;
  Object.assign(globalThis, mod.globals);
  dawn = mod;
  return mod;
}

const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
];

function lavapipeIcds(): string[] {
  const dirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d'];
  const out: string[] = [];
  for (const d of dirs) {
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (/^lvp_icd.*\.json$/.test(f)) out.push(`${d}/${f}`);
  }
  return out;
}

async function adapterFrom(icd: string | undefined, toggles: string[]): Promise<GPUAdapter | null> {
  const mod = loadDawn();
  const saved = process.env.VK_ICD_FILENAMES;
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  try {
    const gpu = mod.create(toggles);
    instances.push(gpu);
    return await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } finally {
    if (icd) {
      if (saved === undefined) delete process.env.VK_ICD_FILENAMES;
      else process.env.VK_ICD_FILENAMES = saved;
    }
  }
}

export interface NodeProviderOptions {
  /** Dawn toggles passed to create(), e.g. `enable-dawn-features=disable_robustness`. */
  toggles?: string[];
}

export function nodeGpuProvider(options: NodeProviderOptions = {}): GpuProvider {
  const toggles = options.toggles ?? [];
  return {
    async *adapters(choice: DriverChoice): AsyncGenerator<AdapterCandidate> {
      const seen = new Set<string>();
      const emit = (adapter: GPUAdapter | null): AdapterCandidate | undefined => {
        if (!adapter) return undefined;
        const driver = classifyAdapter(adapter);
        if (choice !== 'auto' && driver !== choice) return undefined;
        const key = `${driver}|${adapter.info.description}`;
        if (seen.has(key)) return undefined;
        seen.add(key);
        return { adapter, driver };
      };
      if (choice === 'auto' || choice === 'hardware' || process.env.VK_ICD_FILENAMES) {
        const c = emit(await adapterFrom(undefined, toggles));
        if (c) yield c;
      }
      if (choice === 'auto' || choice === 'lavapipe') {
        for (const icd of lavapipeIcds()) {
          const c = emit(await adapterFrom(icd, toggles));
          if (c) yield c;
        }
      }
      if (choice === 'auto' || choice === 'swiftshader') {
        for (const icd of SWIFTSHADER_ICDS.filter((p) => existsSync(p))) {
          const c = emit(await adapterFrom(icd, toggles));
          if (c) yield c;
        }
      }
    },
    noAdapterHint(choice: DriverChoice): string {
      const found = choice === 'auto' ? 'no GPU adapter' : `no ${choice} adapter`;
      return `Dawn found ${found}. What to install:\n  ${driverHelp(systemFacts())}\n  (\`mobilessd doctor\` checks again; in a mobilessd checkout, \`sudo scripts/install-system-deps.sh vulkan\` installs lavapipe.)`;
    },
  };
}

/** The platform and distribution, for driverHelp. */
export function systemFacts(): DriverHelpFacts {
  let osRelease: string | undefined;
  try {
    osRelease = readFileSync('/etc/os-release', 'utf8');
  } catch {
    // Not Linux, or a minimal container: the help lists every distribution.
  }
  return { platform: process.platform, ...(osRelease ? { osRelease } : {}) };
}
