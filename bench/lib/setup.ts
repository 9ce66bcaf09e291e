/** Shared bench plumbing: GPU acquisition from flags, results folder, machine description. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GpuContext } from '../../src/gpu/context.ts';
import type { DriverChoice } from '../../src/gpu/provider.ts';
import { installNodeGpu } from '../../src/node_gpu.ts';

export function flag(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? 'true' : v;
}

export async function benchGpu(): Promise<GpuContext> {
  installNodeGpu(flag('toggles')?.split(','));
  return GpuContext.acquire({ driver: (flag('driver') ?? process.env.MOBILESSD_DRIVER ?? 'auto') as DriverChoice });
}

export function machine(ctx: GpuContext): string {
  const c = cpus();
  // The load average is part of the record: these machines are often shared, and it moves figures.
  return `${c.length} x ${c[0]?.model ?? 'unknown CPU'} (load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}); adapter ${ctx.describe()}`;
}

function repoRoot(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); d !== dirname(d); d = dirname(d)) {
    const pkg = join(d, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'mobilessd') return d;
  }
  return process.cwd();
}

export function resultsDir(): string {
  return join(repoRoot(), 'results');
}

export function writeResult(name: string, content: string): string {
  const dir = resultsDir();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
