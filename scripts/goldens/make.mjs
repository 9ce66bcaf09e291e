#!/usr/bin/env node
// Regenerates the reference outputs ("goldens") in test/fixtures/goldens/ from the models' own runtimes:
//   - TensorFlow Lite (WASM, @tensorflow/tfjs-tflite) in headless Chromium for the Open Images SSD-MobileNetV2
//     (@mediapipe/objectron), the COCO SSD-MobileNetV1 uint8 model (../shared/models) and MediaPipe's BlazeFace
//     short- and full-range face detectors (@mediapipe/face_detection),
//   - face-api (@vladmandic/face-api) on @tensorflow/tfjs-core + tfjs-backend-cpu in Node for its SSD-MobileNetV1.
// Input tensors are built with our CPU preprocessing (src/kernels/preprocess_ref.ts) through
// scripts/goldens/inputs.ts, which the tests use too. See test/fixtures/goldens/README.md.
//
// Usage: node scripts/goldens/make.mjs [--only oid,coco,face,blazeface] [--out DIR]
//   --only          regenerate some models only
//   --out           write there instead of test/fixtures/goldens (to compare)
import * as esbuild from 'esbuild';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { parseTflite, withSubgraphOutputs } from './tflite_flatbuffer.mjs';
import { blazefaceDetections, decodeBox, mediapipeDetections, mediapipeSsdAnchors } from './postprocess.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const here = join(root, 'scripts/goldens');
const buildDir = join(root, '.build/goldens');
const require = createRequire(join(root, 'package.json'));
const pkgVersion = (name) => require(`${name}/package.json`).version;
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[(s.length - 1) >> 1] : NaN;
};
const log = (...a) => console.log('[goldens]', ...a);

const argv = process.argv.slice(2);
const onlyArg = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : '';
const only = onlyArg ? onlyArg.split(',') : ['oid', 'coco', 'face', 'blazeface'];
const outRoot = argv.includes('--out') ? resolve(argv[argv.indexOf('--out') + 1]) : join(root, 'test/fixtures/goldens');

// ---------------------------------------------------------------------------------------------- images
const DATASETS = '../shared/datasets';
const datasetImages = [
  {
    stem: 'voc2012-100__2007_000063',
    path: `${DATASETS}/voc2012-100/JPEGImages/2007_000063.jpg`,
    origin: 'PASCAL VOC2012 (shared dataset voc2012-100): dog, chair',
  },
  {
    stem: 'voc2012-100__2007_000515',
    path: `${DATASETS}/voc2012-100/JPEGImages/2007_000515.jpg`,
    origin: 'PASCAL VOC2012 (shared dataset voc2012-100): bicycle, 2 cars, person',
  },
  {
    stem: 'voc2012-100__2007_001185',
    path: `${DATASETS}/voc2012-100/JPEGImages/2007_001185.jpg`,
    origin: 'PASCAL VOC2012 (shared dataset voc2012-100): bottle, cat, dining table, person',
  },
  {
    stem: 'coco128-val__000000001675',
    path: `${DATASETS}/coco128-val/images/000000001675.jpg`,
    origin: 'COCO val2017 (shared dataset coco128-val): cat, keyboard',
  },
];
// The classic detection sample, committed in samples/ (from Debian's darknet package; see samples/README.md).
const darknetImage = {
  stem: 'darknet__dog',
  path: 'samples/dog.jpg',
  origin: 'darknet data/dog.jpg (Debian package darknet, MIT/WTFPL), committed as samples/dog.jpg',
};
const faceImages = [1, 2, 3].map((i) => ({
  stem: `face-api-demo__sample${i}`,
  path: `node_modules/@vladmandic/face-api/demo/sample${i}.jpg`,
  origin: `@vladmandic/face-api@${pkgVersion('@vladmandic/face-api')} demo/sample${i}.jpg`,
}));

// ---------------------------------------------------------------------------------------------- shared
const TFLITE_RUNTIME =
  'TensorFlow Lite WASM runtime via @tensorflow/tfjs-tflite (TFLiteModel.predict) in headless Chromium';
const JSON_ENCODING = 'gzip; little-endian arrays, each 4-byte aligned';
const round = (v, digits) => Math.round(v * 10 ** digits) / 10 ** digits;
const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
const splitLabels = (text) => text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

/** A box (ymin, xmin, ymax, xmax) on a canvas of `scale` source pixels per unit (x, y), in source pixels, clipped. */
function pixels(box, image, scaleX, scaleY) {
  const x = clamp(box.xmin * scaleX, 0, image.width);
  const y = clamp(box.ymin * scaleY, 0, image.height);
  return {
    x: round(x, 2),
    y: round(y, 2),
    width: round(clamp(box.xmax * scaleX, 0, image.width) - x, 2),
    height: round(clamp(box.ymax * scaleY, 0, image.height) - y, 2),
  };
}
const box6 = (b) => ({
  ymin: round(b.ymin, 6),
  xmin: round(b.xmin, 6),
  ymax: round(b.ymax, 6),
  xmax: round(b.xmax, 6),
});

/**
 * Writes `<dir>/<stem>.bin.gz` (the arrays, 4-byte aligned, gzip level 9) and `<dir>/<stem>.json` (`doc` with
 * `data` and `outputs` descriptors appended). `arrays`: name -> { bytes, ...descriptor fields }.
 */
function writeGolden(dir, stem, doc, arrays) {
  const parts = [];
  const outputs = {};
  let offset = 0;
  for (const [name, { bytes, ...desc }] of Object.entries(arrays)) {
    const aligned = Math.ceil(offset / 4) * 4;
    if (aligned > offset) parts.push(new Uint8Array(aligned - offset));
    parts.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    outputs[name] = { ...desc, byteOffset: aligned, byteLength: bytes.byteLength };
    offset = aligned + bytes.byteLength;
  }
  const blob = Buffer.concat(parts);
  const gz = gzipSync(blob, { level: 9 });
  const data = { file: `${stem}.bin.gz`, encoding: JSON_ENCODING, byteLength: blob.length, sha256: sha256(blob) };
  mkdirSync(join(outRoot, dir), { recursive: true });
  writeFileSync(join(outRoot, dir, `${stem}.bin.gz`), gz);
  writeFileSync(join(outRoot, dir, `${stem}.json`), `${JSON.stringify({ ...doc, data, outputs }, null, 2)}\n`);
  log(`${dir}/${stem}: ${doc.detections.length} detections, ${(gz.length / 1024).toFixed(0)} KiB`);
  return { path: `${dir}/${stem}`, bytes: gz.length };
}

function header(dir, stem) {
  return { format: 'mobilessd-golden', version: 1, model: dir, stem, generatedBy: 'node scripts/goldens/make.mjs' };
}

// ---------------------------------------------------------------------------------------------- bundles
/** The input builder (TypeScript, shared with the tests) and face-api on tfjs-core + tfjs-backend-cpu. */
async function bundles() {
  mkdirSync(buildDir, { recursive: true });
  const inputsPath = join(buildDir, 'inputs.mjs');
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(here, 'inputs.ts')],
    outfile: inputsPath,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    packages: 'external',
    logLevel: 'error',
  });
  const faceapiPath = join(buildDir, 'faceapi.mjs');
  if (only.includes('face')) {
    // face-api's no-bundle build imports @tensorflow/tfjs (not installed): map it to tfjs-core with the chained
    // ops and gradients @tensorflow/tfjs registers, and the webgl/wasm backends it re-exports to nothing.
    const shim = {
      name: 'face-api-on-tfjs-core',
      setup(build) {
        build.onResolve({ filter: /^@tensorflow\/tfjs\/dist\/index\.js$/ }, () => ({
          path: 'tfjs',
          namespace: 'shim',
        }));
        build.onResolve({ filter: /^@tensorflow\/tfjs-backend-(webgl|wasm)\/dist\/index\.js$/ }, () => ({
          path: 'none',
          namespace: 'shim',
        }));
        build.onLoad({ filter: /.*/, namespace: 'shim' }, (a) => ({
          contents:
            a.path === 'tfjs'
              ? "export * from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops.js'; import '@tensorflow/tfjs-core/dist/register_all_gradients.js';"
              : 'export {};',
          resolveDir: root,
          loader: 'js',
        }));
      },
    };
    await esbuild.build({
      absWorkingDir: root,
      stdin: {
        contents:
          "export * as faceapi from '@vladmandic/face-api/dist/face-api.esm-nobundle.js'; export * as tf from '@tensorflow/tfjs-core'; import '@tensorflow/tfjs-backend-cpu';",
        resolveDir: root,
        loader: 'js',
      },
      outfile: faceapiPath,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'es2022',
      mainFields: ['module', 'main'],
      plugins: [shim],
      logLevel: 'error',
      // tfjs-core's Node platform calls require('util').
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
    });
  }
  return { inputs: await import(pathToFileURL(inputsPath).href), faceapiPath };
}

// ----------------------------------------------------------------------------------------------- models
function oidModel() {
  const file = 'node_modules/@mediapipe/objectron/objectron_solution_packed_assets.data';
  const packed = readFileSync(join(root, file));
  const loader = readFileSync(
    join(root, 'node_modules/@mediapipe/objectron/objectron_solution_packed_assets_loader.js'),
    'utf8',
  );
  const ranges = new Map();
  for (const m of loader.matchAll(/"filename":\s*"([^"]+)",\s*"start":\s*(\d+),\s*"end":\s*(\d+)/g))
    ranges.set(basename(m[1]), [Number(m[2]), Number(m[3])]);
  const [start, end] = ranges.get('object_detection_ssd_mobilenetv2_oidv4_fp16.tflite');
  const [labelStart, labelEnd] = ranges.get('object_detection_oidv4_labelmap.txt');
  const bytes = new Uint8Array(packed.subarray(start, end));
  return {
    key: 'oid',
    dir: 'oid-ssd-mobilenetv2',
    bytes,
    labels: splitLabels(packed.subarray(labelStart, labelEnd).toString('utf8')),
    recipe: {
      file,
      byteOffset: start,
      byteLength: end - start,
      sha256: sha256(bytes),
      package: `@mediapipe/objectron@${pkgVersion('@mediapipe/objectron')}`,
      labels: `bytes ${labelStart}..${labelEnd} of the same file, one per line, index 0 = background`,
    },
    input: {
      kind: 'float32',
      spec: { width: 300, height: 300, resize: 'stretch', halfPixelCenters: true, mean: 127.5, std: 127.5 },
    },
  };
}

function cocoModel(inputs) {
  // '../shared/...' is the shared data folder wherever it is (scripts/shared_data.ts).
  const sharedFile = (path) => inputs.resolvePath(root, path);
  const dir = '../shared/models/coco-ssd-mobilenet-v1-quant';
  const bytes = new Uint8Array(readFileSync(sharedFile(`${dir}/detect.tflite`)));
  return {
    key: 'coco',
    dir: 'coco-ssd-mobilenetv1-quant',
    bytes,
    labels: splitLabels(readFileSync(sharedFile(`${dir}/labels.txt`), 'utf8')),
    recipe: {
      file: `${dir}/detect.tflite`,
      sha256: sha256(bytes),
      byteLength: bytes.length,
      labels: `${dir}/labels.txt (index 0 = background ???; TFLite class c is labels[c + 1])`,
    },
    input: {
      kind: 'uint8',
      spec: { width: 300, height: 300, resize: 'stretch', halfPixelCenters: true, mean: 0, std: 1 },
      rounding: 'round-half-up, clamp 0..255',
      engine: { mean: 128, std: 128 },
    },
  };
}

/** MediaPipe's face detectors as its face_detection module graphs run them (face_detection.pbtxt and the two
 * range graphs that parameterize it); the images are the face-api demo photos and the darknet dog (no face). */
function blazefaceModels() {
  const pkg = '@mediapipe/face_detection';
  const make = (key, dir, file, size, anchors, minScore) => {
    const path = `node_modules/${pkg}/${file}`;
    const bytes = new Uint8Array(readFileSync(join(root, path)));
    return {
      key,
      dir,
      bytes,
      labels: ['face'],
      images: [...faceImages, darknetImage],
      recipe: { file: path, sha256: sha256(bytes), byteLength: bytes.length, package: `${pkg}@${pkgVersion(pkg)}` },
      input: {
        kind: 'float32',
        spec: { width: size, height: size, resize: 'letterbox', halfPixelCenters: true, mean: 127.5, std: 127.5 },
      },
      mediapipe: {
        anchors: {
          minScale: 0.1484375,
          maxScale: 0.75,
          inputHeight: size,
          inputWidth: size,
          aspectRatios: [1.0],
          reduceBoxesInLowestLayer: false,
          fixedAnchorSize: true,
          ...anchors,
        },
        decode: { scale: size, minScore },
      },
    };
  };
  return [
    make(
      'blazeface',
      'blazeface-short-range',
      'face_detection_short_range.tflite',
      128,
      { numLayers: 4, strides: [8, 16, 16, 16], interpolatedScaleAspectRatio: 1.0 },
      0.5,
    ),
    make(
      'blazeface-full',
      'blazeface-full-range',
      'face_detection_full_range.tflite',
      192,
      { numLayers: 1, strides: [4], interpolatedScaleAspectRatio: 0.0 },
      0.6,
    ),
  ];
}

// ------------------------------------------------------------------------------------------------ TFLite
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-webgpu-adapter=swiftshader',
  '--use-vulkan=swiftshader',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const PAGE = `<!doctype html><meta charset="utf-8"><title>goldens</title>
<script src="/lib/tf-core.min.js"></script><script src="/lib/tf-backend-cpu.min.js"></script>
<script src="/lib/tf-tflite.min.js"></script><script src="/page.js"></script>`;

/** Serves the page, the UMD bundles, tfjs-tflite's wasm folder, models and inputs, from 127.0.0.1 only. */
async function startServer(blobs, wasmLoaded) {
  const files = {
    '/': () => [PAGE, 'text/html'],
    '/page.js': () => [readFileSync(join(here, 'page.js')), 'text/javascript'],
    '/lib/tf-core.min.js': () => [
      readFileSync(require.resolve('@tensorflow/tfjs-core/dist/tf-core.min.js')),
      'text/javascript',
    ],
    '/lib/tf-backend-cpu.min.js': () => [
      readFileSync(require.resolve('@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js')),
      'text/javascript',
    ],
    '/lib/tf-tflite.min.js': () => [
      readFileSync(require.resolve('@tensorflow/tfjs-tflite/dist/tf-tflite.min.js')),
      'text/javascript',
    ],
  };
  const wasmDir = join(dirname(require.resolve('@tensorflow/tfjs-tflite/package.json')), 'wasm');
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    let body;
    let type = 'application/octet-stream';
    if (files[path]) [body, type] = files[path]();
    else if (blobs.has(path)) body = blobs.get(path);
    else if (path.startsWith('/wasm/') && existsSync(join(wasmDir, basename(path)))) {
      const name = basename(path);
      if (!wasmLoaded.includes(name)) wasmLoaded.push(name);
      body = readFileSync(join(wasmDir, name));
      type = name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
    }
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

const fromBase64 = (o) => {
  const b = Buffer.from(o.base64, 'base64');
  const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
  return o.dtype === 'float32' ? new Float32Array(bytes.buffer) : new Int32Array(bytes.buffer);
};

/** Runs the TFLite models on every image in headless Chromium and writes their goldens. */
async function runTflite(models, images, inputs) {
  const { chromium } = await import('playwright-core');
  const blobs = new Map();
  const wasmLoaded = [];
  const { server, origin } = await startServer(blobs, wasmLoaded);
  const profile = mkdtempSync(join(tmpdir(), 'mobilessd-goldens-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  const written = [];
  try {
    await context.route('**/*', (route) =>
      new URL(route.request().url()).origin === origin ? route.continue() : route.abort(),
    );
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (e) => log(`page error: ${e.message}`));
    await page.goto(`${origin}/`);
    const env = await page.evaluate(() => window.goldens.init('/wasm/'));
    const chromiumMajor = /Chrome\/(\d+)\./.exec(env.userAgent)?.[1];
    log(`TFLite in Chromium ${chromiumMajor}, tfjs-core ${env.tfjsCore} (${env.backend})`);
    const versions = {
      '@tensorflow/tfjs-tflite': pkgVersion('@tensorflow/tfjs-tflite'),
      '@tensorflow/tfjs-core': env.tfjsCore,
      '@tensorflow/tfjs-backend-cpu': pkgVersion('@tensorflow/tfjs-backend-cpu'),
      chromium: chromiumMajor,
      'playwright-core': pkgVersion('playwright-core'),
    };
    const run = async (key, url, input) => {
      const r = await page.evaluate(
        ([k, u, dtype, shape]) => window.goldens.run(k, u, dtype, shape, 4),
        [key, url, input.dtype, input.shape],
      );
      log(`  ${key}: predict ${median(r.times.slice(1)).toFixed(1)} ms (median of the last 3)`);
      return Object.fromEntries(
        Object.entries(r.outputs).map(([n, o]) => [n, { shape: o.shape, data: fromBase64(o) }]),
      );
    };
    for (const model of models) {
      const tfl = parseTflite(model.bytes);
      const parsed = tfl.subgraphs[0];
      const byName = new Map(parsed.tensors.map((t) => [t.name, t]));
      blobs.set(`/model/${model.key}`, model.bytes);
      const loaded = await page.evaluate(([k, u]) => window.goldens.load(k, u, 1), [model.key, `/model/${model.key}`]);
      const outputOrder = loaded.outputs.map((o) => o.name);
      let raw;
      if (model.key === 'coco') {
        const extra = ['Squeeze', 'concat_1', 'convert_scores'].map((n) => byName.get(n).index);
        const patchedOutputs = [...parsed.outputs, ...extra];
        const patched = withSubgraphOutputs(model.bytes, 0, patchedOutputs);
        blobs.set('/model/coco-raw', patched);
        const l = await page.evaluate(([k, u]) => window.goldens.load(k, u, 1), ['coco-raw', '/model/coco-raw']);
        raw = { outputs: patchedOutputs, bytes: patched, order: l.outputs.map((o) => o.name) };
      }
      for (const img of model.images ?? images) {
        const { image, ref } = inputs.loadImage(root, img.path);
        const input = inputs.buildInput(model.input, image);
        const inputUrl = `/input/${model.key}/${img.stem}`;
        blobs.set(inputUrl, new Uint8Array(input.data.buffer, input.data.byteOffset, input.data.byteLength));
        log(`${model.dir}/${img.stem}`);
        const outputs = await run(model.key, inputUrl, input);
        const doc = {
          ...header(model.dir, img.stem),
          recipe: { model: model.recipe, image: { ...ref, origin: img.origin }, input: model.input },
          input: { shape: input.shape, dtype: input.dtype, sha256: input.sha256 },
          runtime: {
            name: TFLITE_RUNTIME,
            versions,
            wasmFilesLoaded: [...wasmLoaded].sort(),
            numThreads: 1,
            crossOriginIsolated: env.crossOriginIsolated,
          },
          modelOutputOrder: outputOrder,
        };
        const tensor = (name) => byName.get(name);
        if (model.key === 'oid') {
          written.push(oidGolden(model, img.stem, doc, image, outputs, tensor));
        } else if (model.mediapipe) {
          written.push(blazefaceGolden(model, img.stem, doc, image, outputs, outputOrder, tensor));
        } else {
          const rawOutputs = await run('coco-raw', inputUrl, input);
          for (const name of outputOrder) {
            const a = outputs[name].data;
            const b = rawOutputs[name].data;
            if (a.length !== b.length || a.some((v, i) => !Object.is(v, b[i])))
              throw new Error(`${img.stem}: the patched model's ${name} differs from the original's`);
          }
          doc.patchedModel = {
            how: 'in-memory copy whose subgraph 0 outputs vector is replaced by [original outputs..., Squeeze, concat_1, convert_scores] (tensor indices found by name; new vector appended at the end of the flatbuffer, only the outputs offset changed). tfjs-tflite has no API for intermediate tensors.',
            outputs: raw.outputs,
            sha256: sha256(raw.bytes),
            outputOrder: raw.order,
            postProcessOutputsIdentical: true,
          };
          written.push(cocoGolden(model, img.stem, doc, image, rawOutputs, tensor, tfl));
        }
      }
    }
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return written;
}

/** A float32 output of a TFLite model, with its flatbuffer facts. */
function tfliteArray(t, shape, description, data) {
  return {
    shape,
    dtype: 'float32',
    tensorIndex: t.index,
    tfliteName: t.name,
    tfliteType: t.type,
    description,
    bytes: data,
  };
}

function oidGolden(model, stem, doc, image, outputs, tensor) {
  const enc = outputs['raw_outputs/box_encodings'];
  const logits = outputs['raw_outputs/class_predictions'];
  const numClasses = logits.shape[2];
  const found = mediapipeDetections(enc.data, logits.data, numClasses, mediapipeSsdAnchors(), model.labels);
  const detections = found.map((d) => ({
    label: d.label,
    classIndex: d.classIndex,
    score: round(d.score, 6),
    anchor: d.anchor,
    box: box6(d.box),
    pixels: pixels(d.box, image, image.width, image.height),
  }));
  return writeGolden(
    model.dir,
    stem,
    {
      ...doc,
      detectionsPipeline:
        'MediaPipe TensorsToDetections + NonMaxSuppression as in ../shared/docs/models.md, reimplemented in scripts/goldens/postprocess.mjs: anchors from SsdAnchorsCalculator options (1917), decode (ty,tx,th,tw) with scales 10,10,5,5, score = max over classes 1..23 of sigmoid(logit), keep score >= 0.5, class-agnostic greedy NMS (suppress IoU > 0.5), at most 100. Boxes (ymin,xmin,ymax,xmax) normalized to the 300x300 input (= the image, stretched); pixels = box scaled to the source image and clipped.',
      labels: model.labels,
      detections,
    },
    {
      'raw_outputs/box_encodings': tfliteArray(
        tensor('raw_outputs/box_encodings'),
        enc.shape,
        'raw box encodings (ty, tx, th, tw) per anchor',
        enc.data,
      ),
      'raw_outputs/class_predictions': tfliteArray(
        tensor('raw_outputs/class_predictions'),
        logits.shape,
        'raw class logits (column 0 = background; sigmoid applied outside the model)',
        logits.data,
      ),
    },
  );
}

const FACE_KEYPOINTS = ['right_eye', 'left_eye', 'nose_tip', 'mouth_center', 'right_ear_tragion', 'left_ear_tragion'];

function blazefaceGolden(model, stem, doc, image, outputs, order, tensor) {
  // TensorsToDetections takes the model's outputs in order: boxes and keypoints, then scores.
  const [boxName, scoreName] = order;
  const raw = outputs[boxName];
  const logits = outputs[scoreName];
  const { decode } = model.mediapipe;
  const found = blazefaceDetections(raw.data, logits.data, mediapipeSsdAnchors(model.mediapipe.anchors), decode);
  // The input is letterboxed onto a square canvas, the image centred (our preprocessRef's placement).
  const side = Math.max(image.width, image.height);
  const x0 = Math.floor((side - image.width) / 2);
  const y0 = Math.floor((side - image.height) / 2);
  const detections = found.map((d) => {
    const b = {
      ymin: d.box.ymin - y0 / side,
      xmin: d.box.xmin - x0 / side,
      ymax: d.box.ymax - y0 / side,
      xmax: d.box.xmax - x0 / side,
    };
    return {
      label: 'face',
      classIndex: 0,
      score: round(d.score, 6),
      anchor: d.anchor,
      clusterSize: d.clusterSize ?? 0,
      box: box6(d.box),
      pixels: pixels(b, image, side, side),
      keypoints: d.keypoints.map((k, i) => ({
        name: FACE_KEYPOINTS[i],
        x: round(k.x, 6),
        y: round(k.y, 6),
        px: round(k.x * side - x0, 2),
        py: round(k.y * side - y0, 2),
      })),
    };
  });
  return writeGolden(
    model.dir,
    stem,
    {
      ...doc,
      detectionsPipeline: `MediaPipe's face detection post-processing (mediapipe/modules/face_detection/face_detection.pbtxt), reimplemented in scripts/goldens/postprocess.mjs (not product code): SsdAnchorsCalculator with fixed_anchor_size (${mediapipeSsdAnchors(model.mediapipe.anchors).length} anchors), TensorsToDetections with reverse_output_order (x, y, w, h), linear sizes, scales ${decode.scale}, 6 keypoints (x, y) from column 4, sigmoid of the logit clipped to +-100, keep score >= ${decode.minScore}, drop negative sizes; NonMaxSuppression WEIGHTED at IoU 0.3 (score stays the best one's; clusterSize counts the averaged detections). box and keypoints (x, y) normalized to the letterboxed ${decode.scale}x${decode.scale} input; pixels, px, py on the source image (box clipped, keypoints not).`,
      labels: model.labels,
      detections,
    },
    {
      [boxName]: tfliteArray(
        tensor(boxName),
        raw.shape,
        'raw box and keypoint regressions per anchor: x, y, w, h, then 6 x (x, y)',
        raw.data,
      ),
      [scoreName]: tfliteArray(
        tensor(scoreName),
        logits.shape,
        'raw face logit per anchor (sigmoid applied outside the model)',
        logits.data,
      ),
    },
  );
}

function cocoGolden(model, stem, doc, image, outputs, tensor, parsed) {
  const out = (i) => outputs[`TFLite_Detection_PostProcess${i ? `:${i}` : ''}`];
  const [boxes, classes, scores, count] = [0, 1, 2, 3].map(out);
  const dequantize = (t, q) => Float64Array.from(q, (v) => (v - t.quantization.zeroPoint[0]) * t.quantization.scale[0]);
  const squeeze = dequantize(tensor('Squeeze'), outputs.Squeeze.data);
  const anchorsTensor = tensor('anchors');
  const anchorBytes = parsed.buffers[anchorsTensor.buffer];
  const anchors = dequantize(
    anchorsTensor,
    model.bytes.subarray(anchorBytes.start, anchorBytes.start + anchorBytes.length),
  );
  const anchorRow = (i) => [anchors[4 * i], anchors[4 * i + 1], anchors[4 * i + 2], anchors[4 * i + 3]];
  const convertScores = dequantize(tensor('convert_scores'), outputs.convert_scores.data);
  const numClasses = outputs.convert_scores.shape[2];
  let maxBoxDiff = 0;
  let maxScoreDiff = 0;
  const detections = [];
  for (let d = 0; d < count.data[0]; d++) {
    const box = {
      ymin: boxes.data[4 * d],
      xmin: boxes.data[4 * d + 1],
      ymax: boxes.data[4 * d + 2],
      xmax: boxes.data[4 * d + 3],
    };
    let anchor = -1;
    let best = Infinity;
    for (let i = 0; i < squeeze.length / 4; i++) {
      const b = decodeBox(squeeze, i, anchorRow(i));
      const diff = Math.max(...['ymin', 'xmin', 'ymax', 'xmax'].map((k) => Math.abs(b[k] - box[k])));
      if (diff < best) [best, anchor] = [diff, i];
    }
    const classIndex = classes.data[d] + 1;
    maxBoxDiff = Math.max(maxBoxDiff, best);
    maxScoreDiff = Math.max(maxScoreDiff, Math.abs(scores.data[d] - convertScores[anchor * numClasses + classIndex]));
    detections.push({
      label: model.labels[classIndex],
      classIndex,
      score: round(scores.data[d], 6),
      anchor,
      box: box6(box),
      pixels: pixels(box, image, image.width, image.height),
    });
  }
  const uint8 = (name, description) => {
    const t = tensor(name);
    return {
      shape: outputs[name].shape,
      dtype: 'uint8',
      tensorIndex: t.index,
      tfliteName: t.name,
      tfliteType: t.type,
      quantization: { scale: t.quantization.scale[0], zeroPoint: t.quantization.zeroPoint[0] },
      description,
      bytes: Uint8Array.from(outputs[name].data),
    };
  };
  const pp = (i, description) => {
    const name = `TFLite_Detection_PostProcess${i ? `:${i}` : ''}`;
    return tfliteArray(tensor(name), out(i).shape, description, out(i).data);
  };
  return writeGolden(
    model.dir,
    stem,
    {
      ...doc,
      detectionsPipeline:
        "the model's own TFLite_Detection_PostProcess op output (first num_detections rows); anchor = index whose decoding of the dequantized raw Squeeze against the dequantized anchors constant matches the box",
      crossCheck: { maxBoxDiffVsRawDecode: maxBoxDiff, maxScoreDiffVsConvertScores: maxScoreDiff },
      labels: model.labels,
      detections,
    },
    {
      TFLite_Detection_PostProcess: pp(0, 'TFLite_Detection_PostProcess boxes (ymin, xmin, ymax, xmax), normalized'),
      'TFLite_Detection_PostProcess:1': pp(
        1,
        'TFLite_Detection_PostProcess class (0-based, background excluded: label = labels[c + 1])',
      ),
      'TFLite_Detection_PostProcess:2': pp(2, 'TFLite_Detection_PostProcess scores'),
      'TFLite_Detection_PostProcess:3': pp(3, 'TFLite_Detection_PostProcess number of detections'),
      Squeeze: uint8('Squeeze', 'raw box encodings (ty, tx, th, tw), uint8; the post-process op input'),
      concat_1: uint8('concat_1', 'raw class logits before LOGISTIC, uint8 (column 0 = background)'),
      convert_scores: uint8('convert_scores', 'class scores after LOGISTIC, uint8; the post-process op input'),
    },
  );
}

// -------------------------------------------------------------------------------------------------- face
/** Runs face-api's SsdMobilenetv1 on tfjs-core + tfjs-backend-cpu in this process and writes its goldens. */
async function runFace(inputs, faceapiPath, images) {
  const { faceapi, tf } = await import(pathToFileURL(faceapiPath).href);
  await tf.setBackend('cpu');
  await tf.ready();
  const modelDir = 'node_modules/@vladmandic/face-api/model';
  const manifestFile = `${modelDir}/ssd_mobilenetv1_model-weights_manifest.json`;
  const weightsFile = `${modelDir}/ssd_mobilenetv1_model.bin`;
  const manifestBytes = readFileSync(join(root, manifestFile));
  const weightBytes = readFileSync(join(root, weightsFile));
  const manifest = JSON.parse(manifestBytes.toString('utf8'));
  const weightMap = tf.io.decodeWeights(
    weightBytes.buffer.slice(weightBytes.byteOffset, weightBytes.byteOffset + weightBytes.byteLength),
    manifest.flatMap((group) => group.weights),
  );
  const extraDim = weightMap['Output/extra_dim'].dataSync();
  const net = new faceapi.SsdMobilenetv1();
  net.loadFromWeightMap(weightMap);

  // The raw predictor outputs are the two Concat results of forwardInput: capture them from the CPU kernel.
  const concat = tf.getKernel('Concat', 'cpu');
  const captured = [];
  tf.unregisterKernel('Concat', 'cpu');
  tf.registerKernel({
    ...concat,
    kernelFunc: (args) => {
      const out = concat.kernelFunc(args);
      const info = args.backend.readSync(out.dataId);
      captured.push({ shape: out.shape, data: Float32Array.from(info) });
      return out;
    },
  });
  const recipe = {
    kind: 'uint8',
    spec: { width: 512, height: 512, resize: 'pad-bottom-right', halfPixelCenters: false, mean: 0, std: 1 },
    rounding: 'round-half-up, clamp 0..255',
    engine: { mean: 127.5, std: 127.5 },
  };
  const written = [];
  for (const img of images) {
    const { image, ref } = inputs.loadImage(root, img.path);
    const input = inputs.buildInput(recipe, image);
    const x = tf.tensor3d(Int32Array.from(input.data), [512, 512, 3], 'int32');
    captured.length = 0;
    const forward = net.forwardInput(await faceapi.toNetInput(x));
    const encodings = captured.find((c) => c.shape.join() === '1,5118,1,4');
    const logits = captured.find((c) => c.shape.join() === '1,5118,3');
    if (!encodings || !logits) throw new Error(`${img.stem}: the predictor Concat outputs were not captured`);
    const boxes = forward.boxes[0].dataSync();
    const scores = forward.scores[0].dataSync();
    tf.dispose([forward.boxes, forward.scores]);
    const t0 = performance.now();
    const found = await net.locateFaces(x, new faceapi.SsdMobilenetv1Options({ minConfidence: 0.5, maxResults: 100 }));
    log(`face-ssd-mobilenetv1/${img.stem}: locateFaces ${(performance.now() - t0).toFixed(0)} ms`);
    tf.dispose(x);

    let maxScoreDiff = 0;
    let maxBoxDiff = 0;
    for (let i = 0; i < scores.length; i++) {
      maxScoreDiff = Math.max(maxScoreDiff, Math.abs(scores[i] - 1 / (1 + Math.exp(-logits.data[3 * i + 1]))));
      const [ymin, xmin, ymax, xmax] = extraDim.subarray(4 * i, 4 * i + 4);
      const anchor = [(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin];
      const b = decodeBox(encodings.data, i, anchor);
      ['ymin', 'xmin', 'ymax', 'xmax'].forEach(
        (k, j) => (maxBoxDiff = Math.max(maxBoxDiff, Math.abs(b[k] - boxes[4 * i + j]))),
      );
    }
    const side = Math.max(image.width, image.height);
    const detections = found.map((f) => {
      const r = f.relativeBox;
      const box = { ymin: r.top, xmin: r.left, ymax: r.bottom, xmax: r.right };
      const clipped = (i) => [
        Math.max(0, boxes[4 * i]),
        Math.max(0, boxes[4 * i + 1]),
        Math.min(1, boxes[4 * i + 2]),
        Math.min(1, boxes[4 * i + 3]),
      ];
      let anchor = -1;
      for (let i = 0; i < scores.length && anchor < 0; i++) {
        if (scores[i] !== f.score) continue;
        const c = clipped(i);
        if (Math.max(...[box.ymin, box.xmin, box.ymax, box.xmax].map((v, j) => Math.abs(v - c[j]))) < 1e-6) anchor = i;
      }
      return {
        label: 'face',
        classIndex: 1,
        score: round(f.score, 6),
        anchor,
        box: box6(box),
        pixels: pixels(box, image, side, side),
        faceApiBox512: {
          x: round(f.box.x, 3),
          y: round(f.box.y, 3),
          width: round(f.box.width, 3),
          height: round(f.box.height, 3),
        },
      };
    });
    const doc = {
      ...header('face-ssd-mobilenetv1', img.stem),
      recipe: {
        model: {
          files: [manifestFile, weightsFile],
          sha256: {
            manifest: sha256(manifestBytes),
            weights: sha256(weightBytes),
            concatenated: sha256(Buffer.concat([manifestBytes, weightBytes])),
          },
          package: `@vladmandic/face-api@${pkgVersion('@vladmandic/face-api')}`,
        },
        image: { ...ref, origin: img.origin },
        input: recipe,
      },
      input: { shape: input.shape, dtype: input.dtype, sha256: input.sha256 },
      runtime: {
        name: 'face-api SsdMobilenetv1 (locateFaces) on tfjs-core + tfjs-backend-cpu in Node',
        versions: {
          '@vladmandic/face-api': pkgVersion('@vladmandic/face-api'),
          '@tensorflow/tfjs-core': tf.version_core,
          '@tensorflow/tfjs-backend-cpu': pkgVersion('@tensorflow/tfjs-backend-cpu'),
          node: process.versions.node.split('.')[0],
        },
        how: "dist/face-api.esm-nobundle.js bundled by esbuild with @tensorflow/tfjs mapped to @tensorflow/tfjs-core + @tensorflow/tfjs-backend-cpu (webgl/wasm backends mapped to empty modules); weights decoded with tf.io.decodeWeights from the manifest and loaded with loadFromWeightMap; input passed as an int32 tf.Tensor3D [512,512,3], so face-api's padToSquare and resizeBilinear are no-ops and it computes x/127.5 - 1 itself",
      },
      options: {
        minConfidence: 0.5,
        maxResults: 100,
        iouThreshold: 0.5,
        note: 'face-api keeps score > minConfidence (strict), greedy NMS suppressing IoU > 0.5',
      },
      detectionsPipeline:
        'face-api locateFaces: forwardInput, its own nonMaxSuppression, boxes clipped to [0,1]. box = relativeBox as (ymin, xmin, ymax, xmax) normalized to the 512x512 input (= the square canvas the image was padded to at bottom/right); pixels = box on the source image, clipped; faceApiBox512 = FaceDetection.box on the 512 input.',
      crossCheck: {
        maxScoreDiffVsSigmoidOfLogitColumn1: maxScoreDiff,
        maxBoxDiffVsDecodeOfEncodingsWithExtraDim: maxBoxDiff,
      },
      labels: ['background', 'face', 'unused'],
      detections,
    };
    const f32 = (shape, description, data) => ({
      shape,
      dtype: 'float32',
      description,
      bytes: Float32Array.from(data),
    });
    written.push(
      writeGolden('face-ssd-mobilenetv1', img.stem, doc, {
        box_encodings: f32(
          [1, 5118, 4],
          'raw box encodings (ty, tx, th, tw): output of the Concat of the six BoxEncodingPredictor convs ([1,5118,1,4] in face-api, stored squeezed), captured from the CPU Concat kernel',
          encodings.data,
        ),
        class_logits: f32(
          [1, 5118, 3],
          'raw class logits (column 0 background, column 1 face, column 2 unused): output of the Concat of the six ClassPredictor convs',
          logits.data,
        ),
        boxes: f32(
          [5118, 4],
          'forwardInput() boxes[0]: decoded (ymin, xmin, ymax, xmax) normalized to the 512 input, before NMS and before clipping',
          boxes,
        ),
        scores: f32([5118], 'forwardInput() scores[0]: sigmoid(logit column 1), before NMS', scores),
      }),
    );
  }
  return written;
}

// --------------------------------------------------------------------------------------------- main
const t0 = performance.now();
const { inputs, faceapiPath } = await bundles();
const tfliteImages = [...datasetImages, darknetImage];
const written = [];
const tfliteModels = [];
if (only.includes('oid')) tfliteModels.push(oidModel());
if (only.includes('coco')) tfliteModels.push(cocoModel(inputs));
if (only.includes('blazeface')) tfliteModels.push(...blazefaceModels());
if (tfliteModels.length) written.push(...(await runTflite(tfliteModels, tfliteImages, inputs)));
if (only.includes('face')) written.push(...(await runFace(inputs, faceapiPath, faceImages)));
const total = written.reduce((s, w) => s + w.bytes, 0);
log(
  `wrote ${written.length} goldens (${(total / 1024).toFixed(0)} KiB of .bin.gz) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
process.exit(0);
