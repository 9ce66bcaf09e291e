// Makes a fresh clone runnable: installs npm packages when they are missing or stale, and the Debian
// packages the product needs (a software Vulkan driver when Dawn finds no adapter, chromium, ffmpeg)
// when running as root. Used by `npm test`, `npm run detect` and `.ci/run`; it only uses node builtins.
import { existsSync, statSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${r.status}`);
}

export function ensureNodeModules() {
  const marker = join(root, 'node_modules/.package-lock.json');
  const lock = join(root, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.log('[mobilessd] installing npm packages (npm ci)...');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

export function gpuEnv() {
  mkdirSync(join(root, '.build'), { recursive: true });
  const xdg = join(root, '.build/xdg-runtime');
  mkdirSync(xdg, { mode: 0o700, recursive: true });
  return { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? xdg };
}

/** True when Dawn finds any adapter (hardware or an installed software driver). */
export function hasAdapter() {
  const probe = `import('webgpu').then(async ({create, globals}) => { Object.assign(globalThis, globals);
    const gpu = create([]); const a = await gpu.requestAdapter(); process.exit(a ? 0 : 3); }).catch(() => process.exit(4));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: root,
    env: gpuEnv(),
    stdio: 'ignore',
    timeout: 60000,
  });
  return r.status === 0;
}

export function ensureSystemPackages(components) {
  const missing = components.filter((c) => {
    if (c === 'vulkan') return !hasAdapter();
    if (c === 'chromium') return spawnSync('sh', ['-c', 'command -v chromium']).status !== 0;
    if (c === 'ffmpeg') return spawnSync('sh', ['-c', 'command -v ffmpeg']).status !== 0;
    return false;
  });
  if (!missing.length) return;
  if (process.getuid?.() !== 0) {
    console.warn(
      `[mobilessd] missing system packages: ${missing.join(', ')}; run scripts/install-system-deps.sh as root to install them`,
    );
    return;
  }
  console.log(`[mobilessd] installing system packages: ${missing.join(', ')}...`);
  run('bash', [join(root, 'scripts/install-system-deps.sh'), ...missing]);
}
