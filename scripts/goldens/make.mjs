#!/usr/bin/env node
// Regenerates the reference outputs ("goldens") in test/fixtures/goldens/ from the models' own runtimes:
//   - TensorFlow Lite (WASM, @tensorflow/tfjs-tflite) in headless Chromium for the Open Images SSD-MobileNetV2
//     (@mediapipe/objectron) and the COCO SSD-MobileNetV1 uint8 model (../shared/models),
//   - face-api (@vladmandic/face-api) on @tensorflow/tfjs-core + tfjs-backend-cpu in Node for its SSD-MobileNetV1.
// Input tensors are built with our CPU preprocessing (src/kernels/preprocess_ref.ts) through
// scripts/goldens/inputs.ts, which the tests use too. See test/fixtures/goldens/README.md.
//
// Usage: node scripts/goldens/make.mjs [--only oid,coco,face]
//   --only          regenerate some models only
import * as esbuild from 'esbuild';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { parseTflite, withSubgraphOutputs } from './tflite_flatbuffer.mjs';
import { decodeBox, mediapipeDetections, mediapipeSsdAnchors } from './postprocess.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const here = join(root, 'scripts/goldens');
const outRoot = join(root, 'test/fixtures/goldens');
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
const only = onlyArg ? onlyArg.split(',') : ['oid', 'coco', 'face'];

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

// --------------------------------------------------------------------------------------------- main
const t0 = performance.now();
const { inputs, faceapiPath } = await bundles();
const tfliteImages = [...datasetImages, darknetImage];
const written = [];
const tfliteModels = [];
if (only.includes('oid')) tfliteModels.push(oidModel());
if (only.includes('coco')) tfliteModels.push(cocoModel());
if (tfliteModels.length) written.push(...(await runTflite(tfliteModels, tfliteImages, inputs)));
if (only.includes('face')) written.push(...(await runFace(inputs, faceapiPath, faceImages)));
const total = written.reduce((s, w) => s + w.bytes, 0);
log(
  `wrote ${written.length} goldens (${(total / 1024).toFixed(0)} KiB of .bin.gz) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
);
process.exit(0);
