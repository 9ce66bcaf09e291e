/**
 * Plain-integer CPU reference for the quantized 1x1 convolution as a GEMM: input [M, K], weights
 * [N, K] (TFLite's OHWI with H = W = 1), int32 accumulation, per-channel requantization.
 */
import type { QConvOperands } from './qconv2d_ref.ts';
import { quantArray, requantize, type ConvRequant, type QuantArray } from './quantization.ts';

export interface QGemmShape {
  /** Rows: pixels of all images (batch * H * W). */
  M: number;
  K: number;
  N: number;
}

export function qpointwiseConv2dRef(
  s: QGemmShape,
  o: QConvOperands,
  x: QuantArray,
  wNK: QuantArray,
  bias: Int32Array,
  q: ConvRequant,
): QuantArray {
  const y = quantArray(o.dtype, s.M * s.N);
  for (let m = 0; m < s.M; m++)
    for (let n = 0; n < s.N; n++) {
      let acc = 0;
      for (let k = 0; k < s.K; k++)
        acc += (x[m * s.K + k]! - o.inputZeroPoint) * (wNK[n * s.K + k]! - o.filterZeroPoint);
      y[m * s.N + n] = requantize(acc + bias[n]!, n, q);
    }
  return y;
}
