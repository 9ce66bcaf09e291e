/**
 * BlazeFace by name and by path: `load('blazeface')` / `load('blazeface-full')` on a golden image give TFLite +
 * MediaPipe's faces and keypoints in source pixels; the CLI writes keypoints to its JSON and draws them; the
 * .tflite alone with docs/ssd_options.md's JSON beside it (or as the ssdOptions load option) detects what
 * `blazeface` detects; bad options are typed errors naming the field.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { PNG } from 'pngjs';
import { BLAZEFACE_SHORT_RANGE } from '../src/convert/mediapipe_presets.ts';
import { classColor } from '../src/image/draw.ts';
import { load, ModelFormatError, SsdOptionsError, type Detection, type ObjectDetector } from '../src/index.ts';
import { loadGolden, repoRoot, type GoldenModel } from './support/goldens.ts';

const root = repoRoot();
const work = mkdtempSync(join(tmpdir(), 'mobilessd-blazeface-'));
const SHORT_RANGE = join(root, 'node_modules/@mediapipe/face_detection/face_detection_short_range.tflite');
const IMAGE = 'node_modules/@vladmandic/face-api/demo/sample1.jpg';
const KEYPOINTS = ['right_eye', 'left_eye', 'nose_tip', 'mouth_center', 'right_ear_tragion', 'left_ear_tragion'];

let blazeface: ObjectDetector;
before(async () => {
  blazeface = await load('blazeface');
});
after(() => {
  blazeface?.dispose();
  rmSync(work, { recursive: true, force: true });
});

/** The JSON example of docs/ssd_options.md (the block after "## Example"). */
function documentedOptions(): unknown {
  const doc = readFileSync(join(root, 'docs/ssd_options.md'), 'utf8');
  const block = /## Example[\s\S]*?```json\n([\s\S]*?)```/.exec(doc);
  assert.ok(block, 'docs/ssd_options.md has a JSON example');
  return JSON.parse(block[1]!) as unknown;
}

/**
 * Faces against a golden, in source pixels: our GPU preprocessing samples in float32 where the golden's input
 * was built in float64, which moves raw regressions by ~1e-3 of a pixel of the 128 input; 1.5 source pixels and
 * 2e-3 of score leave room for that and no more.
 */
function assertGoldenFaces(found: Detection[], model: GoldenModel, stem: string): void {
  const g = loadGolden(model, stem);
  assert.equal(found.length, g.detections.length, found.map((d) => d.score.toFixed(3)).join(' '));
  g.detections.forEach((r, i) => {
    const d = found[i]!;
    assert.equal(d.label, 'face');
    assert.ok(Math.abs(d.score - r.score) < 2e-3, `face ${i}: score ${d.score} vs ${r.score}`);
    for (const k of ['x', 'y', 'width', 'height'] as const)
      assert.ok(Math.abs(d.box[k] - r.pixels[k]) < 1.5, `face ${i}: box.${k} ${d.box[k]} vs ${r.pixels[k]}`);
    assert.deepEqual(
      d.keypoints?.map((k) => k.name),
      KEYPOINTS,
    );
    r.keypoints!.forEach((p, k) => {
      const q = d.keypoints![k]!;
      assert.ok(
        Math.abs(q.x - p.px) < 1.5 && Math.abs(q.y - p.py) < 1.5,
        `face ${i} ${p.name}: ${q.x},${q.y} vs ${p.px},${p.py}`,
      );
    });
  });
}

test("load('blazeface') finds the golden's faces with their six named keypoints in source pixels", async () => {
  const found = await blazeface.detect(join(root, IMAGE));
  assertGoldenFaces(found, 'blazeface-short-range', 'face-api-demo__sample1');
  assert.deepEqual(blazeface.info.keypoints, KEYPOINTS);
  assert.equal(blazeface.info.defaults.nms, 'weighted');
  assert.deepEqual(blazeface.info.input, { width: 128, height: 128, resize: 'letterbox' });
  // The right eye is on the image's left: MediaPipe names keypoints from the person's side.
  for (const d of found) assert.ok(d.keypoints![0]!.x < d.keypoints![1]!.x);
});

test("load('blazeface-full') finds the full-range golden's faces", async () => {
  const full = await load('blazeface-full');
  try {
    assertGoldenFaces(await full.detect(join(root, IMAGE)), 'blazeface-full-range', 'face-api-demo__sample1');
    assert.equal(full.info.input.width, 192);
    assert.equal(full.info.defaults.scoreThreshold, 0.6);
  } finally {
    full.dispose();
  }
});

test('blazeface runs at its own size only: inputSize is refused with a reason', async () => {
  await assert.rejects(load('blazeface', { inputSize: 256 }), /inputSize[\s\S]*MediaPipe's options for that size/);
});

test("per call, nms: 'greedy' reports the best box of each cluster as it is, 'weighted' their mean, same scores", async () => {
  const weighted = await blazeface.detect(join(root, IMAGE));
  const greedy = await blazeface.detect(join(root, IMAGE), { nms: 'greedy' });
  assert.deepEqual(
    greedy.map((d) => d.score),
    weighted.map((d) => d.score),
  );
  const moved = weighted.map((d, i) => Math.abs(d.box.x - greedy[i]!.box.x) + Math.abs(d.box.y - greedy[i]!.box.y));
  assert.ok(Math.max(...moved) > 0.5, `weighting moved no box by half a pixel: ${moved.join(', ')}`);
  await assert.rejects(blazeface.detect(join(root, IMAGE), { nms: 'average' as 'greedy' }), /nms/);
});

test('the CLI writes keypoints to its JSON and draws them on the PNG', () => {
  const json = join(work, 'faces.json');
  const png = join(work, 'faces.png');
  const cliJs = join(root, '.build/test/support/cli_main.js');
  const r = spawnSync(
    process.execPath,
    [cliJs, 'detect', 'samples/astronaut.jpg', '--model', 'blazeface', '--json', json, '--out', png],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(readFileSync(json, 'utf8')) as { images: { detections: Detection[] }[] };
  const [face] = out.images[0]!.detections;
  assert.ok(face && face.label === 'face' && face.score > 0.9, JSON.stringify(out.images[0]));
  assert.deepEqual(
    face.keypoints!.map((k) => k.name),
    KEYPOINTS,
  );
  const img = PNG.sync.read(readFileSync(png));
  const color = classColor(face.classId);
  for (const k of face.keypoints!) {
    // Eyes, nose and mouth lie inside the box; the ear tragions on its sides.
    if (!k.name.endsWith('tragion'))
      assert.ok(k.x > face.box.x && k.x < face.box.x + face.box.width, `${k.name} x inside the face`);
    const at = (Math.round(k.y) * img.width + Math.round(k.x)) * 4;
    assert.deepEqual([...img.data.subarray(at, at + 3)], [...color], `${k.name}: a dot in the class colour`);
  }
});

test('the .tflite alone with the documented sidecar, or with ssdOptions, detects what blazeface detects', async () => {
  const dir = join(work, 'sidecar');
  const file = join(dir, 'face_detection_short_range.tflite');
  rmSync(dir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', dir]);
  copyFileSync(SHORT_RANGE, file);
  const options = documentedOptions();
  assert.deepEqual(options, JSON.parse(JSON.stringify(BLAZEFACE_SHORT_RANGE)), 'the documented JSON is the preset');
  // Without options, a raw SSD with BlazeFace's anchors cannot be described: a typed error.
  await assert.rejects(load(file), ModelFormatError);
  writeFileSync(join(dir, 'face_detection_short_range.ssd.json'), JSON.stringify(options, null, 2));
  const image = join(root, IMAGE);
  const expected = await blazeface.detect(image);
  for (const how of ['sidecar', 'ssdOptions'] as const) {
    const d: ObjectDetector = how === 'sidecar' ? await load(file) : await load(SHORT_RANGE, { ssdOptions: options });
    try {
      assert.deepEqual(await d.detect(image), expected, how);
      assert.deepEqual(d.info.keypoints, KEYPOINTS);
    } finally {
      d.dispose();
    }
  }
});

test('bad MediaPipe options are SsdOptionsError naming the file and the field', async () => {
  const dir = join(work, 'bad');
  spawnSync('mkdir', ['-p', dir]);
  const file = join(dir, 'model.tflite');
  copyFileSync(SHORT_RANGE, file);
  const good = documentedOptions() as Record<string, Record<string, unknown>>;
  const edit = (section: string, patch: Record<string, unknown>) => ({
    ...good,
    [section]: { ...good[section], ...patch },
  });
  const cases: [string, unknown, RegExp][] = [
    ['not JSON', '{ "ImageToTensorCalculator": ', /is not valid JSON/],
    [
      'a misspelt field',
      edit('SsdAnchorsCalculator', { num_layer: 4 }),
      /SsdAnchorsCalculator\.num_layer is not an option/,
    ],
    [
      'a missing section',
      { ...good, NonMaxSuppressionCalculator: undefined },
      /NonMaxSuppressionCalculator is missing/,
    ],
    ['the wrong box count', edit('TensorsToDetectionsCalculator', { num_boxes: 900 }), /\[1, 900, 16\]/],
    [
      'anchors that do not add up',
      edit('SsdAnchorsCalculator', { strides: [8, 16, 16, 32] }),
      /SsdAnchorsCalculator makes 800 anchors, TensorsToDetectionsCalculator num_boxes is 896/,
    ],
    ['a replicated border', edit('ImageToTensorCalculator', { border_mode: 'BORDER_REPLICATE' }), /BORDER_ZERO/],
    ['another input size', edit('ImageToTensorCalculator', { output_tensor_width: 192 }), /the model takes 128x128/],
    ['an unknown NMS', edit('NonMaxSuppressionCalculator', { algorithm: 'SOFT' }), /DEFAULT or WEIGHTED/],
    ['scores without sigmoid', edit('TensorsToDetectionsCalculator', { sigmoid_score: false }), /sigmoid_score/],
  ];
  for (const [what, json, message] of cases) {
    writeFileSync(join(dir, 'model.ssd.json'), typeof json === 'string' ? json : JSON.stringify(json));
    const e = await load(file).then(
      (d) => (d.dispose(), undefined),
      (err: unknown) => err,
    );
    assert.ok(e instanceof SsdOptionsError, `${what}: ${String(e)}`);
    assert.equal(e.code, 'SSD_OPTIONS');
    assert.match(e.message, /model\.ssd\.json/, what);
    assert.match(e.message, message, what);
  }
  await assert.rejects(load('blazeface', { ssdOptions: good }), SsdOptionsError);
});
