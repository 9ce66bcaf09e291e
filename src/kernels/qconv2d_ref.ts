/**
 * Plain-integer CPU reference for the quantized convolution (NHWC, filter OHWI as TFLite stores it),
 * following TFLite's reference integer conv: int32 sum of (x - inputZeroPoint) * (w - filterZeroPoint)
 * over the taps inside the image (padding contributes nothing), plus the int32 bias, requantized per
 * output channel. Used only to check the GPU kernels.
 */
import type { ConvGeometry } from '../core/geometry.ts';
import { quantArray, requantize, type ConvRequant, type QuantArray, type QuantDType } from './quantization.ts';

export interface QConvOperands {
  dtype: QuantDType;
  inputZeroPoint: number;
  /** 0 for symmetric int8 filters. */
  filterZeroPoint: number;
}

export function qconv2dRef(
  g: ConvGeometry,
  o: QConvOperands,
  x: QuantArray,
  filterOHWI: QuantArray,
  bias: Int32Array,
  q: ConvRequant,
): QuantArray {
  const y = quantArray(o.dtype, g.batch * g.outH * g.outW * g.outC);
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let co = 0; co < g.outC; co++) {
          let acc = 0;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW + kx - g.padLeft;
              if (ix < 0 || ix >= g.inW) continue;
              const xi = ((b * g.inH + iy) * g.inW + ix) * g.inC;
              const wi = ((co * g.kH + ky) * g.kW + kx) * g.inC;
              for (let ci = 0; ci < g.inC; ci++)
                acc += (x[xi + ci]! - o.inputZeroPoint) * (filterOHWI[wi + ci]! - o.filterZeroPoint);
            }
          }
          y[((b * g.outH + oy) * g.outW + ox) * g.outC + co] = requantize(acc + bias[co]!, co, q);
        }
  return y;
}
