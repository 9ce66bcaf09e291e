// Builds every bundle from the same sources with esbuild: the Node library and CLI, the browser
// library, the demo page (web), and the test/bench entry points. WGSL files are inlined as text;
// npm packages stay external in Node bundles (webgpu must: it finds dawn.node relative to itself).
import * as esbuild from 'esbuild';
import { readdirSync, existsSync, chmodSync, copyFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { opsPlugin } from './esbuild_ops.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const list = (dir, re) =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir))
        .filter((f) => re.test(f))
        .map((f) => join(dir, f))
    : [];

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  sourcemap: 'linked',
  loader: { '.wgsl': 'text' },
  plugins: [opsPlugin(root)],
  logLevel: 'warning',
};
const node = {
  ...common,
  platform: 'node',
  packages: 'external',
  // Lets bundled ESM call require() for CommonJS-only paths.
  banner: {
    js: "import { createRequire as __mssdCreateRequire } from 'node:module'; const require = __mssdCreateRequire(import.meta.url);",
  },
};

export async function build({ only, sourcemap = 'linked' } = {}) {
  const jobs = [];
  const want = (k) => !only || only.includes(k);
  if (want('lib')) {
    jobs.push(
      esbuild
        .build({
          ...node,
          sourcemap,
          entryPoints: { index: 'src/index.ts', cli: 'src/cli/main.ts' },
          outdir: 'dist/node',
        })
        .then(() => {
          const cli = join(root, 'dist/node/cli.js');
          if (existsSync(cli)) chmodSync(cli, 0o755);
        }),
    );
    jobs.push(
      esbuild.build({
        ...common,
        sourcemap,
        platform: 'browser',
        entryPoints: { mobilessd: 'src/browser.ts' },
        outdir: 'dist/browser',
      }),
    );
  }
  if (want('web')) {
    // The demo page: app.js bundles the library, style.css goes through esbuild, index.html is copied.
    jobs.push(
      esbuild
        .build({
          ...common,
          platform: 'browser',
          entryPoints: { app: 'web/app.ts', style: 'web/style.css' },
          outdir: 'dist/web',
        })
        .then(() => {
          copyFileSync(join(root, 'web/index.html'), join(root, 'dist/web/index.html'));
        }),
    );
  }
  if (want('web') || want('bench')) {
    // A classic script (no module loader needed) defining window.mobilessdBench, for the peers harness.
    jobs.push(
      esbuild.build({
        ...common,
        platform: 'browser',
        format: 'iife',
        entryPoints: { 'mobilessd-bench': 'bench/peers/page_entry.ts' },
        outdir: 'dist/browser',
      }),
    );
  }
  if (want('test')) {
    const entries = [...list('test', /\.test\.ts$/), ...list('test/support', /\.ts$/)];
    if (entries.length)
      jobs.push(
        esbuild.build({
          ...node,
          entryPoints: entries,
          outdir: '.build/test',
          outbase: 'test',
          splitting: true,
          chunkNames: 'chunks/[name]-[hash]',
        }),
      );
  }
  if (want('bench')) {
    const entries = [
      ...list('bench', /\.ts$/),
      ...list('scripts', /\.ts$/),
      ...list('scripts/onnx', /^write_onnx\.ts$/),
    ];
    if (entries.length) jobs.push(esbuild.build({ ...node, entryPoints: entries, outdir: '.build', outbase: '.' }));
  }
  await Promise.all(jobs);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `--release` (npm pack's prepack): no source maps (they would be most of the tarball), and the type
  // declarations of both entries in dist/types (tsconfig.types.json), emitted afresh.
  const args = process.argv.slice(2);
  const only = args.filter((a) => !a.startsWith('--'));
  const release = args.includes('--release');
  await build({ only: only.length ? only : undefined, ...(release ? { sourcemap: false } : {}) });
  if (release) {
    rmSync(join(root, 'dist/types'), { recursive: true, force: true });
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
}
