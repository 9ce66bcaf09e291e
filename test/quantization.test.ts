/**
 * The requantization arithmetic: TFLite's fixed-point helpers against values worked out by hand,
 * the two runtimes' differences, and the GPU's emulation of both (64-bit products from 32-bit
 * halves, exact int -> float) over the whole int32 accumulator range, through a 1x1 quantized conv
 * whose accumulator is the bias.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { convGeometry } from '../src/core/geometry.ts';
import { channelData, packedBias } from '../src/kernels/qcommon.ts';
import { qconv2dDispatch, qconv2dPipeline } from '../src/kernels/qconv2d.ts';
import { qconv2dRef } from '../src/kernels/qconv2d_ref.ts';
import {
  activationRange,
  fp32Requantize,
  multiplyByQuantizedMultiplier,
  quantizeMultiplier,
  REQUANTIZATIONS,
  roundingDivideByPOT,
  saturatingRoundingDoublingHighMul,
  type ConvRequant,
} from '../src/kernels/quantization.ts';
import { gpu, randomFloats, releaseGpu, run } from './support/gpu.ts';
import { assertSameQuant, DTYPES, int32Storage, quantOutput, quantStorage, readQuant } from './support/quant.ts';

after(releaseGpu);

test('quantizeMultiplier: 31-bit fraction in [2^30, 2^31) and exponent, as TFLite QuantizeMultiplier', () => {
  assert.deepEqual(quantizeMultiplier(0.5), { multiplier: 2 ** 30, shift: 0 });
  assert.deepEqual(quantizeMultiplier(1), { multiplier: 2 ** 30, shift: 1 });
  assert.deepEqual(quantizeMultiplier(0.75), { multiplier: 3 * 2 ** 29, shift: 0 });
  assert.deepEqual(quantizeMultiplier(0), { multiplier: 0, shift: 0 });
  // A fraction that rounds up to 2^31 moves to the next exponent.
  assert.deepEqual(quantizeMultiplier(1 - 2 ** -40), { multiplier: 2 ** 30, shift: 1 });
  for (const real of [1e-7, 0.0035849311, 0.3, 3.7, 100]) {
    const { multiplier, shift } = quantizeMultiplier(real);
    assert.ok(multiplier >= 2 ** 30 && multiplier < 2 ** 31, `${real}: ${multiplier}`);
    assert.ok(
      Math.abs(multiplier * 2 ** (shift - 31) - real) <= real * 2 ** -31,
      `${real}: ${multiplier} * 2^${shift - 31}`,
    );
  }
});

test('SaturatingRoundingDoublingHighMul rounds ties up, RoundingDivideByPOT away from zero; int32 min squared saturates', () => {
  assert.equal(saturatingRoundingDoublingHighMul(-2147483648, -2147483648), 2147483647);
  assert.equal(saturatingRoundingDoublingHighMul(2 ** 30, 2 ** 30), 2 ** 29);
  assert.equal(saturatingRoundingDoublingHighMul(3, 2 ** 30), 2); // 1.5 -> 2
  // gemmlowp's nudge for negative products is 1 - 2^30 and the division truncates: ties go up.
  assert.equal(saturatingRoundingDoublingHighMul(-3, 2 ** 30), -1); // -1.5 -> -1
  assert.equal(saturatingRoundingDoublingHighMul(1, 2 ** 30), 1); // 0.5 -> 1
  assert.equal(saturatingRoundingDoublingHighMul(-1, 2 ** 30), 0); // -0.5 -> 0
  assert.equal(saturatingRoundingDoublingHighMul(-7, 2 ** 29), -2); // -1.75 -> -2
  assert.equal(roundingDivideByPOT(5, 1), 3);
  assert.equal(roundingDivideByPOT(-5, 1), -3);
  assert.equal(roundingDivideByPOT(7, 2), 2);
  assert.equal(roundingDivideByPOT(-6, 2), -2);
  assert.equal(roundingDivideByPOT(2147483647, 31), 1);
});

test('fixed-point (TFLite) and fp32 (XNNPACK) requantization differ where TFLite rounds twice', () => {
  // COCO's first conv: multiplier 1970836772, shift -8 (real 0.0035849312). acc 16597 is 59.4991:
  // TFLite first rounds acc * m to 1/256 (59.5), then half away from zero: 60. XNNPACK: 59.
  assert.equal(multiplyByQuantizedMultiplier(16597, 1970836772, -8), 60);
  assert.equal(fp32Requantize(16597, Math.fround(0.0035849311)), 59);
  // Ties: fp32 rounds half to even; TFLite's high multiply rounds them up, its shift away from zero.
  assert.equal(fp32Requantize(5, 0.5), 2);
  assert.equal(fp32Requantize(-5, 0.5), -2);
  assert.equal(multiplyByQuantizedMultiplier(5, 2 ** 30, 0), 3);
  assert.equal(multiplyByQuantizedMultiplier(-5, 2 ** 30, 0), -2);
  assert.equal(multiplyByQuantizedMultiplier(-5, 2 ** 30, -1), -1); // -2.5 / 2 via -5 * 2^30 / 2^31 = -2.5 -> -2, then -1
  assert.equal(multiplyByQuantizedMultiplier(-3, 2 ** 30, -1), -1); // -1.5 -> -1, then -0.5 -> -1
});

test('activation ranges: ReLU6 clamps to round(6 / scale) above the zero point; NONE to the type', () => {
  assert.deepEqual(activationRange('RELU6', { scale: 6 / 255, zeroPoint: 0 }, 'uint8', 'tflite'), { min: 0, max: 255 });
  assert.deepEqual(activationRange('RELU6', { scale: 0.0693, zeroPoint: 119 }, 'uint8', 'xnnpack'), {
    min: 119,
    max: 206,
  });
  assert.deepEqual(activationRange('RELU', { scale: 0.1, zeroPoint: -20 }, 'int8', 'tflite'), { min: -20, max: 127 });
  assert.deepEqual(activationRange('NONE', { scale: 0.1, zeroPoint: 3 }, 'int8', 'xnnpack'), { min: -128, max: 127 });
  // 6 / scale = 2.5 exactly: TFLite rounds away from zero, XNNPACK to even.
  assert.equal(activationRange('RELU6', { scale: 2.4, zeroPoint: 10 }, 'uint8', 'tflite').max, 13);
  assert.equal(activationRange('RELU6', { scale: 2.4, zeroPoint: 10 }, 'uint8', 'xnnpack').max, 12);
});

for (const dtype of DTYPES)
  for (const requant of REQUANTIZATIONS)
    test(`GPU requantization (${dtype}, ${requant}) equals the CPU's over the int32 range, all shifts, ties and saturation`, async () => {
      const ctx = await gpu();
      const n = 4096;
      const lo = dtype === 'uint8' ? 0 : -128;
      const zp = lo + 100;
      const r = randomFloats(4 * n, 11, 0, 1);
      const bias = new Int32Array(n),
        multiplier = new Int32Array(n),
        shift = new Int32Array(n),
        scale = new Float32Array(n);
      for (let c = 0; c < n; c++) {
        // A target output in [-140, 140] (some saturate), a multiplier 2^-38 .. 2^6, and the
        // accumulator that lands there: the accumulators span the int32 range.
        shift[c] = Math.floor(r[4 * c]! * 38) - 31;
        multiplier[c] = 2 ** 30 + Math.floor(r[4 * c + 1]! * (2 ** 30 - 1));
        const real = multiplier[c]! * 2 ** (shift[c]! - 31);
        scale[c] = Math.fround(real);
        const target = (r[4 * c + 2]! - 0.5) * 280 + (c % 7 === 0 ? 0.5 : 0);
        bias[c] = Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(target / real))) - 1;
      }
      bias.set([-(2 ** 31) + 1, 2 ** 31 - 2, -1, 0], 0);
      // Exact ties at both rounding steps: real multipliers 1/2, 1/4, 1/8 on odd accumulators.
      for (let c = 4; c < 40; c++) {
        multiplier[c] = 2 ** 30;
        shift[c] = -(c % 3);
        scale[c] = 2 ** (shift[c]! - 1);
        bias[c] = (c % 2 ? 1 : -1) * (2 * c + 1) - 1;
      }
      const q: ConvRequant = { requant, multiplier, shift, scale, outputZeroPoint: zp, min: lo, max: lo + 255 };
      // acc = (x - zx)(w - zw) + bias = 1 + bias for every channel.
      const g = convGeometry({
        batch: 1,
        inH: 1,
        inW: 1,
        inC: 1,
        outC: n,
        kH: 1,
        kW: 1,
        strideH: 1,
        strideW: 1,
        padding: 'VALID',
      });
      const x = dtype === 'uint8' ? Uint8Array.of(zp + 1) : Int8Array.of(zp + 1);
      const w = dtype === 'uint8' ? new Uint8Array(n).fill(zp + 1) : new Int8Array(n).fill(zp + 1);
      const operands = { dtype, inputZeroPoint: zp, filterZeroPoint: zp };
      const ref = qconv2dRef(g, operands, x, w, bias, q);
      const buffers = [
        quantStorage(ctx, x),
        quantStorage(ctx, w),
        int32Storage(ctx, channelData(bias, q, packedBias(bias, w, 1, zp, zp))),
        quantOutput(ctx, n),
      ];
      const [bx, bw, bc, out] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
      const pipe = await qconv2dPipeline(ctx, 'naive', { dtype, requant });
      await run(ctx, [
        qconv2dDispatch(ctx, pipe, 'naive', g, operands, q, {
          input: { buffer: bx },
          filter: { buffer: bw },
          channels: { buffer: bc },
          output: { buffer: out },
        }),
      ]);
      assertSameQuant(await readQuant(ctx, out, dtype, n), ref);
      const inRange = [...ref].filter((v) => v > lo && v < lo + 255).length;
      assert.ok(inRange > n / 2, `only ${inRange} of ${n} outputs are unsaturated`);
      for (const b of buffers) b.destroy();
    });
