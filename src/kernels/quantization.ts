/**
 * Integer arithmetic of quantized (uint8 / int8) kernels, on the CPU: TensorFlow Lite's fixed-point
 * requantization and XNNPACK's fp32 one, fused-activation ranges, and the per-channel parameters the
 * GPU kernels and the CPU references share. Two runtimes requantize differently, and which one a
 * model's reference outputs came from decides bit-exactness (docs/integer.md):
 *
 * - 'tflite': TFLite's builtin kernels (reference and optimized/gemmlowp alike). The real multiplier
 *   becomes a 31-bit fixed-point multiplier and a power-of-two shift; acc * multiplier is a 64-bit
 *   product rounded twice: SaturatingRoundingDoublingHighMul to 31 fractional bits (ties up), then
 *   RoundingDivideByPOT by the shift (ties away from zero). Values within 2^-9 or so of a tie can
 *   round differently from a single correct rounding.
 * - 'xnnpack': the XNNPACK delegate's QU8/QS8 operators. The multiplier stays an fp32 scale:
 *   float(acc) * scale rounded to nearest even (lrintf), clamped, plus the zero point.
 *
 * Everything here follows the arithmetic of those runtimes operation by operation, including which
 * products are computed in float32 and which in float64.
 */

import type { FusedActivation, QuantDType, Requantization } from '../core/quant.ts';

export type { FusedActivation, QuantDType, Requantization };
export const REQUANTIZATIONS: readonly Requantization[] = ['tflite', 'xnnpack'];

/** Per-tensor affine quantization: real = scale * (q - zeroPoint). */
export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** A quantized tensor's values: Uint8Array for uint8, Int8Array for int8. */
export type QuantArray = Uint8Array | Int8Array;

export function dtypeRange(dtype: QuantDType): { min: number; max: number } {
  return dtype === 'uint8' ? { min: 0, max: 255 } : { min: -128, max: 127 };
}

export function quantArray(dtype: QuantDType, n: number): QuantArray {
  return dtype === 'uint8' ? new Uint8Array(n) : new Int8Array(n);
}

const f32 = Math.fround;
const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

/** Rounds half to even (lrintf, WGSL round()). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Rounds half away from zero (std::round, TfLiteRound). */
export function roundHalfAway(v: number): number {
  return v < 0 ? -Math.round(-v) : Math.round(v);
}

/**
 * TFLite's QuantizeMultiplier: real = multiplier * 2^(shift - 31) with multiplier in [2^30, 2^31),
 * from frexp and a round half away from zero of the 31-bit fraction (computed in float64).
 */
export function quantizeMultiplier(real: number): { multiplier: number; shift: number } {
  if (!(real >= 0) || !Number.isFinite(real))
    throw new RangeError(`requantization multiplier ${real} must be finite and >= 0`);
  if (real === 0) return { multiplier: 0, shift: 0 };
  // frexp: real = fraction * 2^shift with fraction in [0.5, 1); log2 may be off by one near powers of two.
  let shift = Math.floor(Math.log2(real)) + 1;
  if (real / 2 ** shift >= 1) shift++;
  else if (real / 2 ** shift < 0.5) shift--;
  let multiplier = Math.round((real / 2 ** shift) * 2 ** 31);
  if (multiplier === 2 ** 31) {
    multiplier /= 2;
    shift++;
  }
  if (shift < -31) return { multiplier: 0, shift: 0 };
  if (shift > 30) return { multiplier: INT32_MAX, shift: 30 };
  return { multiplier, shift };
}

/** gemmlowp's SaturatingRoundingDoublingHighMul: a * b / 2^31 to the nearest integer (ties up), in 64 bits. */
export function saturatingRoundingDoublingHighMul(a: number, b: number): number {
  if (a === INT32_MIN && b === INT32_MIN) return INT32_MAX;
  const ab = BigInt(a) * BigInt(b);
  const nudge = ab >= 0n ? 1n << 30n : 1n - (1n << 30n);
  // BigInt division truncates toward zero, as C++ int64 division does.
  return Number((ab + nudge) / (1n << 31n));
}

/** gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero. */
export function roundingDivideByPOT(x: number, exponent: number): number {
  const mask = 2 ** exponent - 1;
  const remainder = x & mask;
  const threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/** TFLite's MultiplyByQuantizedMultiplier (the double-rounding form): x * multiplier * 2^(shift-31). */
export function multiplyByQuantizedMultiplier(x: number, multiplier: number, shift: number): number {
  const left = shift > 0 ? shift : 0;
  const right = shift > 0 ? 0 : -shift;
  return roundingDivideByPOT(saturatingRoundingDoublingHighMul(Math.imul(x, 2 ** left), multiplier), right);
}

/** XNNPACK's fp32 requantization before the zero point: lrintf(float(acc) * scale). */
export function fp32Requantize(acc: number, scale: number): number {
  return roundHalfEven(f32(f32(acc) * scale));
}

/**
 * How each output channel of a convolution turns its int32 accumulator into an output value. The
 * arrays have one entry per output channel (a per-tensor filter scale is repeated).
 */
export interface ConvRequant {
  requant: Requantization;
  /** Fixed-point multipliers and shifts (used with 'tflite'). */
  multiplier: Int32Array;
  shift: Int32Array;
  /** fp32 scales (used with 'xnnpack'). */
  scale: Float32Array;
  outputZeroPoint: number;
  /** Output clamp in the quantized domain: the fused activation intersected with the dtype's range. */
  min: number;
  max: number;
}

/**
 * TFLite's CalculateActivationRangeQuantized ('tflite': zero point + round-half-away of f / scale,
 * in float32) or XNNPACK's xnn_qu8/qs8_quantize ('xnnpack': lrintf of f / scale + zero point).
 */
export function activationRange(
  act: FusedActivation,
  out: QuantParams,
  dtype: QuantDType,
  requant: Requantization,
): { min: number; max: number } {
  const r = dtypeRange(dtype);
  const bounds: Record<FusedActivation, [number, number]> = {
    NONE: [-Infinity, Infinity],
    RELU: [0, Infinity],
    RELU6: [0, 6],
    RELU_N1_TO_1: [-1, 1],
  };
  const [lo, hi] = bounds[act];
  const scale = f32(out.scale);
  const quantize = (v: number): number => {
    if (requant === 'tflite') return out.zeroPoint + roundHalfAway(f32(v / scale));
    return roundHalfEven(Math.min(Math.max(f32(f32(v / scale) + out.zeroPoint), r.min), r.max));
  };
  return {
    min: Number.isFinite(lo) ? Math.max(r.min, quantize(lo)) : r.min,
    max: Number.isFinite(hi) ? Math.min(r.max, quantize(hi)) : r.max,
  };
}

export interface ConvQuantSpec {
  dtype: QuantDType;
  input: QuantParams;
  /** One scale per output channel, or a single per-tensor scale. */
  filterScales: readonly number[];
  output: QuantParams;
  activation: FusedActivation;
  requant: Requantization;
  outC: number;
}

/**
 * The per-channel requantization of a convolution, as each runtime derives it from the tensors'
 * float32 scales. TFLite: uint8 per-tensor multiplies input * filter scale in float32 then divides in
 * float64 (GetQuantizedConvolutionMultipler); int8 per-channel computes all of it in float64.
 * XNNPACK: input * filter / output, all in float32.
 */
export function convRequant(s: ConvQuantSpec): ConvRequant {
  if (s.filterScales.length !== 1 && s.filterScales.length !== s.outC) {
    throw new RangeError(`filter has ${s.filterScales.length} scales for ${s.outC} output channels`);
  }
  const multiplier = new Int32Array(s.outC),
    shift = new Int32Array(s.outC),
    scale = new Float32Array(s.outC);
  const inS = f32(s.input.scale),
    outS = f32(s.output.scale);
  for (let c = 0; c < s.outC; c++) {
    const wS = f32(s.filterScales[s.filterScales.length === 1 ? 0 : c]!);
    const real = s.dtype === 'uint8' && s.filterScales.length === 1 ? f32(inS * wS) / outS : (inS * wS) / outS;
    const q = quantizeMultiplier(real);
    multiplier[c] = q.multiplier;
    shift[c] = q.shift;
    scale[c] = f32(f32(inS * wS) / outS);
  }
  return {
    requant: s.requant,
    multiplier,
    shift,
    scale,
    outputZeroPoint: s.output.zeroPoint,
    ...activationRange(s.activation, s.output, s.dtype, s.requant),
  };
}

/** Requantizes an int32 accumulator of output channel `c` to the clamped output value. */
export function requantize(acc: number, c: number, q: ConvRequant): number {
  const v =
    q.requant === 'tflite'
      ? multiplyByQuantizedMultiplier(acc | 0, q.multiplier[c]!, q.shift[c]!)
      : fp32Requantize(acc | 0, q.scale[c]!);
  return Math.min(Math.max(v + q.outputZeroPoint, q.min), q.max);
}

/** Packs quantized values four to a little-endian u32 word (the GPU layout), zero-padded to whole words. */
export function packQuantized(values: QuantArray, minWords = 0): Uint32Array {
  const words = new Uint32Array(Math.max(Math.ceil(values.length / 4), minWords));
  new Uint8Array(words.buffer).set(new Uint8Array(values.buffer, values.byteOffset, values.length));
  return words;
}

/** The inverse of packQuantized: the first `n` values of packed words. */
export function unpackQuantized(dtype: QuantDType, words: Uint32Array, n: number): QuantArray {
  const bytes = new Uint8Array(words.buffer, words.byteOffset, n).slice();
  return dtype === 'uint8' ? bytes : new Int8Array(bytes.buffer);
}

/** Parameters of a quantized element-wise ADD, as each runtime derives them. */
export interface AddRequant {
  requant: Requantization;
  a: QuantParams;
  b: QuantParams;
  outputZeroPoint: number;
  /** 'tflite': inputs shifted left by 20, scaled by these fixed-point multipliers, summed, rescaled. */
  leftShift: number;
  aMultiplier: number;
  aShift: number;
  bMultiplier: number;
  bShift: number;
  outMultiplier: number;
  outShift: number;
  /** 'xnnpack': (bias + a * aMul + b * bMul) >> shift, with the rounding term folded into bias. */
  xBias: number;
  xAMul: number;
  xBMul: number;
  xShift: number;
  min: number;
  max: number;
}

export function addRequant(
  dtype: QuantDType,
  a: QuantParams,
  b: QuantParams,
  out: QuantParams,
  activation: FusedActivation,
  requant: Requantization,
): AddRequant {
  const aS = f32(a.scale),
    bS = f32(b.scale),
    oS = f32(out.scale);
  // TFLite add.cc: twice the larger input scale (float32), the ratios in float64.
  const leftShift = 20;
  const twiceMax = 2 * Math.max(aS, bS);
  const qa = quantizeMultiplier(aS / twiceMax),
    qb = quantizeMultiplier(bS / twiceMax);
  const qo = quantizeMultiplier(twiceMax / f32(2 ** leftShift * oS));
  // XNNPACK xnn_init_q*8_add_minmax_params: float32 ratios to the output scale, 21-bit multipliers.
  const aRatio = f32(aS / oS),
    bRatio = f32(bS / oS);
  const xShift = 20 - binaryExponent(Math.max(aRatio, bRatio));
  if (xShift < 12 || xShift > 30)
    throw new RangeError(`XNNPACK add supports input/output scale ratios in [2^-10, 2^8), got ${aRatio} and ${bRatio}`);
  const xAMul = roundHalfEven(aRatio * 2 ** xShift),
    xBMul = roundHalfEven(bRatio * 2 ** xShift);
  const xBias = 2 ** (xShift - 1) - (xAMul * a.zeroPoint + xBMul * b.zeroPoint);
  return {
    requant,
    a,
    b,
    outputZeroPoint: out.zeroPoint,
    leftShift,
    aMultiplier: qa.multiplier,
    aShift: qa.shift,
    bMultiplier: qb.multiplier,
    bShift: qb.shift,
    outMultiplier: qo.multiplier,
    outShift: qo.shift,
    xBias,
    xAMul,
    xBMul,
    xShift,
    ...activationRange(activation, out, dtype, requant),
  };
}

/** The unbiased exponent field of a (normal) float32, as XNNPACK reads it from the bits. */
function binaryExponent(v: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, v, true);
  return (view.getUint32(0, true) >>> 23) - 127;
}
