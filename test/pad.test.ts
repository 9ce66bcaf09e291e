/**
 * pad: the kernel against the plain-loop reference over a grid of shapes and paddings (spatial, channel,
 * both, batches, a pad value, a clamp), and TFLite PAD / PADV2 on a flatbuffer written here, run on the
 * GPU, the CPU reference and ONNX Runtime's Pad.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS, type Clamp } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import { padDispatch, padPipeline, padRef, padShape, type PadNode, type Pads } from '../src/ops/pad.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, i32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

const pads = (top: number, bottom: number, left: number, right: number, front = 0, back = 0): Pads => ({
  ...{ top, bottom, left, right, front, back },
});

const grid: { x: number[]; p: Pads; value: number; act: Clamp }[] = [];
for (const x of [
  [1, 1, 1, 1],
  [1, 3, 5, 3],
  [1, 7, 7, 13],
  [2, 19, 10, 8],
  [3, 4, 4, 96],
])
  for (const p of [
    pads(0, 1, 0, 1),
    pads(1, 1, 1, 1),
    pads(2, 0, 0, 3),
    pads(0, 0, 0, 0, 0, 5),
    pads(1, 2, 3, 0, 2, 1),
  ])
    grid.push({
      x,
      p,
      value: grid.length % 3 === 0 ? 0 : -0.75,
      act: grid.length % 4 === 1 ? ACTIVATIONS.relu6 : ACTIVATIONS.none,
    });

for (const { x, p, value, act } of grid) {
  const sides = `${p.top},${p.bottom},${p.left},${p.right},${p.front},${p.back}`;
  test(`pad [${x}] by ${sides} value ${value} -> [${padShape(x, p)}] clamp ${act.max}`, async () => {
    const ctx = await gpu();
    const input = randomFloats(product(x), product(x) + 3, -8, 8);
    const ref = padRef(input, x, p, value, act);
    const bx = storage(ctx, input);
    const out = output(ctx, ref.length);
    const b = { input: { buffer: bx }, output: { buffer: out } };
    await run(ctx, [padDispatch(ctx, await padPipeline(ctx), x, p, value, act, b)]);
    // A copy: exact.
    assertClose(await readF32(ctx, out, ref.length), ref, 0, 0);
    for (const buf of [bx, out]) buf.destroy();
  });
}

test('the reference: a 1x1x1 tensor padded on every side keeps its value in the middle', () => {
  assert.deepEqual(
    [...padRef(Float32Array.of(5), [1, 1, 1, 1], pads(1, 1, 0, 0, 0, 1), 2, ACTIVATIONS.none)],
    [2, 2, 5, 2, 2, 2],
  );
});

/** PAD (top 1, right 1, one channel in front), PADV2 (value 0.5, right 1), CONV_2D 7x15 VALID -> [1, 11, 4, 3]. */
function padTflite(): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  return ssdTflite({
    builtins: ['PAD', 'PADV2', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [4, 2], name: 'paddings', type: 2, buffer: 1 },
      { shape: [1, 17, 17, 4], name: 'padded' },
      { shape: [4, 2], name: 'paddings2', type: 2, buffer: 2 },
      { shape: [], name: 'value', buffer: 3 },
      { shape: [1, 17, 18, 4], name: 'padded2' },
      { shape: [3, 7, 15, 4], name: 'filter', buffer: 4 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1], outputs: [2], options: { type: 22, fields: [] } },
      { opcode: 1, inputs: [2, 3, 4], outputs: [5], options: { type: 43, fields: [] } },
      { opcode: 2, inputs: [5, 6, -1], outputs: [7], options: conv },
    ],
    buffers: [
      i32Bytes([0, 0, 1, 0, 0, 1, 1, 0]),
      i32Bytes([0, 0, 0, 0, 0, 1, 0, 0]),
      f32Bytes([0.5]),
      f32Bytes(randomFloats(3 * 7 * 15 * 4, 9, -0.2, 0.2)),
    ],
  });
}

test('TFLite PAD and PADV2 convert to pad; the model runs alike on the GPU, the CPU reference and ONNX Runtime', async () => {
  const r = await runConverted(padTflite(), { atol: 2e-5, rtol: 2e-5 });
  const nodes = r.model.json.nodes.filter((n): n is PadNode => n.op === 'pad');
  assert.deepEqual(
    nodes.map((n) => [n.pads, n.value]),
    [
      [pads(1, 0, 0, 1, 1, 0), 0],
      [pads(0, 0, 0, 1, 0, 0), 0.5],
    ],
  );
  assert.deepEqual(r.steps.slice(0, 2), ['pad', 'pad']);
});

/**
 * PAD (bottom/right 1) then a 3x3 stride-2 VALID DEPTHWISE_CONV_2D (TFLite's way of writing asymmetric
 * padding), PAD (top 2, bottom 1) then a 1x5 VALID CONV_2D: both pads fold into the convolutions.
 */
function foldedPadTflite(): Uint8Array {
  const dw = { type: 2, fields: [fb.i8(1), fb.i32(2), fb.i32(2), fb.i32(1), fb.i8(0)] };
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  const pad = { type: 22, fields: [] };
  return ssdTflite({
    builtins: ['PAD', 'DEPTHWISE_CONV_2D', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [4, 2], name: 'paddings', type: 2, buffer: 1 },
      { shape: [1, 17, 17, 3], name: 'padded' },
      { shape: [1, 3, 3, 3], name: 'dw_filter', buffer: 2 },
      { shape: [1, 8, 8, 3], name: 'dw' },
      { shape: [4, 2], name: 'paddings2', type: 2, buffer: 3 },
      { shape: [1, 11, 8, 3], name: 'padded2' },
      { shape: [3, 1, 5, 3], name: 'filter', buffer: 4 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1], outputs: [2], options: pad },
      { opcode: 1, inputs: [2, 3, -1], outputs: [4], options: dw },
      { opcode: 0, inputs: [4, 5], outputs: [6], options: pad },
      { opcode: 2, inputs: [6, 7, -1], outputs: [8], options: conv },
    ],
    buffers: [
      i32Bytes([0, 0, 0, 1, 0, 1, 0, 0]),
      f32Bytes(randomFloats(27, 31, -0.5, 0.5)),
      i32Bytes([0, 0, 2, 1, 0, 0, 0, 0]),
      f32Bytes(randomFloats(45, 32, -0.5, 0.5)),
    ],
  });
}

test('a zero spatial PAD before a convolution folds into its padding: no pad kernel, the same values', async () => {
  const r = await runConverted(foldedPadTflite(), { atol: 2e-6, rtol: 2e-6 });
  assert.equal(r.model.json.nodes.filter((n) => n.op === 'pad').length, 2);
  assert.ok(!r.steps.includes('pad'), `steps ${r.steps}`);
  assert.equal(r.steps.length, 2);
});
