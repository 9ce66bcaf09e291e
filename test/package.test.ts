/**
 * The npm package as a user gets it: `npm pack` on a copy of the sources (its prepack builds dist/ and the
 * declarations, as in a clean clone), the tarball installed from the npm cache (registry for what it lacks) into a fresh project,
 * and there: the README's "Use it in your app" as written (the Node snippet; export-web, the page bundled with
 * esbuild and run in headless Chromium), strict TypeScript consumers (NodeNext and Bundler, skipLibCheck off),
 * esbuild browser bundles that pull in no Node module, and the `mobilessd` command.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { startStaticServer } from '../scripts/static_server.mjs';
import { load } from '../src/index.ts';
import { CHROMIUM, CHROMIUM_ARGS } from './support/chromium.ts';
import { loadGolden, repoRoot } from './support/goldens.ts';

const root = repoRoot();
const scratch = mkdtempSync(join(tmpdir(), 'mobilessd-package-'));
const source = join(scratch, 'source');
const app = join(scratch, 'app');
let packed: { filename: string; files: { path: string }[] };

/** Runs a command to completion; fails the test with its output unless it exits 0. */
function run(cmd: string, args: string[], opts: SpawnSyncOptions & { cwd: string }): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, ...opts });
  const out = `${String(r.stdout)}${String(r.stderr)}`;
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')} (in ${opts.cwd}) exited ${r.status ?? r.signal}:\n${out}`);
  return String(r.stdout);
}

/** The README's "Use it in your app" section. */
function readmeSection(): string {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const at = text.indexOf('\n## Use it in your app\n');
  assert.ok(at >= 0, 'README has no "Use it in your app" section');
  return text.slice(at, text.indexOf('\n## ', at + 1));
}

/** The n-th ```js block of that section. */
function readmeSnippet(n: number): string {
  const blocks = [...readmeSection().matchAll(/```js\n([\s\S]*?)```/g)];
  assert.ok(blocks[n], `README's "Use it in your app" has no js block ${n}`);
  return blocks[n][1]!;
}

/** TFLite's uint8 runtime on dog.jpg (the golden): what the snippets must find, within a few 1/256 steps. */
function assertTfliteDetections(found: string[][], out: string): void {
  const ref = loadGolden('coco-ssd-mobilenetv1-quant', 'darknet__dog').detections.filter((d) => d.score >= 0.5);
  assert.deepEqual(
    found.map((f) => f[0]),
    ref.map((d) => d.label),
    out,
  );
  found.forEach((f, i) =>
    assert.ok(Math.abs(Number(f[1]) - ref[i]!.score) <= 0.03, `${f.join(' ')} vs ${ref[i]!.score}`),
  );
}

before(() => {
  // What a clean clone has (no dist/), with the checkout's node_modules for the build tools.
  for (const p of ['src', 'shaders', 'scripts', 'weights/sources'])
    cpSync(join(root, p), join(source, p), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.types.json', 'LICENSE', 'README.md', '.npmrc'])
    cpSync(join(root, f), join(source, f));
  symlinkSync(join(root, 'node_modules'), join(source, 'node_modules'), 'dir');
  const out = run('npm', ['pack', '--json', '--silent'], { cwd: source });
  packed = (JSON.parse(out.slice(out.indexOf('['))) as (typeof packed)[])[0]!;

  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  // Cached packages first; a dependency whose registry metadata npm ci never cached (it installs from the lockfile)
  // is fetched from the registry, as a user's install would.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', join(source, packed.filename)], { cwd: app });
  cpSync(join(root, 'samples/dog.jpg'), join(app, 'dog.jpg'));
});

after(() => rmSync(scratch, { recursive: true, force: true }));

test('npm pack ships the built entries, their declarations, the licence and the COCO model; no sources, maps or tests', () => {
  const files = packed.files.map((f) => f.path);
  for (const f of [
    'dist/node/index.js',
    'dist/node/cli.js',
    'dist/browser/mobilessd.js',
    'dist/types/index.d.ts',
    'dist/types/browser.d.ts',
    'weights/sources/coco/detect.tflite',
    'weights/sources/coco/labels.txt',
    'LICENSE',
    'README.md',
    'package.json',
  ])
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  const stray = files.filter((f) => /\.map$|^(src|test|bench|web|shaders|scripts|samples)\//.test(f));
  assert.deepEqual(stray, [], 'files that do not belong in the package');
});

test("the README's Node snippet runs in the installed package and finds what TFLite finds on dog.jpg", () => {
  writeFileSync(join(app, 'app.js'), readmeSnippet(0));
  const out = run(process.execPath, ['app.js', 'dog.jpg'], { cwd: app });
  // "label score {box}" per line; COCO labels may contain spaces ("traffic light").
  const found = out
    .trim()
    .split('\n')
    .map((l) => /^(.+) (\d\.\d{3}) (\{.*\})$/.exec(l)?.slice(1) ?? [l]);
  assertTfliteDetections(found, out);
  const ref = loadGolden('coco-ssd-mobilenetv1-quant', 'darknet__dog').detections;
  found.forEach((f, i) => {
    const box = JSON.parse(f[2]!) as { x: number; y: number; width: number; height: number };
    const px = ref[i]!.pixels;
    assert.ok(
      Math.abs(box.x - px.x) < 8 && Math.abs(box.width - px.width) < 8,
      `${f.join(' ')} vs ${JSON.stringify(px)}`,
    );
  });
});

test("the README's browser path: export-web, the page bundled from the installed package, detecting in Chromium", async () => {
  const section = readmeSection();
  const exportArgs = /npx mobilessd (export-web [^\n#]+)/.exec(section)?.[1]?.trim().split(/\s+/);
  const html = /`public\/index\.html`: `([^`]+)`/.exec(section)?.[1];
  assert.ok(exportArgs && html, 'the README shows the export-web command and public/index.html');
  run('npx', ['--offline', 'mobilessd', ...exportArgs], { cwd: app });
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'src/main.js'), readmeSnippet(1));
  writeFileSync(join(app, 'public/index.html'), html);
  cpSync(join(app, 'dog.jpg'), join(app, 'public/dog.jpg'));
  await esbuild.build({
    absWorkingDir: app,
    entryPoints: ['src/main.js'],
    bundle: true,
    format: 'esm',
    outfile: 'public/main.js',
    logLevel: 'silent',
  });
  const server = await startStaticServer({ mounts: { '/': join(app, 'public') } });
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.route('**/*', (route) =>
      route.request().url().startsWith(server.origin) ? route.continue() : route.abort(),
    );
    await page.goto(`${server.origin}/`);
    await page
      .waitForFunction(() => document.querySelector('pre')?.textContent, null, { timeout: 90_000 })
      .catch(() => {
        assert.fail(`the page shows nothing: ${errors.join('; ')}`);
      });
    const text = await page.locator('pre').innerText();
    // Chromium's JPEG decoder rounds differently from jpeg-js, and dog.jpg holds a cat/dog near-tie (TFLite: cat
    // one 1/256 step above dog), so the oracle here is the Node engine on the page's own pixels; Node against
    // TFLite on jpeg-js's pixels is the snippet test above.
    const shown = await page.evaluate(() => {
      const img = document.querySelector('img')!;
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      const bytes = g.getImageData(0, 0, c.width, c.height).data;
      let s = '';
      for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
      return { base64: btoa(s), width: c.width, height: c.height };
    });
    const coco = await load('coco');
    try {
      const data = new Uint8Array(Buffer.from(shown.base64, 'base64'));
      const ref = await coco.detect({ data, width: shown.width, height: shown.height });
      assert.equal(text, ref.map((d) => `${d.label} ${d.score.toFixed(3)}`).join('\n'));
      assert.ok(ref.length >= 3, text);
    } finally {
      coco.dispose();
    }
  } finally {
    await browser.close();
    await server.close();
  }
});

test('strict TypeScript consumers type-check against the declarations (NodeNext and Bundler, skipLibCheck off)', () => {
  // The consumer's own @types/node, taken from the checkout (npm's cache lacks its dependency's metadata).
  mkdirSync(join(app, 'node_modules/@types'), { recursive: true });
  symlinkSync(join(root, 'node_modules/@types/node'), join(app, 'node_modules/@types/node'), 'dir');
  const strict = { strict: true, noEmit: true, skipLibCheck: false, target: 'ES2022', noUncheckedIndexedAccess: true };
  const consumers = {
    node: {
      options: { ...strict, module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'] },
      code: `import { load, BUNDLED_MODELS, MobileSsdError, type Detection, type LoadOptions, type ObjectDetector } from 'mobilessd';
const options: LoadOptions = { driver: 'auto', scoreThreshold: 0.4 };
const detector: ObjectDetector = await load('coco', options);
const found: Detection[] = await detector.detect('dog.jpg', { classes: ['dog'], maxDetections: 5 });
const names: string[] = BUNDLED_MODELS.map((m) => m.name);
const width: number | undefined = found[0]?.box.width;
console.log(width, names, detector.info.dir, detector.labels.length, MobileSsdError.name);
detector.dispose();
`,
    },
    bundler: {
      options: { ...strict, module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [] },
      code: `import { load, describeAdapter, NoAdapterError, type Detection, type LoadOptions } from 'mobilessd/browser';
const options: LoadOptions = { baseUrl: '/models/' };
const pinned = await load({ url: '/models/coco/model.json', integrity: 'sha384-abc' }, options);
pinned.dispose();
const detector = await load('coco', options);
const image = document.querySelector('img');
if (image) {
  const found: Detection[] = await detector.detect(image, { scoreThreshold: 0.5 });
  console.log(found.length, describeAdapter(detector.adapter), detector.info.url, NoAdapterError.name);
}
`,
    },
  };
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  for (const [name, c] of Object.entries(consumers)) {
    const dir = join(app, `ts-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(dir, 'main.ts'), c.code);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: c.options, files: ['main.ts'] }));
    run(process.execPath, [tsc, '-p', dir], { cwd: dir });
  }
});

test('a browser bundle made with esbuild pulls in the browser build only, and no Node module', async () => {
  for (const specifier of ['mobilessd/browser', 'mobilessd']) {
    writeFileSync(join(app, 'page.js'), `import { load } from '${specifier}';\nwindow.detector = load('coco');\n`);
    const r = await esbuild.build({
      absWorkingDir: app,
      entryPoints: ['page.js'],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(r.metafile.inputs).sort();
    assert.deepEqual(inputs, ['node_modules/mobilessd/dist/browser/mobilessd.js', 'page.js'], specifier);
    const code = r.outputFiles[0]!.text;
    assert.doesNotMatch(code, /from ["']node:|require\(["']/, `${specifier}: the bundle imports a Node module`);
    assert.ok(code.length > 100_000, `${specifier}: ${code.length} bytes is not the library`);
  }
});

test('npx mobilessd --help and detect run from the installed package', () => {
  assert.match(run('npx', ['--offline', 'mobilessd', '--help'], { cwd: app }), /usage: mobilessd <command>/);
  const table = run('npx', ['--offline', 'mobilessd', 'detect', 'dog.jpg', '--model', 'coco'], { cwd: app });
  assert.match(table, /dog\.jpg\s+bicycle\s+0\.\d{3}/);
  assert.ok(
    existsSync(join(app, 'node_modules/mobilessd/weights/coco/model.json')),
    'coco was not cached in the package',
  );
});
