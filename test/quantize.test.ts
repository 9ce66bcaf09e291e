/**
 * quantize (TFLite QUANTIZE on activations, in real values) and DEQUANTIZE of a computed tensor: the
 * kernel against the plain-loop reference for int8, uint8 and int16 grids, ties rounded away from zero,
 * and a flatbuffer written here (float -> int8 -> uint8 requantized -> float) run on the GPU, the CPU
 * reference and ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { product } from '../src/core/shape.ts';
import type { ActivationNode } from '../src/ops/activation.ts';
import { quantizeDispatch, quantizePipeline, quantizeRef, type QuantizeNode } from '../src/ops/quantize.ts';
import type { TfliteQuantization } from '../src/ops/support/interchange.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

const GRIDS: Record<string, TfliteQuantization> = {
  int8: { scale: 0.05, zeroPoint: 3, qmin: -128, qmax: 127 },
  uint8: { scale: 0.0392, zeroPoint: 128, qmin: 0, qmax: 255 },
  int16: { scale: 0.00025, zeroPoint: 0, qmin: -32768, qmax: 32767 },
};

for (const [name, q] of Object.entries(GRIDS))
  for (const shape of [[7], [1, 5, 7, 3], [2, 19, 19, 13]])
    test(`quantize ${name} [${shape}]`, async () => {
      const ctx = await gpu();
      // Past both ends of every grid, so the clamps take part.
      const x = randomFloats(product(shape), product(shape), -10, 10);
      const ref = quantizeRef(x, q);
      const bx = storage(ctx, x);
      const out = output(ctx, ref.length);
      await run(ctx, [
        quantizeDispatch(ctx, await quantizePipeline(ctx), shape, q, {
          input: { buffer: bx },
          output: { buffer: out },
        }),
      ]);
      assertClose(await readF32(ctx, out, ref.length), ref, 0, 0);
      for (const b of [bx, out]) b.destroy();
    });

test('the reference rounds ties away from zero, as TFLite, and clamps to the grid', () => {
  const q = { scale: 0.5, zeroPoint: 0, qmin: -128, qmax: 127 };
  assert.deepEqual([...quantizeRef(Float32Array.of(0.25, -0.25, 0.75, 1000, -1000), q)], [0.5, -0.5, 1, 63.5, -64]);
});

/** QUANTIZE to int8, QUANTIZE (requantize) to uint8, DEQUANTIZE, CONV_2D 6x13 VALID -> [1, 11, 4, 3]. */
function quantizeTflite(): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  return ssdTflite({
    builtins: ['QUANTIZE', 'DEQUANTIZE', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [1, 16, 16, 3], name: 'int8', type: 9, quantization: { scale: [0.05], zeroPoint: [3] } },
      { shape: [1, 16, 16, 3], name: 'uint8', type: 3, quantization: { scale: [0.07], zeroPoint: [128] } },
      { shape: [1, 16, 16, 3], name: 'float' },
      { shape: [3, 6, 13, 3], name: 'filter', buffer: 1 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0], outputs: [1] },
      { opcode: 0, inputs: [1], outputs: [2] },
      { opcode: 1, inputs: [2], outputs: [3] },
      { opcode: 2, inputs: [3, 4, -1], outputs: [5], options: conv },
    ],
    buffers: [f32Bytes(randomFloats(3 * 6 * 13 * 3, 13, -0.3, 0.3))],
  });
}

test('TFLite QUANTIZE / DEQUANTIZE on activations convert; GPU, CPU reference and ONNX Runtime agree', async () => {
  // Inputs past the int8 grid's range (-6.55 .. 6.2), so its clamp shows in the result.
  const r = await runConverted(quantizeTflite(), { atol: 1e-5, rtol: 2e-6, lo: -8, hi: 8 });
  const q = r.model.json.nodes.filter((n): n is QuantizeNode => n.op === 'quantize');
  assert.deepEqual(
    q.map((n) => [n.scale, n.zeroPoint, n.qmin, n.qmax]),
    [
      [Math.fround(0.05), 3, -128, 127],
      [Math.fround(0.07), 128, 0, 255],
    ],
  );
  const d = r.model.json.nodes.filter((n): n is ActivationNode => n.op === 'activation');
  assert.deepEqual(
    d.map((n) => n.fn),
    ['identity'],
  );
  // DEQUANTIZE aliases its input: two quantize kernels and the convolution.
  assert.deepEqual(r.steps.slice(0, 2), ['quantize', 'quantize']);
  assert.equal(r.steps.length, 3);
});
