/**
 * Many calls in flight: 64 detect() promises on 64 different photos (the shared COCO and VOC sets,
 * read in place) each get exactly the result of running that photo alone; detect and detectBatch
 * mixed in flight; per-call options that do not leak into the calls around them; and two detectors
 * (Open Images and BlazeFace) sharing one GPU device, interleaved, each as if alone.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  createGpuContext,
  load,
  type Detection,
  type DetectOptions,
  type GpuContext,
  type ObjectDetector,
  type RgbaImage,
} from '../src/index.ts';
import { readImageFile } from '../src/image/decode.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { ROOT } from './support/model_sources.ts';

const DATASETS = sharedPath(ROOT, 'datasets');
const SOURCES = [join(DATASETS, 'coco128-val/images'), join(DATASETS, 'voc2012-100/JPEGImages')];
/** A low threshold gives most photos some detections, so a result handed to the wrong call shows. */
const LOW: DetectOptions = { scoreThreshold: 0.2 };

let oid: ObjectDetector;
let photos: { file: string; image: RgbaImage }[];
/** Each photo run alone, one call at a time. */
let alone: Detection[][];

before(async () => {
  const files = SOURCES.flatMap((dir) =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.jpg'))
      .sort()
      .slice(0, 32)
      .map((f) => join(dir, f)),
  );
  photos = await Promise.all(files.map(async (file) => ({ file, image: await readImageFile(file) })));
  oid = await load('oid-v4', LOW);
  alone = [];
  for (const p of photos) alone.push(await oid.detect(p.image));
});
after(() => oid?.dispose());

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

test("64 detect() calls in flight on different photos each resolve to that photo's own result", async () => {
  assert.equal(photos.length, 64);
  const distinct = new Set(alone.map((r) => JSON.stringify(r))).size;
  assert.ok(distinct >= 48, `only ${distinct} distinct results among 64 photos: a swapped result could go unnoticed`);
  const inFlight = await Promise.all(photos.map((p) => oid.detect(p.image)));
  inFlight.forEach((r, i) => assert.ok(same(r, alone[i]), `${photos[i]!.file}: result differs from running it alone`));
});

test('detect and detectBatch mixed in flight, with a failing call among them', async () => {
  const pick = [3, 17, 29, 40, 41, 42, 43, 60];
  const calls: Promise<Detection[][]>[] = [
    oid.detect(photos[pick[0]!]!.file).then((r) => [r]),
    oid.detectBatch(pick.slice(3, 7).map((i) => photos[i]!.image)),
    oid.detect(new Uint8Array([0xff, 0xd8, 0xff, 0])).then((r) => [r]),
    oid.detect(photos[pick[1]!]!.image).then((r) => [r]),
    oid.detectBatch([photos[pick[2]!]!.file, photos[pick[7]!]!.image]),
  ];
  const settled = await Promise.allSettled(calls);
  assert.equal(settled[2]!.status, 'rejected', 'the undecodable input fails alone');
  const got = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []));
  const want = [pick[0], pick[3], pick[4], pick[5], pick[6], pick[1], pick[2], pick[7]].map((i) => alone[i!]!);
  // One result per photo, each with detections of its own, so a missing, empty or swapped result cannot pass.
  assert.equal(got.length, want.length, `${got.length} results for ${want.length} photos`);
  want.forEach((w, k) => assert.ok(w.length > 0, `photo ${k} has no detections alone: the check would be vacuous`));
  got.forEach((r, k) => assert.ok(same(r, want[k]), `result ${k} differs from its photo run alone`));
});

test('per-call options in flight apply to their own call only', async () => {
  const photo = photos[alone.reduce((best, r, i) => (r.length > alone[best]!.length ? i : best), 0)]!.image;
  const variants: DetectOptions[] = [
    {},
    { scoreThreshold: 0.6 },
    { maxDetections: 1 },
    { scoreThreshold: 0.05, perClassNms: true },
    { classes: ['Person'] },
    {},
  ];
  const sequential: Detection[][] = [];
  for (const o of variants) sequential.push(await oid.detect(photo, o));
  assert.ok(new Set(sequential.map((r) => JSON.stringify(r))).size >= 4, 'the options change the result');
  const inFlight = await Promise.all(variants.map((o) => oid.detect(photo, o)));
  inFlight.forEach((r, i) =>
    assert.ok(
      same(r, sequential[i]),
      `options ${JSON.stringify(variants[i])}: result differs from the same call run alone`,
    ),
  );
  // The load-time default is back for a call without options.
  assert.ok(same(inFlight[5], sequential[0]));
});

test(
  'two detectors sharing one GPU device, interleaved, each give what they give alone',
  { timeout: 300_000 },
  async () => {
    const context: GpuContext = await createGpuContext();
    // BlazeFace is the second model: a graph of another converter with pipelines of its own, and at 128x128 a
    // sixteenth of the pixels of the 512x512 face model, the slowest model on a software GPU.
    const [a, b] = await Promise.all([load('oid-v4', { ...LOW, context }), load('blazeface', { context })]);
    try {
      assert.equal(a.context, b.context);
      // The astronaut's face (BlazeFace's short range), run alone, then interleaved.
      const faces = [await readImageFile(join(ROOT, 'samples/astronaut.jpg'))];
      const oidPhotos = [0, 1, 2, 3].map((i) => photos[i]!.image);
      const faceAlone: Detection[][] = [];
      for (const f of faces) faceAlone.push(await b.detect(f));
      assert.ok(faceAlone[0]!.length > 0, 'the face is found, so that a swapped or empty result shows');
      const [oidMixed, faceMixed] = await Promise.all([
        Promise.all(oidPhotos.map((p) => a.detect(p))),
        Promise.all(faces.map((f) => b.detect(f))),
      ]);
      oidMixed.forEach((r, i) =>
        assert.ok(same(r, alone[i]), `oid-v4 on photo ${i} differs when the face detector shares its device`),
      );
      faceMixed.forEach((r, i) =>
        assert.ok(same(r, faceAlone[i]), `face on photo ${i} differs when interleaved with oid-v4`),
      );
      // Disposing one leaves the shared device to the other.
      a.dispose();
      assert.ok(same(await b.detect(faces[0]!), faceAlone[0]));
    } finally {
      a.dispose();
      b.dispose();
      context.destroy();
    }
  },
);
