// `npm run detect -- <args>` (and the other CLI scripts): makes a fresh clone runnable (npm
// packages, a software Vulkan driver when there is no GPU), builds, then runs the CLI.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { root, ensureNodeModules, ensureSystemPackages, gpuEnv } from './ensure-deps.mjs';

const args = process.argv.slice(2);
try {
  ensureNodeModules();
  ensureSystemPackages(args[0] === 'video' ? ['vulkan', 'ffmpeg'] : ['vulkan']);
} catch (e) {
  console.error(`[mobilessd] setup failed: ${e.message}`);
  process.exit(1);
}
const { build } = await import('./build.mjs');
await build({ only: ['lib'] });
const r = spawnSync(process.execPath, ['--enable-source-maps', join(root, 'dist/node/cli.js'), ...args], {
  stdio: 'inherit',
  env: gpuEnv(),
});
process.exit(r.status ?? 1);
