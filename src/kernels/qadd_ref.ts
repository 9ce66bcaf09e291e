/**
 * Plain-integer CPU reference for the quantized element-wise ADD of two same-shaped tensors:
 * TFLite's AddElementwise ('tflite') or XNNPACK's vadd microkernel arithmetic ('xnnpack').
 */
import {
  multiplyByQuantizedMultiplier,
  quantArray,
  type AddRequant,
  type QuantArray,
  type QuantDType,
} from './quantization.ts';

export function qaddRef(dtype: QuantDType, a: QuantArray, b: QuantArray, p: AddRequant): QuantArray {
  if (a.length !== b.length) throw new RangeError(`add operands differ in size: ${a.length} and ${b.length}`);
  const y = quantArray(dtype, a.length);
  for (let i = 0; i < a.length; i++) {
    let v: number;
    if (p.requant === 'tflite') {
      const sa = multiplyByQuantizedMultiplier((a[i]! - p.a.zeroPoint) * 2 ** p.leftShift, p.aMultiplier, p.aShift);
      const sb = multiplyByQuantizedMultiplier((b[i]! - p.b.zeroPoint) * 2 ** p.leftShift, p.bMultiplier, p.bShift);
      v = multiplyByQuantizedMultiplier(sa + sb, p.outMultiplier, p.outShift);
    } else {
      v = (p.xBias + a[i]! * p.xAMul + b[i]! * p.xBMul) >> p.xShift;
    }
    y[i] = Math.min(Math.max(v + p.outputZeroPoint, p.min), p.max);
  }
  return y;
}
