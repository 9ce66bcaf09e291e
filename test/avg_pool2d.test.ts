/**
 * avg_pool2d, added through the op registry alone: its kernel variants against the plain-loop
 * reference over a grid of shapes, its TFLite mapping on a flatbuffer written here, and the model
 * that file becomes, run on the GPU, on the CPU reference and in ONNX Runtime (an independent
 * implementation of AveragePool).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { builtinCode } from '../src/convert/tflite.ts';
import { convertTflite } from '../src/convert/tflite_to_ir.ts';
import { ACTIVATIONS, convGeometry, type ConvGeometry, type Padding } from '../src/core/geometry.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { parseModel, serializeModel } from '../src/graph/model_format.ts';
import { modelToOnnx } from '../src/graph/onnx_export.ts';
import { runRawOutputs } from '../src/graph/raw.ts';
import { runReference } from '../src/graph/reference.ts';
import {
  AVG_POOL_VARIANTS,
  avgPool2dRef,
  avgPoolDispatch,
  avgPoolPipeline,
  avgPoolVariantSupported,
  type AvgPool2dNode,
  type AvgPoolVariant,
} from '../src/ops/avg_pool2d.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { fb, writeTflite } from './support/tflite_writer.ts';

after(releaseGpu);

const grid: { g: ConvGeometry; act: keyof typeof ACTIVATIONS }[] = [];
let i = 0;
for (const hw of [1, 3, 7, 19])
  for (const c of [1, 3, 4, 8, 13, 32])
    for (const [kH, kW] of [
      [2, 2],
      [3, 3],
      [3, 2],
    ] as const)
      for (const stride of [1, 2])
        for (const padding of ['SAME', 'VALID'] as Padding[]) {
          if (padding === 'VALID' && (hw < kH || hw < kW)) continue;
          const w = hw === 7 ? 5 : hw; // one non-square case per row
          const g = convGeometry({
            batch: 1,
            inH: hw,
            inW: w,
            inC: c,
            outC: c,
            kH,
            kW,
            strideH: stride,
            strideW: stride,
            padding,
          });
          grid.push({ g, act: (['none', 'relu6', 'relu'] as const)[i++ % 3]! });
        }
// SAME with the odd padding pixel at the bottom/right only, and a batch.
grid.push({
  g: convGeometry({
    batch: 3,
    inH: 8,
    inW: 10,
    inC: 12,
    outC: 12,
    kH: 3,
    kW: 3,
    strideH: 2,
    strideW: 2,
    padding: 'SAME',
  }),
  act: 'relu6',
});
grid.push({
  g: convGeometry({ batch: 2, inH: 6, inW: 6, inC: 5, outC: 5, kH: 2, kW: 2, strideH: 1, strideW: 1, padding: 'SAME' }),
  act: 'none',
});

for (const { g, act } of grid)
  for (const variant of AVG_POOL_VARIANTS) {
    if (!avgPoolVariantSupported(g, variant)) continue;
    const pads = `pads ${g.padTop},${g.padLeft},${g.padBottom},${g.padRight}`;
    test(`avg_pool2d ${variant}: ${g.batch}x${g.inH}x${g.inW}x${g.inC} k${g.kH}x${g.kW} s${g.strideH} ${pads} -> ${g.outH}x${g.outW} ${act}`, () =>
      check(g, variant, act));
  }

test('every avg_pool2d variant is exercised by the grid', () => {
  for (const v of AVG_POOL_VARIANTS)
    assert.ok(
      grid.some(({ g }) => avgPoolVariantSupported(g, v)),
      `variant ${v} untested`,
    );
});

test('the reference averages real taps only: a SAME corner window of 2x2 real taps is their mean', () => {
  const g = convGeometry({
    batch: 1,
    inH: 2,
    inW: 2,
    inC: 1,
    outC: 1,
    kH: 3,
    kW: 3,
    strideH: 1,
    strideW: 1,
    padding: 'SAME',
  });
  assert.deepEqual([...avgPool2dRef(g, Float32Array.of(-4, -3, -2, 1), ACTIVATIONS.none)], [-2, -2, -2, -2]);
});

async function check(g: ConvGeometry, variant: AvgPoolVariant, actName: keyof typeof ACTIVATIONS): Promise<void> {
  const ctx = await gpu();
  const n = g.batch * g.inH * g.inW * g.inC;
  // The kernel reads activations as vec4: a buffer of whole vec4s, as the executor's arena has.
  const x = new Float32Array(Math.ceil(n / 4) * 4);
  x.set(randomFloats(n, 31 + g.inC, -8, 8));
  const ref = avgPool2dRef(g, x.subarray(0, n), ACTIVATIONS[actName]);
  const out = output(ctx, Math.ceil(ref.length / 4) * 4);
  const bx = storage(ctx, x);
  await run(ctx, [
    avgPoolDispatch(ctx, await avgPoolPipeline(ctx, variant), variant, g, ACTIVATIONS[actName], {
      input: { buffer: bx },
      output: { buffer: out },
    }),
  ]);
  // Sums in another order, and a division: a few ulps of the largest input (8).
  assertClose(await readF32(ctx, out, ref.length), ref, 4e-6, 1e-6);
  for (const b of [bx, out]) b.destroy();
}

/**
 * A 16x16 RGB input, a 2x2 stride-1 SAME pool (padded at the bottom/right only), a 6x13 VALID pool
 * with ReLU6, and the result reshaped into the 33 box encodings and 33 x 4 class logits that the
 * SSD anchor layout of a 16x16 input has (every feature map 1x1: 3 + 5 * 6 anchors).
 */
function poolingTflite(): Uint8Array {
  const pool = (filterH: number, filterW: number, stride: number, padding: 0 | 1, activation: number) => ({
    type: 5,
    fields: [fb.i8(padding), fb.i32(stride), fb.i32(stride), fb.i32(filterW), fb.i32(filterH), fb.i8(activation)],
  });
  const reshape = { type: 17, fields: [] };
  return writeTflite({
    builtins: [builtinCode('AVERAGE_POOL_2D'), builtinCode('RESHAPE')],
    tensors: [
      { shape: [1, 16, 16, 3], name: 'image' },
      { shape: [1, 16, 16, 3], name: 'pool_same' },
      { shape: [1, 11, 4, 3], name: 'pool_valid' },
      { shape: [1, 33, 4], name: 'raw_outputs/box_encodings' },
      { shape: [1, 33, 4], name: 'raw_outputs/class_predictions' },
    ],
    operators: [
      { opcode: 0, inputs: [0], outputs: [1], options: pool(2, 2, 1, 0, 0) },
      { opcode: 0, inputs: [1], outputs: [2], options: pool(6, 13, 1, 1, 3) },
      { opcode: 1, inputs: [2], outputs: [3], options: reshape },
      { opcode: 1, inputs: [2], outputs: [4], options: reshape },
    ],
    inputs: [0],
    outputs: [3, 4],
  });
}

test('TFLite AVERAGE_POOL_2D converts to avg_pool2d; the model runs alike on the GPU, the CPU reference and ONNX Runtime', async () => {
  const converted = await convertTflite(poolingTflite(), { file: 'pool.tflite', name: 'pool' });
  const { json, weights } = serializeModel(converted);
  const model = await parseModel(json, weights, 'pool/model.json');
  const pools = model.json.nodes.filter((n): n is AvgPool2dNode => n.op === 'avg_pool2d');
  assert.deepEqual(
    pools.map((n) => [n.window, n.strides, n.padding, n.activation.max]),
    [
      [[2, 2], [1, 1], 'SAME', ACTIVATIONS.none.max],
      [[6, 13], [1, 1], 'VALID', 6],
    ],
  );
  const input = randomFloats(16 * 16 * 3, 5, -2, 8);
  const ref = runReference(model, input);
  const { boxes, scores } = model.json.outputs;
  // Independent of the reference: the first pool averages 2x2 windows (the last row and column
  // have 2 or 1 real taps); the second takes 6x13 of those. Output 0, channel 0, clamped by ReLU6.
  const at = (y: number, x: number) => input[(y * 16 + x) * 3]!;
  const first = (y: number, x: number) => {
    const taps = [at(y, x)];
    if (y < 15) taps.push(at(y + 1, x));
    if (x < 15) taps.push(at(y, x + 1));
    if (y < 15 && x < 15) taps.push(at(y + 1, x + 1));
    return taps.reduce((a, b) => a + b, 0) / taps.length;
  };
  let sum = 0;
  for (let y = 0; y < 6; y++) for (let x = 0; x < 13; x++) sum += first(y, x);
  assert.ok(Math.abs(ref.get(boxes)![0]! - Math.min(Math.max(sum / 78, 0), 6)) < 1e-6);
  const ctx = await gpu();
  const packed = packModelWeights(ctx, model);
  const ex = await GraphExecutor.create(ctx, model, packed, 1);
  assert.deepEqual(
    ex.stats.steps.map((s) => s.kind),
    ['avg_pool2d', 'avg_pool2d'],
  );
  const got = await runRawOutputs(ctx, ex, input);
  ex.destroy();
  packed.buffer?.destroy();

  const session = await ort.InferenceSession.create(modelToOnnx(model), { executionProviders: ['cpu'] });
  try {
    const onnx = await session.run({ [model.json.input]: new ort.Tensor('float32', input, [1, 16, 16, 3]) });
    for (const t of [boxes, scores]) {
      assertClose(got.get(t)!, ref.get(t)!, 4e-6, 1e-6, `GPU ${t}`);
      assertClose(onnx[t]!.data as Float32Array, ref.get(t)!, 4e-6, 1e-6, `ONNX Runtime ${t}`);
    }
  } finally {
    await session.release();
  }
});
