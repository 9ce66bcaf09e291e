/** Plain-loop CPU reference of the depthwise convolution gradients (multiplier 1, filter [KH, KW, C]), float64. */
import type { ConvGeometry } from '../core/geometry.ts';
import { biasGradRef, forEachTap, type ConvGrads } from './conv2d_backward_ref.ts';

export function depthwiseBackwardRef(
  g: ConvGeometry,
  x: ArrayLike<number>,
  filter: ArrayLike<number>,
  dy: ArrayLike<number>,
): ConvGrads {
  const C = g.inC;
  const dx = new Float64Array(g.batch * g.inH * g.inW * C);
  const dw = new Float64Array(g.kH * g.kW * C);
  forEachTap(g, (b, oy, ox, ky, kx, iy, ix) => {
    const xi = ((b * g.inH + iy) * g.inW + ix) * C;
    const yi = ((b * g.outH + oy) * g.outW + ox) * C;
    const wi = (ky * g.kW + kx) * C;
    for (let c = 0; c < C; c++) {
      dx[xi + c]! += dy[yi + c]! * filter[wi + c]!;
      dw[wi + c]! += dy[yi + c]! * x[xi + c]!;
    }
  });
  return { dx, dw, db: biasGradRef(dy, C) };
}
