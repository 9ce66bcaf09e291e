import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import type { PreprocessSpec } from '../src/core/model_spec.ts';
import { preprocessPipeline, preprocessStage } from '../src/kernels/preprocess.ts';
import { preprocessRef } from '../src/kernels/preprocess_ref.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { assertClose, gpu, output, readF32, releaseGpu, run } from './support/gpu.ts';
import type { GpuContext } from '../src/gpu/context.ts';

after(releaseGpu);

function image(width: number, height: number, seed: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s >>> 16) & 255;
  }
  return { data, width, height };
}

function texture(ctx: GpuContext, img: RgbaImage): GPUTexture {
  const t = ctx.device.createTexture({
    size: [img.width, img.height],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  ctx.queue.writeTexture({ texture: t }, img.data as Uint8Array<ArrayBuffer>, { bytesPerRow: img.width * 4 }, [
    img.width,
    img.height,
  ]);
  return t;
}

const specs: [string, PreprocessSpec][] = [
  [
    'oid stretch 300 half-pixel',
    { width: 300, height: 300, resize: 'stretch', halfPixelCenters: true, mean: 127.5, std: 127.5 },
  ],
  [
    'face pad-bottom-right 64 corner',
    { width: 64, height: 64, resize: 'pad-bottom-right', halfPixelCenters: false, mean: 127.5, std: 127.5 },
  ],
  ['letterbox 40x30', { width: 40, height: 30, resize: 'letterbox', halfPixelCenters: true, mean: 128, std: 128 }],
];
const sizes: [number, number][] = [
  [1, 1],
  [7, 3],
  [300, 300],
  [640, 427],
  [37, 101],
  [1000, 15],
];

for (const [name, spec] of specs)
  for (const [w, h] of sizes)
    test(`preprocess ${name}: ${w}x${h} -> ${spec.width}x${spec.height}`, async () => {
      const ctx = await gpu();
      const img = image(w, h, w * 31 + h);
      const ref = preprocessRef(spec, img);
      const tex = texture(ctx, img);
      const out = output(ctx, ref.length * 2);
      const pipe = await preprocessPipeline(ctx);
      // Batch slot 1: the write must land in the second image of the input tensor.
      const stage = preprocessStage(ctx, pipe, spec, tex.createView(), { buffer: out }, 1, { width: 5, height: 5 });
      stage.update(w, h);
      await run(ctx, [stage.dispatch]);
      const got = await readF32(ctx, out, ref.length * 2);
      assertClose(got.subarray(ref.length), ref, 2e-4, 1e-5);
      tex.destroy();
      out.destroy();
    });

/**
 * The 8-bit input of a quantized model: the resized pixel rounded half up, clamped, packed four to a
 * word (int8: minus 128), equal to the reference's float32 value rounded (how the goldens' inputs
 * are made): the GPU resizes in integers and rounds as float32 would.
 */
for (const [name, spec] of specs)
  for (const out of ['uint8', 'int8'] as const)
    for (const [w, h] of [sizes[1]!, sizes[3]!, sizes[4]!])
      test(`preprocess ${name} quantized ${out}: ${w}x${h} -> ${spec.width}x${spec.height}, packed in batch slot 1`, async () => {
        const ctx = await gpu();
        const img = image(w, h, w * 17 + h);
        const ref = preprocessRef({ ...spec, mean: 0, std: 1 }, img);
        const n = ref.length;
        const tex = texture(ctx, img);
        const buf = output(ctx, n / 2, 0);
        const pipe = await preprocessPipeline(ctx, out);
        const stage = preprocessStage(
          ctx,
          pipe,
          spec,
          tex.createView(),
          { buffer: buf },
          1,
          { width: 5, height: 5 },
          out,
        );
        stage.update(w, h);
        await run(ctx, [stage.dispatch]);
        const bytes = new Uint8Array(await ctx.readBuffer(buf, 0, 2 * n));
        let differ = 0;
        for (let i = 0; i < n; i++) {
          const q = Math.min(255, Math.max(0, Math.round(ref[i]!)));
          const expected = out === 'int8' ? (q - 128) & 0xff : q;
          assert.equal(bytes[i], 0, `slot 0 byte ${i} was written`);
          if (bytes[n + i] !== expected) differ++;
        }
        assert.equal(differ, 0, `${differ} of ${n} values differ`);
        tex.destroy();
        buf.destroy();
      });

test('a quantized input whose image is not whole words refuses batch slots past the first', async () => {
  const ctx = await gpu();
  const spec: PreprocessSpec = { width: 5, height: 3, resize: 'stretch', halfPixelCenters: true, mean: 0, std: 1 };
  const tex = texture(ctx, image(4, 4, 1));
  const pipe = await preprocessPipeline(ctx, 'uint8');
  assert.throws(
    () =>
      preprocessStage(
        ctx,
        pipe,
        spec,
        tex.createView(),
        { buffer: output(ctx, 64) },
        1,
        { width: 4, height: 4 },
        'uint8',
      ),
    /batches of 1/,
  );
  tex.destroy();
});

/**
 * An outside oracle: tfjs-core's own pad and resizeBilinear (TensorFlow's resize rules), on the canvas each mode
 * defines. The canvas geometry is restated from its definition (pad-bottom-right: a square, image at the top-left;
 * letterbox: the model's aspect, image centred, offsets rounded down); the sampling is tfjs's.
 */
function tfjsPreprocess(spec: PreprocessSpec, img: RgbaImage): { values: Float32Array; canvasSize: number } {
  const rgb = Float32Array.from(
    { length: img.width * img.height * 3 },
    (_, i) => img.data[4 * Math.floor(i / 3) + (i % 3)]!,
  );
  let canvasW = img.width;
  let canvasH = img.height;
  let x0 = 0;
  let y0 = 0;
  if (spec.resize === 'pad-bottom-right') canvasW = canvasH = Math.max(img.width, img.height);
  if (spec.resize === 'letterbox') {
    const aspect = spec.width / spec.height;
    canvasW = Math.max(img.width, Math.round(img.height * aspect));
    canvasH = Math.max(img.height, Math.round(img.width / aspect));
    x0 = Math.floor((canvasW - img.width) / 2);
    y0 = Math.floor((canvasH - img.height) / 2);
  }
  const values = tf.tidy(() => {
    const image = tf.tensor3d(rgb, [img.height, img.width, 3]);
    const pads: [number, number][] = [
      [y0, canvasH - img.height - y0],
      [x0, canvasW - img.width - x0],
      [0, 0],
    ];
    const canvas = tf.pad(image, pads);
    const resized = tf.image.resizeBilinear(canvas, [spec.height, spec.width], false, spec.halfPixelCenters);
    return tf.div(tf.sub(resized, spec.mean), spec.std).dataSync() as Float32Array;
  });
  return { values, canvasSize: Math.max(canvasW, canvasH) };
}

const oracleCases: [PreprocessSpec, number, number][] = [
  [{ width: 300, height: 300, resize: 'stretch', halfPixelCenters: true, mean: 127.5, std: 127.5 }, 640, 427],
  [{ width: 300, height: 300, resize: 'stretch', halfPixelCenters: false, mean: 0, std: 1 }, 37, 101],
  [{ width: 64, height: 64, resize: 'pad-bottom-right', halfPixelCenters: false, mean: 127.5, std: 127.5 }, 101, 37],
  [{ width: 64, height: 64, resize: 'pad-bottom-right', halfPixelCenters: true, mean: 0, std: 1 }, 7, 3],
  [{ width: 40, height: 30, resize: 'letterbox', halfPixelCenters: true, mean: 128, std: 128 }, 37, 101],
  [{ width: 40, height: 30, resize: 'letterbox', halfPixelCenters: false, mean: 128, std: 128 }, 1000, 15],
  [{ width: 48, height: 80, resize: 'letterbox', halfPixelCenters: true, mean: 0, std: 1 }, 640, 427],
];

for (const [spec, w, h] of oracleCases)
  test(`preprocess ${spec.resize} (half-pixel ${spec.halfPixelCenters}) ${w}x${h} -> ${spec.width}x${spec.height} equals tfjs-core pad + resizeBilinear`, async () => {
    const ctx = await gpu();
    const img = image(w, h, w * 7 + h);
    const { values: want, canvasSize } = tfjsPreprocess(spec, img);
    // tfjs and the reference both sample in float64 and store float32; tfjs then subtracts and divides in float32.
    // A few roundings of values up to 255 / std: 2^-22 relative, or absolute on a value that cancels to near 0.
    const rounding = 2 ** -22;
    assertClose(preprocessRef(spec, img), want, (255 * rounding) / spec.std, rounding, 'preprocessRef vs tfjs');
    // The GPU computes sample coordinates in float32: up to a few ulps of the canvas size, each moving a weight by
    // that much across a step of up to 255 levels. Measured: 0.0127 levels on a 640-pixel canvas (std 1).
    const coordinate = 255 * canvasSize * 2 ** -21;
    const tex = texture(ctx, img);
    const out = output(ctx, want.length);
    const stage = preprocessStage(ctx, await preprocessPipeline(ctx), spec, tex.createView(), { buffer: out }, 0, {
      width: 5,
      height: 5,
    });
    stage.update(w, h);
    await run(ctx, [stage.dispatch]);
    assertClose(await readF32(ctx, out, want.length), want, (coordinate + 255 * rounding) / spec.std, rounding, 'GPU');
    tex.destroy();
    out.destroy();
  });
