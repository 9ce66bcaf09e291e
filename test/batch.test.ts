/**
 * detectBatch at batch 64 on lavapipe and SwiftShader: each image's detections equal its batch-1
 * detections. lavapipe's 128 MiB storage binding cannot hold oid-v4's largest activation for 64 images,
 * so the plan runs in even chunks through one smaller arena (still one submit); SwiftShader's 1 GiB holds
 * the whole batch at the small input size used there to keep the test short.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { load, type Detection, type RgbaImage } from '../src/index.ts';
import { readImageFile } from '../src/image/decode.ts';

const IMAGES = ['samples/dog.jpg', 'samples/cat.jpg', 'samples/astronaut.jpg', 'samples/coffee.jpg'];

/** Same labels and order; boxes and scores as batch 1 gave them, up to float rounding of other kernel tilings. */
function assertSameDetections(got: readonly Detection[], want: readonly Detection[], what: string): void {
  assert.deepEqual(
    got.map((d) => d.label),
    want.map((d) => d.label),
    what,
  );
  got.forEach((d, i) => {
    const w = want[i]!;
    assert.ok(Math.abs(d.score - w.score) <= 1e-5, `${what}: score ${d.score} vs ${w.score}`);
    for (const k of ['x', 'y', 'width', 'height'] as const)
      assert.ok(Math.abs(d.box[k] - w.box[k]) <= 1e-3, `${what}: box.${k} ${d.box[k]} vs ${w.box[k]}`);
  });
}

for (const [driver, inputSize] of [
  ['lavapipe', undefined],
  ['swiftshader', 160],
] as const) {
  test(`batch 64 on ${driver}${inputSize ? ` at ${inputSize}x${inputSize}` : ''}: every image's detections equal its batch-1 detections`, async () => {
    const images: RgbaImage[] = await Promise.all(IMAGES.map((p) => readImageFile(p)));
    const det = await load('oid-v4', { driver, ...(inputSize ? { inputSize } : {}) });
    try {
      assert.equal(det.adapter.driver, driver);
      const single: Detection[][] = [];
      for (const img of images) single.push(await det.detect(img));
      assert.ok(
        single.some((d) => d.length > 0),
        'something is detected',
      );
      const batch = Array.from({ length: 64 }, (_, i) => images[i % images.length]!);
      const results = await det.detectBatch(batch);
      assert.equal(results.length, 64);
      results.forEach((r, i) => assertSameDetections(r, single[i % images.length]!, `image ${i}`));
      // The arena the plan holds: the whole batch, or one chunk of it when the adapter's limits say so.
      const stats = await det.stats(64);
      const binding = det.adapter.limits.maxStorageBufferBindingSize!;
      if (driver === 'lavapipe' && binding < 2 ** 29)
        assert.ok(stats.batch < 64, `one arena for ${stats.batch} images`);
      if (driver === 'swiftshader') assert.equal(stats.batch, 64);
      assert.ok(stats.activationBytes <= det.adapter.limits.maxBufferSize!);
      det.context.throwUncaptured('after batch 64');
    } finally {
      det.dispose();
    }
  });
}
