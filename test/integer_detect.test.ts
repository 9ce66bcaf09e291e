/**
 * The COCO uint8 model run in integers from the golden images themselves (precision 'int8', the
 * default for a quantized model): the GPU's quantized preprocessing, the integer network and the
 * dequantized outputs in one submit reproduce TFLite's raw uint8 tensors byte for byte, and load()
 * + detect() return TFLite's own detections (its TFLite_Detection_PostProcess output in the goldens).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { InvalidOptionError, UnsupportedOperatorError } from '../src/errors.ts';
import { load, type ObjectDetector } from '../src/index.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { encodeDispatches, type Dispatch } from '../src/gpu/dispatch.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { integerLowering } from '../src/graph/integer.ts';
import { preprocessPipeline, preprocessStage } from '../src/kernels/preprocess.ts';
import { supportsPackedDot } from '../src/kernels/qcommon.ts';
import { loadImage } from '../scripts/goldens/inputs.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { goldenStems, loadGolden, repoRoot, type Golden } from './support/goldens.ts';
import { COCO_TFLITE, convertedCoco } from './support/model_sources.ts';

after(releaseGpu);

const MODEL = 'coco-ssd-mobilenetv1-quant';
const stems = goldenStems(MODEL);
/** The post-process op's settings in this model (readPostProcessOptions): what the goldens' detections used. */
const TFLITE_OPTIONS = { scoreThreshold: 1e-8, iouThreshold: 0.6, maxDetections: 10 };

function imageOf(g: Golden) {
  return loadImage(repoRoot(), g.recipe.image.path).image;
}

async function rawFromImage(ctx: GpuContext, g: Golden) {
  const m = await convertedCoco();
  const integer = integerLowering(m.json, 'xnnpack', await supportsPackedDot(ctx));
  const weights = packModelWeights(ctx, m, integer);
  const ex = await GraphExecutor.create(ctx, m, weights, 1, {}, integer);
  const img = imageOf(g);
  const tex = ctx.device.createTexture({
    size: [img.width, img.height],
    format: 'rgba8unorm',
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST,
  });
  ctx.queue.writeTexture({ texture: tex }, img.data as Uint8Array<ArrayBuffer>, { bytesPerRow: img.width * 4 }, [
    img.width,
    img.height,
  ]);
  const pre = preprocessStage(
    ctx,
    await preprocessPipeline(ctx, 'uint8'),
    m.json.preprocess,
    tex.createView(),
    ex.input,
    0,
    img,
    'uint8',
  );
  const read = async (t: string) => {
    const b = ex.bind(t);
    const n = m.json.shapes[t]!.reduce((a, d) => a * d, 1);
    return new Uint8Array(await ctx.readBuffer(b.buffer, b.offset ?? 0, Math.ceil(n / 4) * 4)).slice(0, n);
  };
  const submit = (dispatches: readonly Dispatch[]) =>
    ctx.checked('integer network from an image', () => {
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, dispatches);
      pass.end();
      ctx.queue.submit([enc.finish()]);
    });
  // The input's arena bytes are reused once the first convolution has read them: read it alone first.
  await submit([pre.dispatch]);
  const input = await read(m.json.input);
  await submit([pre.dispatch, ...ex.dispatches]);
  const out = { input, boxes: await read(m.json.outputs.boxes), logits: await read(m.json.outputs.scores) };
  for (const b of pre.dispatch.owned) b.destroy();
  tex.destroy();
  ex.destroy();
  weights.buffer?.destroy();
  return out;
}

const differing = (a: Uint8Array, b: Uint8Array) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

for (const stem of stems)
  test(`int8 from the image: GPU preprocessing and integer network equal TFLite's input and raw outputs byte for byte: ${stem}`, async (t) => {
    const g = loadGolden(MODEL, stem);
    const out = await rawFromImage(await gpu(), g);
    const { buildInput } = await import('../scripts/goldens/inputs.ts');
    const ref = buildInput(g.recipe.input, imageOf(g)).data as Uint8Array;
    const [di, db, dl] = [
      differing(out.input, ref),
      differing(out.boxes, g.outputs['Squeeze']!.quantized!),
      differing(out.logits, g.outputs['concat_1']!.quantized!),
    ];
    t.diagnostic(`differing bytes: input ${di}, Squeeze ${db}, concat_1 ${dl}`);
    assert.equal(di + db + dl, 0, `differing bytes: input ${di}, Squeeze ${db}, concat_1 ${dl}`);
  });

let detector: Promise<ObjectDetector> | undefined;
after(async () => (await detector)?.dispose());

for (const stem of stems)
  test(`load() + detect() in int8 return TFLite's detections (class, score, box): ${stem}`, async (t) => {
    detector ??= load(COCO_TFLITE);
    const d = await detector;
    assert.equal(d.info.precision, 'int8', "a quantized model runs in integers under precision 'auto'");
    const g = loadGolden(MODEL, stem);
    const img = imageOf(g);
    const found = await d.detect({ data: img.data, width: img.width, height: img.height }, TFLITE_OPTIONS);
    t.diagnostic(found.map((f) => `${f.label} ${f.score.toFixed(4)}`).join(', '));
    assert.equal(found.length, g.detections.length, `${found.length} detections vs TFLite's ${g.detections.length}`);
    // Scores are multiples of 1/256, so TFLite and we may order equal scores differently: match by class
    // and box. The goldens' JSON keeps scores to 6 decimals and pixels to 2.
    const left = [...g.detections];
    const near = (a: number, b: number) => Math.abs(a - b) <= 0.006;
    for (const f of found) {
      const i = left.findIndex(
        (r) =>
          r.classIndex === f.classId &&
          Math.abs(r.score - f.score) <= 1e-6 &&
          near(r.pixels.x, f.box.x) &&
          near(r.pixels.y, f.box.y) &&
          near(r.pixels.width, f.box.width) &&
          near(r.pixels.height, f.box.height),
      );
      assert.ok(i >= 0, `${f.label} ${f.score} at ${JSON.stringify(f.box)} is not among TFLite's detections`);
      left.splice(i, 1);
    }
  });

test('precision at load: an unknown value is an InvalidOptionError, int8 of a float model an UnsupportedOperatorError', async () => {
  await assert.rejects(load(COCO_TFLITE, { precision: 'int4' as 'int8' }), InvalidOptionError);
  await assert.rejects(load(COCO_TFLITE, { requantization: 'gemmlowp' as 'tflite' }), InvalidOptionError);
  await assert.rejects(load('oid-v4', { precision: 'int8' }), UnsupportedOperatorError);
});
