/** Plain-loop CPU reference for depthwise conv2d (multiplier 1), filter [KH, KW, C]. */
import { contiguousView, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';

export function depthwiseConv2dRef(
  g: ConvGeometry,
  x: Float32Array,
  filter: Float32Array,
  bias: Float32Array,
  act: Clamp,
  out?: Float32Array,
  view: OutputView = contiguousView(g.outH, g.outW, g.outC),
): Float32Array {
  const y = out ?? new Float32Array(g.batch * g.outH * g.outW * g.outC);
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let c = 0; c < g.outC; c++) {
          let acc = bias[c]!;
          for (let ky = 0; ky < g.kH; ky++) {
            const iy = oy * g.strideH + ky - g.padTop;
            if (iy < 0 || iy >= g.inH) continue;
            for (let kx = 0; kx < g.kW; kx++) {
              const ix = ox * g.strideW + kx - g.padLeft;
              if (ix < 0 || ix >= g.inW) continue;
              acc += x[((b * g.inH + iy) * g.inW + ix) * g.inC + c]! * filter[(ky * g.kW + kx) * g.outC + c]!;
            }
          }
          y[view.base + b * view.batchStride + (oy * g.outW + ox) * view.pixelStride + c] = Math.min(
            Math.max(acc, act.min),
            act.max,
          );
        }
  return y;
}
