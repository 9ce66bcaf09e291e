// `npm run demo [-- --port 8080]`: the browser demo on http://127.0.0.1:<port>/. Installs npm
// packages when missing, builds the library and the page, converts the bundled models into weights/
// when their cache is missing or stale (CPU only, no GPU needed), then serves dist/web at /, the
// browser bundles at /browser/, weights/ and samples/. Nothing outside 127.0.0.1 is contacted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root, ensureNodeModules } from './ensure-deps.mjs';

function portFlag(args) {
  const i = args.indexOf('--port');
  const inline = args.find((a) => a.startsWith('--port='));
  const text = inline ? inline.slice('--port='.length) : i >= 0 ? args[i + 1] : '8080';
  const port = Number(text);
  if (!(Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new Error(`--port must be a port number from 0 to 65535, not ${JSON.stringify(text)}`);
  return port;
}

let port;
try {
  port = portFlag(process.argv.slice(2));
  ensureNodeModules();
} catch (e) {
  console.error(`[mobilessd] ${e.message}`);
  process.exit(1);
}

const { build } = await import('./build.mjs');
await build({ only: ['lib', 'web', 'bench'] });
// Where each converted model lives: weights/<name>/, or the user cache when that already held it.
const dirsFile = join(mkdtempSync(join(tmpdir(), 'mobilessd-demo-')), 'dirs.json');
const converted = spawnSync(
  process.execPath,
  ['--enable-source-maps', join(root, '.build/scripts/convert-models.js'), '--dirs', dirsFile],
  { cwd: root, stdio: 'inherit' },
);
if (converted.status !== 0) {
  console.error('[mobilessd] converting the bundled models failed (see above)');
  process.exit(1);
}

const { startStaticServer } = await import('./static_server.mjs');
const modelMounts = Object.fromEntries(
  Object.entries(JSON.parse(readFileSync(dirsFile, 'utf8'))).map(([name, dir]) => [`/weights/${name}/`, dir]),
);
const mounts = {
  '/': join(root, 'dist/web'),
  '/browser/': join(root, 'dist/browser'),
  '/weights/': join(root, 'weights'),
  ...modelMounts,
  '/samples/': join(root, 'samples'),
};
try {
  const server = await startStaticServer({ mounts, port });
  console.log(`\nmobilessd demo: ${server.origin}/`);
  console.log(
    `  browser bundles ${server.origin}/browser/mobilessd.js, ${server.origin}/browser/mobilessd-bench.js; models under /weights/, samples under /samples/`,
  );
  console.log(
    '  needs a browser with WebGPU (Chrome/Edge 113+, or Chromium with --enable-unsafe-webgpu); Ctrl-C stops the server',
  );
  process.on('SIGINT', () => server.close().then(() => process.exit(0)));
} catch (e) {
  console.error(`[mobilessd] ${e.message}`);
  process.exit(1);
}
