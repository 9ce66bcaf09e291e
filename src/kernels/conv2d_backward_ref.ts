/**
 * Plain-loop CPU references of the convolution gradients, in float64: they define what the backward
 * kernels must compute, and their own correctness is checked against finite differences of the
 * forward references. `dy` is the gradient of the (pre-activation) output, contiguous NHWC.
 */
import type { ConvGeometry } from '../core/geometry.ts';

export interface ConvGrads {
  /** [B, inH, inW, inC]. */
  dx: Float64Array;
  /** Unpadded: HWIO [KH, KW, Cin, Cout] for conv2d, [KH, KW, C] for depthwise, [K, N] for pointwise. */
  dw: Float64Array;
  db: Float64Array;
}

/** Calls `f(b, oy, ox, ky, kx, iy, ix)` for every window tap that lands inside the input. */
export function forEachTap(
  g: ConvGeometry,
  f: (b: number, oy: number, ox: number, ky: number, kx: number, iy: number, ix: number) => void,
): void {
  for (let b = 0; b < g.batch; b++)
    for (let oy = 0; oy < g.outH; oy++)
      for (let ox = 0; ox < g.outW; ox++)
        for (let ky = 0; ky < g.kH; ky++) {
          const iy = oy * g.strideH + ky - g.padTop;
          if (iy < 0 || iy >= g.inH) continue;
          for (let kx = 0; kx < g.kW; kx++) {
            const ix = ox * g.strideW + kx - g.padLeft;
            if (ix < 0 || ix >= g.inW) continue;
            f(b, oy, ox, ky, kx, iy, ix);
          }
        }
}

/** Bias gradient of any convolution: the sum of dy over every output pixel. */
export function biasGradRef(dy: ArrayLike<number>, channels: number): Float64Array {
  const db = new Float64Array(channels);
  for (let i = 0; i < dy.length; i++) db[i % channels]! += dy[i]!;
  return db;
}

export function conv2dBackwardRef(
  g: ConvGeometry,
  x: ArrayLike<number>,
  filterHWIO: ArrayLike<number>,
  dy: ArrayLike<number>,
): ConvGrads {
  const dx = new Float64Array(g.batch * g.inH * g.inW * g.inC);
  const dw = new Float64Array(g.kH * g.kW * g.inC * g.outC);
  forEachTap(g, (b, oy, ox, ky, kx, iy, ix) => {
    const xi = ((b * g.inH + iy) * g.inW + ix) * g.inC;
    const yi = ((b * g.outH + oy) * g.outW + ox) * g.outC;
    const wi = (ky * g.kW + kx) * g.inC * g.outC;
    for (let ci = 0; ci < g.inC; ci++)
      for (let co = 0; co < g.outC; co++) {
        const d = dy[yi + co]!;
        dx[xi + ci]! += d * filterHWIO[wi + ci * g.outC + co]!;
        dw[wi + ci * g.outC + co]! += d * x[xi + ci]!;
      }
  });
  return { dx, dw, db: biasGradRef(dy, g.outC) };
}
