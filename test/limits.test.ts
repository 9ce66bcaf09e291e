/**
 * Inputs beyond what the adapter can take end in a CPU-side downscale with a warning or in a typed
 * error, before any GPU call: never a Dawn validation error. Frames wider than the texture limit,
 * 0x0 and 1x1 frames, batches whose activations exceed the storage binding or buffer size, and
 * absurd option values.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Detector, type FrameSource } from '../src/api/detector.ts';
import {
  GpuLimitError,
  ImageTooLargeError,
  InvalidInputError,
  InvalidOptionError,
  load,
  type ObjectDetector,
  type RgbaImage,
} from '../src/index.ts';
import { readImageFile } from '../src/image/decode.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { rgbaFrame } from '../src/api/rgba_frame.ts';
import { GraphExecutor, largestFittingBatch, packModelWeights } from '../src/graph/executor.ts';

const warnings: string[] = [];
let det: ObjectDetector;
let dog: RgbaImage;

before(async () => {
  det = await load('oid-v4', { log: (m) => warnings.push(m) });
  dog = await readImageFile('samples/dog.jpg');
});
after(() => det?.dispose());

/** The dog photo stretched to `width` x `height` (nearest neighbour). */
function stretched(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.floor((y * dog.height) / height);
    for (let x = 0; x < width; x++) {
      const s = (sy * dog.width + Math.floor((x * dog.width) / width)) * 4;
      data.set(dog.data.subarray(s, s + 4), (y * width + x) * 4);
    }
  }
  return { data, width, height };
}

test('a 20000x300 image is downscaled on the CPU with a warning, in detect() and in detectBatch(), boxes in its own pixels', async () => {
  const limit = det.adapter.limits.maxTextureDimension2D!;
  assert.ok(limit < 20000, `this adapter takes ${limit}-pixel textures`);
  const wide = stretched(20000, 300);
  warnings.length = 0;
  const one = await det.detect(wide);
  assert.match(
    warnings.join('\n'),
    new RegExp(`20000x300 exceeds this GPU's texture limit of ${limit}; downscaled by 2 to 10000x150`),
  );
  const [again, small] = await det.detectBatch([wide, dog]);
  assert.equal(warnings.length, 2);
  assert.deepEqual(again, one);
  assert.deepEqual(small, await det.detect(dog));
  for (const d of one)
    assert.ok(d.box.x >= -1 && d.box.x + d.box.width <= 20001 && d.box.y + d.box.height <= 301, JSON.stringify(d.box));
});

test('the detector itself (the video path) refuses frames beyond the texture limit before touching the GPU', async () => {
  const d = await Detector.create(await resolveModel('oid-v4'));
  try {
    const live = d.context.liveResources;
    const frame = (width: number, height: number): FrameSource => ({
      width,
      height,
      upload: () => assert.fail('nothing is uploaded'),
    });
    await assert.rejects(
      d.detect(frame(20000, 300)),
      (e: unknown) =>
        e instanceof ImageTooLargeError &&
        /frame 0: image of 20000x300 is too large \(this GPU's texture limit is \d+ pixels per side\)/.test(e.message),
    );
    await assert.rejects(
      d.detectBatch([rgbaFrame(dog), frame(300, 70000)]),
      (e: unknown) => e instanceof ImageTooLargeError && /frame 1/.test(e.message),
    );
    for (const [w, h] of [
      [0, 0],
      [0, 10],
      [10, -1],
      [Number.NaN, 5],
      [2.5, 3],
    ]) {
      await assert.rejects(
        d.detect(frame(w!, h!)),
        (e: unknown) =>
          e instanceof InvalidInputError &&
          /frame 0 is .* pixels: a frame needs a whole number of pixels/.test(e.message),
        `${w}x${h}`,
      );
    }
    assert.deepEqual(d.context.liveResources, live, 'no texture or buffer was made for a refused frame');
    d.context.throwUncaptured('after refused frames');
  } finally {
    d.dispose();
  }
});

test('1x1 images run; 0x0 images are refused with a typed error', async () => {
  assert.deepEqual(await det.detect({ data: new Uint8Array([200, 10, 10, 255]), width: 1, height: 1 }), []);
  await assert.rejects(det.detect({ data: new Uint8Array(0), width: 0, height: 0 }), InvalidInputError);
  await assert.rejects(det.detect({ data: new Uint8Array(4), width: 1, height: 0 }), InvalidInputError);
});

test('a batch whose activations exceed the storage binding limit: the executor refuses it with a GpuLimitError naming the batch that fits, and the detector runs it in chunks that fit', async () => {
  const d = await Detector.create(await resolveModel('oid-v4'));
  try {
    const ctx = d.context;
    const model = d.model;
    const weights = packModelWeights(ctx, model);
    const live = ctx.liveResources;
    let fits = 0;
    await assert.rejects(GraphExecutor.create(ctx, model, weights, 200), (e: unknown) => {
      assert.ok(e instanceof GpuLimitError && e.code === 'GPU_LIMIT', String(e));
      assert.match(
        e.message,
        /at a batch of 200: tensor .* needs \d+ bytes, above this adapter's storage binding limit of \d+/,
      );
      fits = Number(/detect at most (\d+) images per batch/.exec(e.message)?.[1]);
      return true;
    });
    assert.ok(fits >= 1 && fits < 200, `fits ${fits}`);
    await assert.rejects(GraphExecutor.create(ctx, model, weights, fits + 1), GpuLimitError);
    const largest = largestFittingBatch(ctx, model, 200);
    assert.ok(largest >= 1 && largest <= fits, `largest ${largest}, hint ${fits}`);
    await assert.rejects(GraphExecutor.create(ctx, model, weights, largest + 1), GpuLimitError);
    assert.deepEqual(ctx.liveResources, live, 'nothing was allocated for the refused batches');
    weights.buffer?.destroy();
    const { chunk, chunks } = await d.chunking(200);
    assert.ok(chunk <= largest && chunks * chunk >= 200 && (chunks - 1) * chunk < 200, `${chunks} x ${chunk}`);
    assert.deepEqual(await d.detect(rgbaFrame(dog)), await det.detect(dog));
    ctx.throwUncaptured('after refused batches');
  } finally {
    d.dispose();
  }
});

test('absurd option values are InvalidOptionErrors, at load and per call', async () => {
  for (const o of [
    { maxDetectionsCap: 0 },
    { maxDetectionsCap: 1e9 },
    { maxDetectionsCap: Number.NaN },
    { candidateCap: -1 },
    { candidateCap: 1e12 },
    { scoreThreshold: Infinity },
  ]) {
    await assert.rejects(load('oid-v4', o), InvalidOptionError, JSON.stringify(o));
  }
  for (const o of [
    { scoreThreshold: 2 },
    { iouThreshold: Number.NaN },
    { maxDetections: 1e9 },
    { maxDetections: 1.5 },
    { classes: 'Dog' as unknown as string[] },
    { perClassNms: 'yes' as unknown as boolean },
  ]) {
    await assert.rejects(det.detect(dog, o), InvalidOptionError, JSON.stringify(o));
  }
  assert.equal((await det.detect(dog, { scoreThreshold: 0, maxDetections: 100 })).length, 100);
});
