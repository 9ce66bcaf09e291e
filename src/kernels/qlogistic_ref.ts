/** CPU reference for the quantized LOGISTIC: the runtime's sigmoid of each value (see quant_tables.ts). */
import { logisticValue } from './quant_tables.ts';
import { quantArray, type QuantArray, type QuantDType, type QuantParams, type Requantization } from './quantization.ts';

export function qlogisticRef(
  dtype: QuantDType,
  x: QuantArray,
  input: QuantParams,
  output: QuantParams,
  requant: Requantization,
): QuantArray {
  const y = quantArray(dtype, x.length);
  for (let i = 0; i < x.length; i++) y[i] = logisticValue(x[i]!, dtype, input, output, requant);
  return y;
}
