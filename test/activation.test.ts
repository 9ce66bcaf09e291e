/**
 * activation (identity with a clamp, tanh, hard_swish): every function against the plain-loop reference
 * over a grid of shapes, through an output view, and the TFLite RELU / TANH / HARD_SWISH / RELU_N1_TO_1
 * mapping on a flatbuffer written here, where the clamps fuse into the producing step.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS, type Clamp } from '../src/core/geometry.ts';
import { product } from '../src/core/shape.ts';
import {
  ACTIVATION_FNS,
  activationDispatch,
  activationPipeline,
  activationRef,
  type ActivationFn,
  type ActivationNode,
} from '../src/ops/activation.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';
import { f32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

after(releaseGpu);

const CLAMPS: Record<string, Clamp> = { none: ACTIVATIONS.none, relu: ACTIVATIONS.relu, n1to1: { min: -1, max: 1 } };
const SHAPES = [[1], [7], [1, 3, 5, 3], [2, 7, 1, 13], [1, 19, 19, 4], [3, 33], [1, 5, 5, 96]];

let seed = 1;
for (const fn of ACTIVATION_FNS)
  for (const shape of SHAPES)
    for (const [clampName, clamp] of Object.entries(CLAMPS)) {
      const s = seed++;
      test(`activation ${fn} [${shape}] clamp ${clampName}`, () => check(fn, shape, clamp, s));
    }

/** Tanh from e^(-2|x|) and a division: a few ulps of 1 at most (tanh never exceeds 1). */
const TOLERANCE: Record<ActivationFn, [number, number]> = {
  identity: [0, 0],
  tanh: [2e-7, 2e-6],
  hard_swish: [0, 2e-7],
};

async function check(fn: ActivationFn, shape: number[], clamp: Clamp, seed: number): Promise<void> {
  const ctx = await gpu();
  const n = product(shape);
  // Wide enough to cross every kink: hard_swish's -3 and 3, tanh's saturation, the clamps.
  const x = randomFloats(n, seed, -12, 12);
  const ref = activationRef(fn, x, clamp);
  const bx = storage(ctx, x);
  const out = output(ctx, n);
  const pipe = await activationPipeline(ctx, fn);
  await run(ctx, [activationDispatch(ctx, pipe, fn, shape, clamp, { input: { buffer: bx }, output: { buffer: out } })]);
  const [atol, rtol] = TOLERANCE[fn];
  assertClose(await readF32(ctx, out, n), ref, atol, rtol);
  for (const b of [bx, out]) b.destroy();
}

test('the reference: tanh saturates, hard_swish is 0 below -3 and x above 3', () => {
  assert.deepEqual(
    [...activationRef('hard_swish', Float32Array.of(-4, -3, 0, 3, 5), ACTIVATIONS.none)].map((v) => v + 0),
    [0, 0, 0, 3, 5],
  );
  assert.deepEqual([...activationRef('tanh', Float32Array.of(-100, 0, 100), ACTIVATIONS.none)], [-1, 0, 1]);
  assert.deepEqual([...activationRef('identity', Float32Array.of(-2, 0.5, 9), ACTIVATIONS.relu6)], [0, 0.5, 6]);
});

test('activation writes through an output view (a concatenation slice): channels 3 at offset 2 of 8', async () => {
  const ctx = await gpu();
  const shape = [2, 5, 3, 3];
  const n = product(shape);
  const x = randomFloats(n, 77, -5, 5);
  const ref = activationRef('tanh', x, ACTIVATIONS.none);
  const out = output(ctx, 2 * 15 * 8, 0);
  const bx = storage(ctx, x);
  const view = { base: 2, batchStride: 15 * 8, pixelStride: 8 };
  const pipe = await activationPipeline(ctx, 'tanh');
  const b = { input: { buffer: bx }, output: { buffer: out } };
  await run(ctx, [activationDispatch(ctx, pipe, 'tanh', shape, ACTIVATIONS.none, b, { view })]);
  const got = await readF32(ctx, out, 2 * 15 * 8);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const pix = Math.floor(i / 3);
    const at = 2 + Math.floor(pix / 15) * 120 + (pix % 15) * 8 + c;
    assert.ok(Math.abs(got[at]! - ref[i]!) <= 2e-7 + 2e-6 * Math.abs(ref[i]!), `element ${i}`);
  }
  assert.equal(got[0], 0, 'nothing written outside the slice');
  for (const buf of [bx, out]) buf.destroy();
});

/** CONV_2D 6x13 VALID (16x16x3 -> 11x4x3), RELU, TANH, HARD_SWISH, RELU_N1_TO_1. */
function activationTflite(filter: Float32Array, bias: Float32Array): Uint8Array {
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(0)] };
  return ssdTflite({
    builtins: ['CONV_2D', 'RELU', 'TANH', 'HARD_SWISH', 'RELU_N1_TO_1'],
    tensors: [
      IMAGE,
      { shape: [3, 6, 13, 3], name: 'filter', buffer: 1 },
      { shape: [3], name: 'bias', buffer: 2 },
      { shape: [1, 11, 4, 3], name: 'conv' },
      { shape: [1, 11, 4, 3], name: 'relu' },
      { shape: [1, 11, 4, 3], name: 'tanh' },
      { shape: [1, 11, 4, 3], name: 'hard_swish' },
      { shape: [1, 11, 4, 3], name: 'relu_n1_to_1' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1, 2], outputs: [3], options: conv },
      { opcode: 1, inputs: [3], outputs: [4] },
      { opcode: 2, inputs: [4], outputs: [5] },
      { opcode: 3, inputs: [5], outputs: [6] },
      { opcode: 4, inputs: [6], outputs: [7] },
    ],
    buffers: [f32Bytes(filter), f32Bytes(bias)],
  });
}

test('TFLite RELU, TANH, HARD_SWISH, RELU_N1_TO_1 convert; the clamps fuse; GPU, CPU reference and ONNX Runtime agree', async () => {
  const filter = randomFloats(3 * 6 * 13 * 3, 3, -0.3, 0.3);
  const bias = Float32Array.of(0.5, -0.2, 0.1);
  const r = await runConverted(activationTflite(filter, bias), { atol: 2e-6, rtol: 2e-6 });
  const fns = r.model.json.nodes.filter((n): n is ActivationNode => n.op === 'activation');
  assert.deepEqual(
    fns.map((n) => [n.fn, n.activation.min, n.activation.max]),
    [
      ['identity', 0, ACTIVATIONS.none.max],
      ['tanh', ACTIVATIONS.none.min, ACTIVATIONS.none.max],
      ['hard_swish', ACTIVATIONS.none.min, ACTIVATIONS.none.max],
      ['identity', -1, 1],
    ],
  );
  // RELU folds into the convolution's clamp and RELU_N1_TO_1 into hard_swish's: three kernels, not five.
  assert.deepEqual(r.steps.filter((k) => k === 'activation').length, 2);
  assert.equal(r.steps.length, 3);
  // Independent of the reference: output 0 from the filter and the image by hand.
  let acc = bias[0]!;
  for (let y = 0; y < 6; y++)
    for (let x = 0; x < 13; x++)
      for (let c = 0; c < 3; c++) acc += r.input[(y * 16 + x) * 3 + c]! * filter[(y * 13 + x) * 3 + c]!;
  const t = Math.tanh(Math.max(acc, 0));
  const expected = Math.min(Math.max((t * Math.min(Math.max(t + 3, 0), 6)) / 6, -1), 1);
  assert.ok(Math.abs(r.ref[0]! - expected) < 1e-5, `${r.ref[0]} vs ${expected}`);
});
