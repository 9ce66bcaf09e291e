// `npm test`: installs what is missing, builds, type-checks, lints, then runs every test file (scripts/test-run.mjs)
// and ends with `N passed, N failed (...)`. Arguments filter test files by substring (`npm test -- conv2d`).
import { readdirSync, existsSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { root, ensureNodeModules, ensureSystemPackages, gpuEnv } from './ensure-deps.mjs';

const filters = process.argv.slice(2);
try {
  ensureNodeModules();
  ensureSystemPackages(['vulkan', 'chromium', 'ffmpeg']);
} catch (e) {
  console.error(`[mobilessd] setup failed: ${e.message}`);
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

const { build } = await import('./build.mjs');
rmSync(join(root, '.build/test'), { recursive: true, force: true });
// The library and the demo page too: the browser test files serve them, and one build here saves one per file.
await build({ only: ['test', 'bench', 'lib', 'web'] });

const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', root], {
  cwd: root,
  stdio: 'inherit',
});
const typecheckOk = tsc.status === 0;
if (!typecheckOk) console.error('[mobilessd] type check failed');
// Lint and formatting are part of the suite: a floating promise or an unformatted file fails it like a test.
const lint = spawnSync('npm', ['run', '--silent', 'lint'], { cwd: root, stdio: 'inherit' });
const lintOk = lint.status === 0;
if (!lintOk) console.error('[mobilessd] lint failed (npm run lint; npm run format fixes formatting)');

const dir = join(root, '.build/test');
const files = (existsSync(dir) ? readdirSync(dir) : [])
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => !filters.length || filters.some((s) => f.includes(s)))
  .sort()
  .map((f) => join(dir, f));
if (!files.length) {
  console.error('[mobilessd] no test files found: an empty test list is a failure');
  console.log('\n0 passed, 1 failed');
  process.exit(1);
}

// One closing line states everything: the reporter gets the outcome of the checks above and counts each failed
// check as a failure, beside failed tests and tests that never finished.
const checks = JSON.stringify({ 'type check': typecheckOk, lint: lintOk });
const r = spawnSync(
  process.execPath,
  [
    '--enable-source-maps',
    '--import',
    pathToFileURL(join(root, 'scripts/test-timeout.mjs')).href,
    join(root, 'scripts/test-run.mjs'),
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...gpuEnv(), MOBILESSD_ROOT: root, MOBILESSD_TEST_CHECKS: checks, MOBILESSD_PAGE_BUILT: '1' },
  },
);
process.exit(typecheckOk && lintOk ? (r.status ?? 1) : 1);
