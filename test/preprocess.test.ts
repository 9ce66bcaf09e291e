import { after, test } from 'node:test';
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
