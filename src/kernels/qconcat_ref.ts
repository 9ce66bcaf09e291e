/**
 * CPU reference for the quantized CONCATENATION (any axis): each input's elements, requantized to
 * the output's quantization where it differs, laid out as TFLite's concatenation does.
 */
import { concatRequantValue } from './quant_tables.ts';
import { quantArray, type QuantArray, type QuantDType, type QuantParams } from './quantization.ts';

export interface QConcatInput {
  data: QuantArray;
  shape: readonly number[];
  quant: QuantParams;
}

export function qconcatRef(
  dtype: QuantDType,
  inputs: readonly QConcatInput[],
  axis: number,
  output: QuantParams,
): QuantArray {
  const shape = inputs[0]!.shape;
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const total = inputs.reduce((n, t) => n + t.data.length, 0);
  const y = quantArray(dtype, total);
  let o = 0;
  for (let k = 0; k < outer; k++)
    for (const t of inputs) {
      const chunk = t.shape[axis]! * inner;
      for (let j = 0; j < chunk; j++) y[o++] = concatRequantValue(t.data[k * chunk + j]!, dtype, t.quant, output);
    }
  return y;
}
