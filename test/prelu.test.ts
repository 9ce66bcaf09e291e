/**
 * prelu: the kernel against the plain-loop reference over a grid of shapes with per-channel and single
 * alphas, and TFLite PRELU on a flatbuffer written here, run on the GPU, the CPU reference and ONNX
 * Runtime's PRelu.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import { preluDispatch, preluPipeline, preluRef, type PreluNode } from '../src/ops/prelu.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

for (const x of [
  [1, 1, 1, 1],
  [1, 3, 5, 3],
  [2, 7, 7, 13],
  [1, 19, 19, 32],
  [4, 6],
])
  for (const perChannel of [true, false])
    test(`prelu [${x}] alpha ${perChannel ? 'per channel' : 'single'}`, async () => {
      const ctx = await gpu();
      const c = x.at(-1)!;
      const input = randomFloats(product(x), product(x) + 5, -8, 8);
      const alpha = randomFloats(perChannel ? c : 1, 3, -0.5, 1.5);
      const ref = preluRef(input, x, alpha, ACTIVATIONS.none);
      const bx = storage(ctx, input);
      // Constants reach kernels packed with the last axis padded to 4, as the executor packs them.
      const ba = storage(ctx, padLastDimTo4(alpha, alpha.length));
      const out = output(ctx, ref.length);
      const b = { input: { buffer: bx }, alpha: { buffer: ba }, output: { buffer: out } };
      await run(ctx, [preluDispatch(ctx, await preluPipeline(ctx), x, perChannel, ACTIVATIONS.none, b)]);
      // One multiplication: exact.
      assertClose(await readF32(ctx, out, ref.length), ref, 0, 0);
      for (const buf of [bx, ba, out]) buf.destroy();
    });

test('the reference scales only negatives, by their channel', () => {
  assert.deepEqual(
    [...preluRef(Float32Array.of(-2, -2, 3, 3), [1, 1, 2, 2], Float32Array.of(0.5, 2), ACTIVATIONS.none)],
    [-1, -4, 3, 3],
  );
});

/** PRELU with alpha [1, 1, 3], PRELU with one alpha, then CONV_2D 6x13 VALID -> [1, 11, 4, 3]. */
function preluTflite(): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  return ssdTflite({
    builtins: ['PRELU', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [1, 1, 3], name: 'alpha', buffer: 1 },
      { shape: [1, 16, 16, 3], name: 'prelu' },
      { shape: [1], name: 'alpha2', buffer: 2 },
      { shape: [1, 16, 16, 3], name: 'prelu2' },
      { shape: [3, 6, 13, 3], name: 'filter', buffer: 3 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1], outputs: [2] },
      { opcode: 0, inputs: [2, 3], outputs: [4] },
      { opcode: 1, inputs: [4, 5, -1], outputs: [6], options: conv },
    ],
    buffers: [f32Bytes([0.1, -0.5, 2]), f32Bytes([0.25]), f32Bytes(randomFloats(3 * 6 * 13 * 3, 8, -0.3, 0.3))],
  });
}

test('TFLite PRELU converts to prelu; the model runs alike on the GPU, the CPU reference and ONNX Runtime', async () => {
  const r = await runConverted(preluTflite(), { atol: 1e-5, rtol: 2e-6 });
  const nodes = r.model.json.nodes.filter((n): n is PreluNode => n.op === 'prelu');
  assert.deepEqual(
    nodes.map((n) => r.model.json.constants[n.alpha]!.shape),
    [[1, 1, 3], [1]],
  );
  assert.deepEqual(r.steps.slice(0, 2), ['prelu', 'prelu']);
});
