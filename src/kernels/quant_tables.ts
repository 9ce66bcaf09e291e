/**
 * Quantized ops whose output depends on one input value run as 256-entry lookup tables, as both
 * runtimes run them: LOGISTIC (TFLite's optimized kernel and XNNPACK's both fill a table in float32
 * at prepare time) and the requantization of a CONCATENATION input (TFLite's ConcatenationWithScaling,
 * float32 per element; a table of its 256 possible results is the same function). Each entry is the
 * exact float32 arithmetic of the runtime, so the tables are the semantics; the GPU only indexes them.
 */
import {
  dtypeRange,
  roundHalfAway,
  roundHalfEven,
  type QuantDType,
  type QuantParams,
  type Requantization,
} from './quantization.ts';

const f32 = Math.fround;
/** expf: the float64 exponential rounded to float32 (correctly rounded but for double-rounding ties). */
const expf = (v: number) => f32(Math.exp(v));

/**
 * Sigmoid of one quantized value. 'tflite': PopulateLookupTable / LUTPopulate (1 / (1 + exp(-x)),
 * scaled by 1/output scale, rounded half away from zero). 'xnnpack': create_lut_elementwise_nc with
 * its sign-split sigmoid, rounded half to even.
 */
export function logisticValue(
  q: number,
  dtype: QuantDType,
  input: QuantParams,
  output: QuantParams,
  requant: Requantization,
): number {
  const r = dtypeRange(dtype);
  const inverseScale = f32(1 / f32(output.scale));
  let v: number;
  if (requant === 'tflite') {
    const x = f32(f32(input.scale) * (q - input.zeroPoint));
    const y = f32(1 / f32(1 + expf(-x)));
    v = roundHalfAway(f32(y * inverseScale)) + output.zeroPoint;
  } else {
    const x = f32((q - input.zeroPoint) * f32(input.scale));
    const y = x < 0 ? f32(1 / f32(1 + expf(-x))) : f32(1 - f32(1 / f32(1 + expf(x))));
    v = roundHalfEven(f32(y * inverseScale)) + output.zeroPoint;
  }
  return Math.min(Math.max(v, r.min), r.max);
}

/**
 * One input of a quantized CONCATENATION brought to the output's quantization: a copy when the two
 * match, else TFLite's ConcatenationWithScaling (float32 scale and bias, round half away from zero).
 */
export function concatRequantValue(q: number, dtype: QuantDType, input: QuantParams, output: QuantParams): number {
  if (f32(input.scale) === f32(output.scale) && input.zeroPoint === output.zeroPoint) return q;
  const r = dtypeRange(dtype);
  const scale = f32(f32(input.scale) * f32(1 / f32(output.scale)));
  const bias = f32(-input.zeroPoint * scale);
  const v = roundHalfAway(f32(f32(q * scale) + bias)) + output.zeroPoint;
  return Math.min(Math.max(v, r.min), r.max);
}

/** A table indexed by the stored byte (q & 0xff) holding the output byte, for the GPU. */
export function byteTable(dtype: QuantDType, fn: (q: number) => number): Uint32Array {
  const t = new Uint32Array(256);
  const { min } = dtypeRange(dtype);
  for (let q = min; q < min + 256; q++) t[q & 0xff] = fn(q) & 0xff;
  return t;
}

export function logisticTable(
  dtype: QuantDType,
  input: QuantParams,
  output: QuantParams,
  requant: Requantization,
): Uint32Array {
  return byteTable(dtype, (q) => logisticValue(q, dtype, input, output, requant));
}

export function concatRequantTable(dtype: QuantDType, input: QuantParams, output: QuantParams): Uint32Array {
  return byteTable(dtype, (q) => concatRequantValue(q, dtype, input, output));
}

/**
 * A float32 table of what each stored byte means to a consumer of real values: `fn(q)` (by default
 * q itself) dequantized as TFLite's post-process op does, float(q - zeroPoint) * scale in float32.
 */
export function dequantizeTable(
  dtype: QuantDType,
  out: QuantParams,
  fn: (q: number) => number = (q) => q,
): Float32Array {
  const t = new Float32Array(256);
  const { min } = dtypeRange(dtype);
  for (let q = min; q < min + 256; q++) t[q & 0xff] = f32(f32(fn(q) - out.zeroPoint) * f32(out.scale));
  return t;
}
