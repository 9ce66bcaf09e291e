/**
 * Float64 forward convolution (standard HWIO or depthwise HWC), the forward half of the training
 * gradient checks: finite differences of a float32 loss are too noisy to check analytic gradients.
 */
import type { Clamp, ConvGeometry } from '../core/geometry.ts';
import { forEachTap } from './conv2d_backward_ref.ts';

export function convForwardRef64(
  g: ConvGeometry,
  depthwise: boolean,
  x: Float64Array,
  w: ArrayLike<number>,
  bias: ArrayLike<number>,
  act: Clamp,
): Float64Array {
  const y = new Float64Array(g.batch * g.outH * g.outW * g.outC);
  for (let i = 0; i < y.length; i++) y[i] = bias[i % g.outC]!;
  forEachTap(g, (b, oy, ox, ky, kx, iy, ix) => {
    const xi = ((b * g.inH + iy) * g.inW + ix) * g.inC;
    const yi = ((b * g.outH + oy) * g.outW + ox) * g.outC;
    if (depthwise) {
      for (let c = 0; c < g.outC; c++) y[yi + c]! += x[xi + c]! * w[(ky * g.kW + kx) * g.outC + c]!;
      return;
    }
    const wi = (ky * g.kW + kx) * g.inC * g.outC;
    for (let ci = 0; ci < g.inC; ci++) {
      const xv = x[xi + ci]!;
      for (let co = 0; co < g.outC; co++) y[yi + co]! += xv * w[wi + ci * g.outC + co]!;
    }
  });
  return y.map((v) => Math.min(Math.max(v, act.min), act.max));
}
