/**
 * mean over H and W: the kernel against the plain-loop reference over a grid of shapes, and TFLite MEAN
 * (axes [1, 2], with and without keep_dims) on flatbuffers written here, run on the GPU, the CPU
 * reference and ONNX Runtime's ReduceMean.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import { meanDispatch, meanPipeline, meanRef, type MeanNode } from '../src/ops/mean.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, i32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

for (const x of [
  [1, 1, 1, 1],
  [1, 3, 5, 3],
  [2, 7, 7, 13],
  [1, 19, 19, 32],
  [3, 10, 1, 8],
  [1, 38, 38, 5],
])
  for (const act of [ACTIVATIONS.none, ACTIVATIONS.relu6])
    test(`mean over H, W of [${x}] clamp ${act.max}`, async () => {
      const ctx = await gpu();
      const input = randomFloats(product(x), product(x) + 1, -8, 8);
      const ref = meanRef(input, x, act);
      const bx = storage(ctx, input);
      const out = output(ctx, ref.length);
      await run(ctx, [
        meanDispatch(ctx, await meanPipeline(ctx), x, act, { input: { buffer: bx }, output: { buffer: out } }),
      ]);
      // Sums of up to 1444 values of up to 8 in float32, in the same order: a few ulps of the sum.
      assertClose(await readF32(ctx, out, ref.length), ref, 2e-6, 1e-6);
      for (const b of [bx, out]) b.destroy();
    });

test('the reference averages each channel alone', () => {
  assert.deepEqual([...meanRef(Float32Array.of(1, 10, 3, 20), [1, 1, 2, 2], ACTIVATIONS.none)], [2, 15]);
});

/** CONV_2D 1x1 (3 -> 132 channels) then MEAN over axes [1, 2]. */
function meanTflite(keepDims: boolean): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(0), fb.i32(1), fb.i32(1), fb.i8(0)] };
  return ssdTflite({
    builtins: ['CONV_2D', 'MEAN'],
    tensors: [
      IMAGE,
      { shape: [132, 1, 1, 3], name: 'filter', buffer: 1 },
      { shape: [1, 16, 16, 132], name: 'conv' },
      { shape: [2], name: 'axes', type: 2, buffer: 2 },
      { shape: keepDims ? [1, 1, 1, 132] : [1, 132], name: 'mean' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1, -1], outputs: [2], options: conv },
      { opcode: 1, inputs: [2, 3], outputs: [4], options: { type: 27, fields: [fb.u8(+keepDims)] } },
    ],
    buffers: [f32Bytes(randomFloats(132 * 3, 4, -1, 1)), i32Bytes([1, 2])],
  });
}

for (const keepDims of [true, false])
  test(`TFLite MEAN (keep_dims ${keepDims}) runs alike on the GPU, the CPU reference and ONNX Runtime`, async () => {
    const r = await runConverted(meanTflite(keepDims), { atol: 2e-6, rtol: 2e-6 });
    const [node] = r.model.json.nodes.filter((n): n is MeanNode => n.op === 'mean');
    assert.equal(node?.keepDims, keepDims);
    assert.equal(r.steps.at(-1), 'mean');
  });
