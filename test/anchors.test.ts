import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseTflite, tensorData } from '../src/convert/tflite.ts';
import { cornersToCenters, gridAnchors, MEDIAPIPE_SSD_300, ssdPaperAnchors } from '../src/ssd/anchors.ts';
import { cocoBytes } from './support/model_sources.ts';

const row = (a: Float32Array, i: number) => Array.from(a.subarray(4 * i, 4 * i + 4), (v) => +v.toFixed(7));

test('MediaPipe SSD anchors: 1917 boxes, layer sizes 1083/600/150/54/24/6, first rows as documented', () => {
  const a = gridAnchors(MEDIAPIPE_SSD_300);
  assert.equal(a.length, 1917 * 4);
  assert.deepEqual(row(a, 0), [0.0263158, 0.0263158, 0.1, 0.1]);
  assert.deepEqual(row(a, 1), [0.0263158, 0.0263158, 0.1414214, 0.2828427]);
  assert.deepEqual(row(a, 2), [0.0263158, 0.0263158, 0.2828427, 0.1414214]);
  assert.deepEqual(row(a, 3), [0.0263158, 0.0789474, 0.1, 0.1]);
  // Layer 1 starts after 19*19*3 boxes: scale 0.35, ratios 1, 2, 0.5, 3, 0.3333, then sqrt(0.35 * 0.5).
  assert.deepEqual(row(a, 1083), [0.05, 0.05, 0.35, 0.35]);
  assert.deepEqual(row(a, 1083 + 5), [
    0.05,
    0.05,
    +Math.fround(Math.sqrt(0.35 * 0.5)).toFixed(7),
    +Math.fround(Math.sqrt(0.35 * 0.5)).toFixed(7),
  ]);
  // The last layer's interpolated box uses scale 1.0 as the next scale.
  const s = +Math.fround(Math.sqrt(0.95)).toFixed(7);
  assert.deepEqual(row(a, 1916), [0.5, 0.5, s, s]);
  const starts = [0, 1083, 1683, 1833, 1887, 1911];
  const sides = [19, 10, 5, 3, 2, 1];
  starts.forEach((st, l) =>
    assert.equal(row(a, st)[0], +Math.fround(0.5 / sides[l]!).toFixed(7), `layer ${l} starts at ${st}`),
  );
});

test("the generated table equals the COCO model's embedded uint8 anchors within half a quantization step", () => {
  const m = parseTflite(cocoBytes(), 'coco');
  const t = m.tensors.find((x) => x.name === 'anchors')!;
  const q = tensorData(m, t)!;
  const {
    scale: [step],
    zeroPoint: [zp],
  } = t.quantization!;
  const a = gridAnchors(MEDIAPIPE_SSD_300);
  assert.equal(q.length, a.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((q[i]! - zp!) * step! - a[i]!));
  assert.ok(worst <= step! / 2 + 1e-6, `worst difference ${worst}, step ${step}`);
});

test('equal strides share one grid (MediaPipe BlazeFace options give 896 boxes)', () => {
  const a = gridAnchors({
    ...MEDIAPIPE_SSD_300,
    numLayers: 4,
    minScale: 0.1484375,
    maxScale: 0.75,
    inputHeight: 128,
    inputWidth: 128,
    strides: [8, 16, 16, 16],
    aspectRatios: [1.0],
    reduceBoxesInLowestLayer: false,
  });
  assert.equal(a.length / 4, 16 * 16 * 2 + 8 * 8 * 6);
  assert.throws(() => gridAnchors({ ...MEDIAPIPE_SSD_300, numLayers: 5 }), RangeError);
});

test("SSD paper anchors: SSD300 layout gives 8732 boxes with the paper's scales", () => {
  const four = [1, 2, 1 / 2];
  const six = [1, 2, 3, 1 / 2, 1 / 3];
  const a = ssdPaperAnchors({
    featureMapSizes: [38, 19, 10, 5, 3, 1],
    aspectRatios: [four, six, six, six, four, four],
  });
  assert.equal(a.length / 4, 8732);
  const r = (v: number) => +Math.fround(v).toFixed(7);
  assert.deepEqual(row(a, 0), [r(0.5 / 38), r(0.5 / 38), 0.2, 0.2]);
  assert.deepEqual(row(a, 1), [r(0.5 / 38), r(0.5 / 38), r(0.2 / Math.SQRT2), r(0.2 * Math.SQRT2)]);
  assert.deepEqual(row(a, 3), [r(0.5 / 38), r(0.5 / 38), r(Math.sqrt(0.2 * 0.34)), r(Math.sqrt(0.2 * 0.34))]);
  // The last layer (s = 0.9) extends the linear rule one step for its extra box: sqrt(0.9 * 1.04).
  assert.deepEqual(row(a, 8731), [0.5, 0.5, r(Math.sqrt(0.9 * 1.04)), r(Math.sqrt(0.9 * 1.04))]);
});

test('corner boxes convert to centre form', () => {
  assert.deepEqual(Array.from(cornersToCenters([0.1, 0.2, 0.5, 0.4])), [0.3, 0.3, 0.4, 0.2].map(Math.fround));
});
