/**
 * Convolution forms the TFLite converter maps onto the existing kernels: a dilated filter becomes the
 * filter with zero taps between its own, a depth multiplier > 1 a standard convolution whose filter is
 * zero off the block diagonal. Checked against convolutions written here by TensorFlow's definitions
 * (dilated SAME padding from the effective filter size), on the GPU, the CPU reference and ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { blockDiagonal, dilate } from '../src/ops/support/conv.ts';
import { randomFloats } from './support/gpu.ts';
import { f32Bytes, IMAGE, runConverted, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

test('dilate puts d-1 zero taps between taps; blockDiagonal feeds output k from input k/M', () => {
  assert.deepEqual([...dilate(Float32Array.of(1, 2, 3, 4), 2, 2, 1, 2, 3)], [1, 0, 0, 2, 0, 0, 0, 0, 3, 0, 0, 4]);
  // One tap, 2 channels, multiplier 2: outputs 0, 1 read input 0; outputs 2, 3 input 1.
  assert.deepEqual([...blockDiagonal(Float32Array.of(1, 2, 3, 4), 1, 2, 2)], [1, 2, 0, 0, 0, 0, 3, 4]);
});

const DW = randomFloats(3 * 3 * 6, 21, -0.5, 0.5); // [1, 3, 3, 6]: 3 channels x multiplier 2
const DW_BIAS = randomFloats(6, 22, -0.2, 0.2);
const CONV = randomFloats(3 * 2 * 4 * 6, 23, -0.3, 0.3); // [3, 2, 4, 6] OHWI
const CONV_BIAS = Float32Array.of(0.1, -0.1, 0.05);

/**
 * DEPTHWISE_CONV_2D 3x3, multiplier 2, dilation 2, SAME (16x16x3 -> 16x16x6), then CONV_2D 2x4 with
 * dilation 5x4, VALID (effective 6x13: -> 11x4x3), ReLU6.
 */
function formsTflite(): Uint8Array {
  const dw = { type: 2, fields: [fb.i8(0), fb.i32(1), fb.i32(1), fb.i32(2), fb.i8(0), fb.i32(2), fb.i32(2)] };
  const conv = { type: 1, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i8(3), fb.i32(4), fb.i32(5)] };
  return ssdTflite({
    builtins: ['DEPTHWISE_CONV_2D', 'CONV_2D'],
    tensors: [
      IMAGE,
      { shape: [1, 3, 3, 6], name: 'dw_filter', buffer: 1 },
      { shape: [6], name: 'dw_bias', buffer: 2 },
      { shape: [1, 16, 16, 6], name: 'dw' },
      { shape: [3, 2, 4, 6], name: 'conv_filter', buffer: 3 },
      { shape: [3], name: 'conv_bias', buffer: 4 },
      { shape: [1, 11, 4, 3], name: 'conv' },
    ],
    operators: [
      { opcode: 0, inputs: [0, 1, 2], outputs: [3], options: dw },
      { opcode: 1, inputs: [3, 4, 5], outputs: [6], options: conv },
    ],
    buffers: [f32Bytes(DW), f32Bytes(DW_BIAS), f32Bytes(CONV), f32Bytes(CONV_BIAS)],
  });
}

/** TensorFlow's definitions, written out: depthwise with multiplier 2 and dilation 2 (SAME), dilated conv. */
function byDefinition(x: Float32Array): Float32Array {
  const dw = new Float32Array(16 * 16 * 6);
  // SAME with an effective 5x5 filter: 4 padding rows and columns, 2 before.
  for (let y = 0; y < 16; y++)
    for (let xx = 0; xx < 16; xx++)
      for (let k = 0; k < 6; k++) {
        let acc = DW_BIAS[k]!;
        for (let ky = 0; ky < 3; ky++)
          for (let kx = 0; kx < 3; kx++) {
            const [iy, ix] = [y - 2 + 2 * ky, xx - 2 + 2 * kx];
            if (iy >= 0 && iy < 16 && ix >= 0 && ix < 16)
              acc += x[(iy * 16 + ix) * 3 + Math.floor(k / 2)]! * DW[(ky * 3 + kx) * 6 + k]!;
          }
        dw[(y * 16 + xx) * 6 + k] = acc;
      }
  const out = new Float32Array(11 * 4 * 3);
  for (let y = 0; y < 11; y++)
    for (let xx = 0; xx < 4; xx++)
      for (let o = 0; o < 3; o++) {
        let acc = CONV_BIAS[o]!;
        for (let ky = 0; ky < 2; ky++)
          for (let kx = 0; kx < 4; kx++)
            for (let c = 0; c < 6; c++)
              acc += dw[((y + 5 * ky) * 16 + xx + 4 * kx) * 6 + c]! * CONV[((o * 2 + ky) * 4 + kx) * 6 + c]!;
        out[(y * 4 + xx) * 3 + o] = Math.min(Math.max(acc, 0), 6);
      }
  return out;
}

test('TFLite dilated and depth-multiplier convolutions convert and match their definitions', async () => {
  const r = await runConverted(formsTflite(), { atol: 2e-5, rtol: 2e-5, lo: -2, hi: 2 });
  // The multiplier made a standard convolution, the dilation zero taps: 5x5 and 6x13 filters.
  assert.deepEqual(
    r.model.json.nodes.filter((n) => n.op === 'conv2d').map((n) => r.model.json.constants[n.filter]!.shape),
    [
      [5, 5, 3, 6],
      [6, 13, 6, 3],
    ],
  );
  const expected = byDefinition(r.input);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(r.ref[i]! - expected[i]!));
  assert.ok(worst < 2e-5, `worst difference from the definition ${worst}`);
  assert.ok(
    expected.some((v) => v > 0 && v < 6),
    'some outputs inside the ReLU6 range',
  );
});
