/**
 * Quantization as the model format records it and as a load chooses to run it. Neutral: the converter
 * writes these, the model format validates them, the ops lower integer kernels from them, the API
 * takes `precision` as a load option.
 */

/**
 * How a model runs. 'int8': 8-bit tensors and integer kernels, bit-exact with TFLite (needs a model
 * converted from a quantized .tflite); 'f32': float32 everywhere (quantized weights dequantized);
 * 'f16': float16 weights and activations with float32 arithmetic (needs an adapter with shader-f16);
 * 'auto': 'int8' when the model can run it, else 'f16' on a hardware adapter with shader-f16, else 'f32'.
 */
export type Precision = 'auto' | 'f32' | 'f16' | 'int8';
export const PRECISIONS: readonly Precision[] = ['auto', 'f32', 'f16', 'int8'];

/** Which runtime's integer arithmetic (docs/integer.md): TFLite's fixed-point or XNNPACK's fp32 scales. */
export type Requantization = 'tflite' | 'xnnpack';

export type QuantDType = 'uint8' | 'int8';

/** TFLite's fused activation of the op writing a tensor: its quantized bounds follow from it. */
export type FusedActivation = 'NONE' | 'RELU' | 'RELU6' | 'RELU_N1_TO_1';

/** An 8-bit activation tensor: real = scale * (q - zeroPoint). */
export interface TensorQuant {
  dtype: QuantDType;
  scale: number;
  zeroPoint: number;
  /** The fused activation of the operator that computes it (absent: NONE). */
  activation?: FusedActivation;
}

/**
 * A constant stored as integers in the source model and kept in the weights file dequantized:
 * value = scale[c] * (q - zeroPoint[c]), c along the last axis (one entry: per tensor). The integers
 * are recovered exactly at load (integerValues() checks the round trip).
 */
export interface ConstQuant {
  dtype: QuantDType | 'int32';
  scale: number[];
  zeroPoint: number[];
}

export interface ModelQuantization {
  /** Every activation tensor of the graph, input and outputs included. */
  tensors: Record<string, TensorQuant>;
  /** Filters and biases of the quantized operators. */
  constants: Record<string, ConstQuant>;
  /**
   * The class scores after the model's own LOGISTIC (dropped by the converter, as the SSD head scores):
   * what TFLite's post-process op reads and dequantizes.
   */
  scores?: TensorQuant;
}

/** Largest |q - zeroPoint| whose float32 dequantization still names one integer (2^23: one ulp < one step). */
const EXACT_LIMIT = 2 ** 23;

/**
 * The integers a dequantized constant came from, or a string saying why they cannot be recovered
 * exactly: each must dequantize (float64 product rounded to float32, as the converter does) back to
 * the stored value, and lie where float32 still tells neighbouring integers apart.
 */
export function integerValues(values: Float32Array, q: ConstQuant): Int32Array | string {
  const channels = q.scale.length;
  if (channels < 1 || q.zeroPoint.length !== channels)
    return `${channels} scales for ${q.zeroPoint.length} zero points`;
  if (values.length % channels !== 0) return `${values.length} values are not a whole number of ${channels} channels`;
  const [lo, hi] = q.dtype === 'uint8' ? [0, 255] : q.dtype === 'int8' ? [-128, 127] : [-(2 ** 31), 2 ** 31 - 1];
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    const s = q.scale[c]!,
      z = q.zeroPoint[c]!;
    const k = Math.round(values[i]! / s);
    const v = k + z;
    if (!(Math.abs(k) <= EXACT_LIMIT && v >= lo && v <= hi && Math.fround(k * s) === values[i]))
      return `value ${i} (${values[i]}) is not scale * (q - zero point) for a ${q.dtype} q`;
    out[i] = v;
  }
  return out;
}
