/**
 * binary (mul, sub) with broadcasting: the kernel against the plain-loop reference over a grid of shape
 * pairs (same shapes, per-channel, per-pixel, scalars, activation and constant operands, the constant on
 * either side), and TFLite MUL / SUB on a flatbuffer written here (a squeeze-and-excite style product of
 * a tensor and its channel means among them), run on the GPU, the CPU reference and ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  BINARY_FNS,
  binaryDispatch,
  binaryPipeline,
  binaryRef,
  broadcastShape,
  type BinaryNode,
} from '../src/ops/binary.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, i32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

const PAIRS: [number[], number[]][] = [
  [
    [1, 5, 7, 3],
    [1, 5, 7, 3],
  ],
  [[2, 3, 3, 13], [13]],
  [
    [1, 7, 7, 8],
    [1, 1, 1, 8],
  ],
  [
    [1, 7, 5, 3],
    [1, 7, 5, 1],
  ],
  [[3, 4, 4, 4], []],
  [[2, 9], [9]],
  [
    [1, 19, 19, 6],
    [1, 19, 1, 6],
  ],
];

let seed = 1;
for (const fn of BINARY_FNS)
  for (const [x, k] of PAIRS)
    for (const constant of [false, true])
      for (const swap of constant ? [false, true] : [false]) {
        const s = seed++;
        const what = `${constant ? 'constant' : 'tensor'} [${k}]${swap ? ' on the left' : ''}`;
        test(`binary ${fn} [${x}] with ${what}`, async () => {
          const ctx = await gpu();
          const xv = randomFloats(product(x), s, -8, 8);
          const kv = randomFloats(product(k), s + 100, -8, 8);
          const act = s % 3 === 0 ? ACTIVATIONS.relu6 : ACTIVATIONS.none;
          const ref = swap ? binaryRef(fn, kv, k, xv, x, act) : binaryRef(fn, xv, x, kv, k, act);
          const bx = storage(ctx, xv);
          // A constant reaches the kernel packed as the executor packs it: last axis padded to 4.
          const bk = storage(ctx, constant ? padLastDimTo4(kv, k.at(-1) ?? 1) : kv);
          const out = output(ctx, ref.length);
          const pipe = await binaryPipeline(ctx, fn, constant);
          const b = { x: { buffer: bx }, k: { buffer: bk }, output: { buffer: out } };
          await run(ctx, [binaryDispatch(ctx, pipe, fn, { x, k, constant, swap }, act, b)]);
          // One rounding, as on the CPU in float32.
          assertClose(await readF32(ctx, out, ref.length), ref, 0, 0);
          for (const buf of [bx, bk, out]) buf.destroy();
        });
      }

test('broadcastShape follows NumPy and refuses what does not broadcast', () => {
  assert.deepEqual(broadcastShape([1, 4, 1, 3], [5, 1]), [1, 4, 5, 3]);
  assert.deepEqual(broadcastShape([2, 3], []), [2, 3]);
  assert.throws(() => broadcastShape([1, 4, 3], [2, 3]), /do not broadcast/);
});

/**
 * MUL(image, c[3]); SUB(c[1,1,1,1], that) (the constant on the left); MEAN over H, W; MUL(tensor, its
 * means [1,1,1,3]); SUB of two activations; CONV_2D 6x13 VALID -> [1, 11, 4, 3].
 */
function binaryTflite(): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  const mul = (activation = 0) => ({ type: 21, fields: [fb.i8(activation)] });
  const sub = (activation = 0) => ({ type: 28, fields: [fb.i8(activation)] });
  return ssdTflite({
    builtins: ['MUL', 'SUB', 'MEAN', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [3], name: 'scale', buffer: 1 },
      { shape: [1, 16, 16, 3], name: 'scaled' },
      { shape: [1, 1, 1, 1], name: 'offset', buffer: 2 },
      { shape: [1, 16, 16, 3], name: 'flipped' },
      { shape: [2], name: 'axes', type: 2, buffer: 3 },
      { shape: [1, 1, 1, 3], name: 'means' },
      { shape: [1, 16, 16, 3], name: 'excited' },
      { shape: [1, 16, 16, 3], name: 'difference' },
      { shape: [3, 6, 13, 3], name: 'filter', buffer: 4 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1], outputs: [2], options: mul() },
      { opcode: 1, inputs: [3, 2], outputs: [4], options: sub() },
      { opcode: 2, inputs: [4, 5], outputs: [6], options: { type: 27, fields: [fb.u8(1)] } },
      { opcode: 0, inputs: [4, 6], outputs: [7], options: mul(1) },
      { opcode: 1, inputs: [7, 4], outputs: [8], options: sub() },
      { opcode: 3, inputs: [8, 9, -1], outputs: [10], options: conv },
    ],
    buffers: [
      f32Bytes([0.5, -1, 2]),
      f32Bytes([1.5]),
      i32Bytes([1, 2]),
      f32Bytes(randomFloats(3 * 6 * 13 * 3, 12, -0.3, 0.3)),
    ],
  });
}

test('TFLite MUL and SUB convert to binary; the model runs alike on the GPU, the CPU reference and ONNX Runtime', async () => {
  const r = await runConverted(binaryTflite(), { atol: 2e-5, rtol: 2e-6 });
  const nodes = r.model.json.nodes.filter((n): n is BinaryNode => n.op === 'binary');
  assert.deepEqual(
    nodes.map((n) => [n.fn, n.inputs.length, n.constant !== undefined, n.constantFirst === true, n.activation.min]),
    [
      ['mul', 1, true, false, ACTIVATIONS.none.min],
      ['sub', 1, true, true, ACTIVATIONS.none.min],
      ['mul', 2, false, false, 0],
      ['sub', 2, false, false, ACTIVATIONS.none.min],
    ],
  );
  assert.deepEqual(r.steps.slice(0, 5), ['binary', 'binary', 'mean', 'binary', 'binary']);
});
