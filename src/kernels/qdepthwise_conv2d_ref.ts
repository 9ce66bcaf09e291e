/**
 * Plain-integer CPU reference for the quantized depthwise convolution (multiplier 1), filter
 * [1, KH, KW, C] as TFLite stores it; the arithmetic of TFLite's reference integer depthwise conv.
 */
import type { ConvGeometry } from '../core/geometry.ts';
import type { QConvOperands } from './qconv2d_ref.ts';
import { quantArray, requantize, type ConvRequant, type QuantArray } from './quantization.ts';

export function qdepthwiseConv2dRef(
  g: ConvGeometry,
  o: QConvOperands,
  x: QuantArray,
  filterHWC: QuantArray,
  bias: Int32Array,
  q: ConvRequant,
): QuantArray {
  const y = quantArray(o.dtype, g.batch * g.outH * g.outW * g.outC);
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let c = 0; c < g.outC; c++) {
          let acc = 0;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW + kx - g.padLeft;
              if (ix < 0 || ix >= g.inW) continue;
              const xv = x[((b * g.inH + iy) * g.inW + ix) * g.inC + c]!;
              acc += (xv - o.inputZeroPoint) * (filterHWC[(ky * g.kW + kx) * g.outC + c]! - o.filterZeroPoint);
            }
          }
          y[((b * g.outH + oy) * g.outW + ox) * g.outC + c] = requantize(acc + bias[c]!, c, q);
        }
  return y;
}
