/** Training data: crops, flips and colour distortion keep images and boxes consistent; the cache's half floats. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PreprocessSpec } from '../src/core/model_spec.ts';
import { preprocessRef } from '../src/kernels/preprocess_ref.ts';
import {
  augment,
  cropTruth,
  distortColors,
  flipHorizontal,
  NO_AUGMENTATION,
  resizeCrop,
  sampleCrop,
  SSD_AUGMENTATION,
} from '../src/train/data.ts';
import { decodeHalfInto, encodeHalf, toHalf } from '../src/train/half.ts';
import { Rng } from '../src/train/rng.ts';
import { assertClose, randomFloats } from './support/gpu.ts';

const W = 64,
  H = 48;
const image = { data: Uint8Array.from(randomFloats(W * H * 4, 1, 0, 256), (v) => Math.floor(v)), width: W, height: H };
// Boxes (ymin, xmin, ymax, xmax): one in the top-left quarter, one across the centre, one small at the right edge.
const truth = {
  boxes: new Float32Array([0.1, 0.1, 0.4, 0.3, 0.3, 0.4, 0.7, 0.6, 0.5, 0.9, 0.6, 1.0]),
  classes: new Int32Array([1, 2, 3]),
};
const spec: PreprocessSpec = {
  width: 30,
  height: 20,
  resize: 'stretch',
  halfPixelCenters: true,
  mean: 127.5,
  std: 127.5,
};

test('without augmentation the input is exactly the inference preprocessing', () => {
  const { input, truth: t } = augment({ image, truth }, spec, new Rng(1), NO_AUGMENTATION);
  assertClose(input, preprocessRef(spec, image), 1e-6, 1e-6, 'input');
  assert.deepEqual(Array.from(t.classes), [1, 2, 3]);
  assertClose(t.boxes, truth.boxes, 0, 0, 'boxes');
});

test('a crop keeps the boxes whose centres it contains, clipped and renormalized', () => {
  // Pixels x 16..48, y 12..36 of the 64x48 image: the centre box (centre 32, 24) stays, the others go.
  const t = cropTruth(truth, { x: 16, y: 12, width: 32, height: 24 }, W, H);
  assert.deepEqual(Array.from(t.classes), [2]);
  // Box 2 is x 25.6..38.4, y 14.4..33.6 in pixels.
  assertClose(t.boxes, [(14.4 - 12) / 24, (25.6 - 16) / 32, (33.6 - 12) / 24, (38.4 - 16) / 32], 1e-6, 1e-6, 'box');
  const clipped = cropTruth(truth, { x: 0, y: 0, width: 24, height: 30 }, W, H);
  assert.deepEqual(Array.from(clipped.classes), [1]);
  // Box 1 (x 6.4..19.2, y 4.8..19.2) fits inside: only renormalized.
  assertClose(clipped.boxes, [4.8 / 30, 6.4 / 24, 19.2 / 30, 19.2 / 24], 1e-6, 1e-6, 'box');
});

test('resized crops sample the cropped pixels', () => {
  const r = { x: 10, y: 5, width: 20, height: 10 };
  const out = resizeCrop(image, r, 20, 10, true);
  // Same size: every output pixel is a source pixel.
  for (const [x, y] of [
    [0, 0],
    [19, 9],
    [7, 3],
  ] as const) {
    for (let c = 0; c < 3; c++) assert.equal(out[(y * 20 + x) * 3 + c], image.data[((r.y + y) * W + r.x + x) * 4 + c]);
  }
});

test('SSD crops: side at least 0.3, aspect 0.5..2, inside the image, at least one box kept', () => {
  const rng = new Rng(3);
  let cropped = 0;
  for (let i = 0; i < 300; i++) {
    const r = sampleCrop(rng, truth, W, H, 0.3);
    assert.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= W && r.y + r.height <= H, JSON.stringify(r));
    if (r.width === W && r.height === H) continue;
    cropped++;
    assert.ok(r.width >= Math.floor(0.3 * W) && r.height >= Math.floor(0.3 * H));
    assert.ok(r.height / r.width >= 0.5 && r.height / r.width <= 2);
    assert.ok(cropTruth(truth, r, W, H).classes.length >= 1);
  }
  assert.ok(cropped > 150, `${cropped} of 300 samples cropped`);
});

test('a horizontal flip mirrors pixels and boxes', () => {
  const rgb = resizeCrop(image, { x: 0, y: 0, width: W, height: H }, W, H, true);
  const before = Float32Array.from(rgb);
  const t = flipHorizontal(rgb, W, H, truth);
  assert.equal(rgb[(5 * W + 0) * 3 + 1], before[(5 * W + W - 1) * 3 + 1]);
  assertClose(t.boxes.subarray(0, 4), [0.1, 0.7, 0.4, 0.9], 1e-6, 1e-6, 'flipped box');
  assertClose(t.boxes.subarray(8, 12), [0.5, 0, 0.6, 0.1], 1e-6, 1e-6, 'flipped edge box');
});

test('colour distortion stays in 0..255 and changes the image', () => {
  const rgb = Float32Array.from(randomFloats(300, 4, 0, 255));
  let changed = 0;
  for (let seed = 0; seed < 20; seed++) {
    const x = Float32Array.from(rgb);
    distortColors(x, new Rng(seed));
    assert.ok(x.every((v) => v >= 0 && v <= 255));
    if (x.some((v, i) => Math.abs(v - rgb[i]!) > 1e-3)) changed++;
  }
  assert.ok(changed >= 15, `${changed} of 20 distortions changed the pixels`);
});

test('augmented samples keep their boxes inside the input', () => {
  const rng = new Rng(9);
  for (let i = 0; i < 50; i++) {
    const { input, truth: t } = augment({ image, truth }, spec, rng, SSD_AUGMENTATION);
    assert.equal(input.length, 30 * 20 * 3);
    assert.ok(input.every((v) => v >= -1 && v <= 1));
    assert.ok(t.classes.length >= 1);
    assert.ok(t.boxes.every((v) => v >= 0 && v <= 1));
    for (let j = 0; j < t.classes.length; j++)
      assert.ok(t.boxes[4 * j + 2]! > t.boxes[4 * j]! && t.boxes[4 * j + 3]! > t.boxes[4 * j + 1]!);
  }
});

test('half floats: exact where representable, within half an ulp elsewhere', () => {
  const exact = new Float32Array([0, -0, 1, -2, 6, 0.5, 65504, 2 ** -24, 1 + 2 ** -10]);
  const back = new Float32Array(exact.length);
  decodeHalfInto(encodeHalf(exact), back, 0);
  assert.deepEqual(Array.from(back), Array.from(exact));
  const x = randomFloats(5000, 8, -6, 6);
  const y = new Float32Array(x.length);
  decodeHalfInto(encodeHalf(x), y, 0);
  x.forEach((v, i) => assert.ok(Math.abs(y[i]! - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v} -> ${y[i]}`));
  assert.equal(toHalf(1e6), 0x7c00, 'overflow is infinity');
  assert.equal(toHalf(1 + 2 ** -11), 0x3c00, 'ties round to even');
});
