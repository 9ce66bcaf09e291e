/** The Node library API end to end: every input kind, options, batching, errors, dispose. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import {
  DisposedError,
  ImageDecodeError,
  InvalidInputError,
  InvalidOptionError,
  load,
  type Detection,
  type ObjectDetector,
  type LoadStage,
} from '../src/index.ts';
import { loadGolden } from './support/goldens.ts';
import { writePng } from './support/png_writer.ts';

let det: ObjectDetector;
before(async () => {
  det = await load('oid-v4');
});
after(() => det?.dispose());

const DOG = 'samples/dog.jpg';
const golden = loadGolden('oid-ssd-mobilenetv2', 'darknet__dog');

/** The reference's detections, in source pixels. */
function assertDogResult(found: Detection[], what: string) {
  assert.deepEqual(
    found.map((d) => d.label),
    golden.detections.map((d) => d.label),
    `${what}: labels`,
  );
  found.forEach((d, i) => {
    const r = golden.detections[i]!;
    assert.ok(Math.abs(d.score - r.score) < 2e-3, `${what}: ${d.label} score ${d.score} vs ${r.score}`);
    for (const k of ['x', 'y', 'width', 'height'] as const)
      assert.ok(Math.abs(d.box[k] - r.pixels[k]) < 1.5, `${what}: ${d.label} box.${k} ${d.box[k]} vs ${r.pixels[k]}`);
    assert.equal(d.classId, r.classIndex);
  });
  for (let i = 1; i < found.length; i++) assert.ok(found[i - 1]!.score >= found[i]!.score, 'sorted by score');
}

test('detect(file path) finds the reference detections, boxes in source pixels', async () => {
  assertDogResult(await det.detect(DOG), 'path');
});

test('detect(Buffer) with JPEG and with PNG bytes', async () => {
  const bytes = readFileSync(DOG);
  assertDogResult(await det.detect(bytes), 'jpeg buffer');
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
  const png = new PNG({ width: img.width, height: img.height });
  png.data = Buffer.from(img.data);
  assertDogResult(await det.detect(PNG.sync.write(png)), 'png buffer');
  assertDogResult(await det.detect(new Uint8Array(bytes).buffer), 'ArrayBuffer');
});

test('detect({data, width, height}) raw RGBA, and 16-bit and grey PNGs decode to the same frame', async () => {
  const img = jpeg.decode(readFileSync(DOG), { useTArray: true, formatAsRGBA: true });
  assertDogResult(await det.detect({ data: img.data, width: img.width, height: img.height }), 'raw rgba');
  const png16 = new PNG({ width: img.width, height: img.height, bitDepth: 16, colorType: 6, inputHasAlpha: true });
  // pngjs takes 16-bit samples as native-endian uint16 values.
  png16.data = Buffer.from(Uint16Array.from(img.data, (v) => v * 257).buffer);
  assertDogResult(
    await det.detect(PNG.sync.write(png16, { bitDepth: 16, colorType: 6, inputHasAlpha: true })),
    '16-bit png',
  );
  // A grey (colour type 0) PNG of the dog, written by our own writer: it must decode to the very frame its grey
  // values give as raw RGBA (g, g, g, 255), so both calls return the same detections, and there are some.
  const greyValues = Array.from({ length: img.width * img.height }, (_, i) =>
    Math.round((img.data[4 * i]! + img.data[4 * i + 1]! + img.data[4 * i + 2]!) / 3),
  );
  const greyPng = writePng({ width: img.width, height: img.height, depth: 8, colorType: 0, samples: greyValues });
  const greyRgba = new Uint8Array(greyValues.flatMap((g) => [g, g, g, 255]));
  const fromPng = await det.detect(greyPng);
  assert.ok(fromPng.length > 0, 'the grey dog photo has detections');
  assert.deepEqual(fromPng, await det.detect({ data: greyRgba, width: img.width, height: img.height }));
});

test('detectBatch returns each image its own result, in order', async () => {
  const blank = { data: new Uint8Array(320 * 240 * 4).fill(90), width: 320, height: 240 };
  const [a, b, c] = await det.detectBatch([DOG, blank, DOG]);
  assertDogResult(a!, 'batch[0]');
  assert.deepEqual(b, []);
  assertDogResult(c!, 'batch[2]');
});

test('options: score threshold, class allow-list by name or id, maxDetections, per-class NMS', async () => {
  assert.deepEqual(
    (await det.detect(DOG, { scoreThreshold: 0.69 })).map((d) => d.label),
    ['Dog'],
  );
  assert.deepEqual(
    (await det.detect(DOG, { classes: ['car', 'Dog'] })).map((d) => d.label),
    ['Dog', 'Car'],
  );
  const carId = det.labels.indexOf('Car');
  assert.deepEqual(
    (await det.detect(DOG, { classes: [carId] })).map((d) => d.label),
    ['Car'],
  );
  assert.equal((await det.detect(DOG, { maxDetections: 2 })).length, 2);
  const low = await det.detect(DOG, { scoreThreshold: 0.05, perClassNms: true, iouThreshold: 0.45 });
  assert.ok(low.length > 3, 'a low threshold finds more');
  assert.ok(low.every((d) => d.score >= 0.05));
  // The defaults come back when the options are dropped.
  assertDogResult(await det.detect(DOG), 'defaults after options');
});

test('bad options are rejected with a typed error naming the option', async () => {
  await assert.rejects(
    det.detect(DOG, { scoreThreshold: Number.NaN }),
    (e: unknown) => e instanceof InvalidOptionError && /scoreThreshold/.test((e as Error).message),
  );
  await assert.rejects(det.detect(DOG, { iouThreshold: -0.1 }), InvalidOptionError);
  await assert.rejects(det.detect(DOG, { maxDetections: 0 }), InvalidOptionError);
  await assert.rejects(
    det.detect(DOG, { classes: ['unicorn'] }),
    (e: unknown) =>
      e instanceof InvalidOptionError && /unicorn/.test((e as Error).message) && /Bicycle/.test((e as Error).message),
  );
  await assert.rejects(det.detect(DOG, { classes: [999] }), InvalidOptionError);
});

test('bad inputs are rejected with typed errors and the detector keeps working', async () => {
  await assert.rejects(det.detect(new Uint8Array([1, 2, 3, 4])), ImageDecodeError);
  await assert.rejects(det.detect(readFileSync(DOG).subarray(0, 5000)), ImageDecodeError);
  await assert.rejects(det.detect({ data: new Uint8Array(10), width: 4, height: 4 }), InvalidInputError);
  await assert.rejects(det.detect(42 as unknown as string), InvalidInputError);
  assertDogResult(await det.detect(DOG), 'after errors');
});

test('reports adapter, timings and GPU memory', async () => {
  assert.ok(det.adapter.description.length > 0);
  assert.ok(det.info.compileMs > 0 && det.info.loadMs >= 0);
  assert.ok((det.firstRunMs ?? 0) > 0);
  const mem = await det.memory();
  assert.ok(mem.weightBytes > 19e6 && mem.weightBytes < 21e6, `weights ${mem.weightBytes}`);
  assert.ok(mem.activationBytes > 1e6);
  const t = det.lastTimes!;
  assert.ok(t.total >= t.submitToResult && t.upload >= 0);
});

test('plans compile at load for batchSizes and in warmup(), not in the detect() that uses them', async () => {
  await assert.rejects(
    load('oid-v4', { batchSizes: [0] }),
    (e: unknown) => e instanceof InvalidOptionError && /batchSizes/.test(e.message),
  );
  const d2 = await load('oid-v4', { context: det.context, batchSizes: [2] });
  try {
    const one = (await d2.stats(1)).activationBytes;
    const loaded = (await d2.memory()).activationBytes;
    assert.equal(loaded, one + (await d2.stats(2)).activationBytes, 'batch 2 was compiled at load');
    await d2.warmup([3]);
    const warmed = (await d2.memory()).activationBytes;
    assert.ok(warmed > loaded, `warmup([3]) compiled a plan: ${warmed} > ${loaded}`);
    const three = await d2.detectBatch([DOG, DOG, DOG]);
    assert.equal((await d2.memory()).activationBytes, warmed, 'detectBatch of 3 compiled nothing new');
    three.forEach((found, i) => assertDogResult(found, `batch of 3, image ${i}`));
  } finally {
    d2.dispose();
  }
});

test('load() reports its stages in order; after dispose() a call rejects with DisposedError', async () => {
  const stages: LoadStage[] = [];
  const d2 = await load('oid-v4', { onLoadStage: (s) => stages.push(s) });
  assert.deepEqual(stages, ['model', 'device', 'upload', 'compile']);
  d2.dispose();
  await assert.rejects(d2.detect(DOG), DisposedError);
});
