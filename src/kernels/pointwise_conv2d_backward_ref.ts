/** Plain-loop CPU reference of the 1x1 convolution gradients as GEMMs (dx = dy w^T, dw = x^T dy), float64. */
import { biasGradRef, type ConvGrads } from './conv2d_backward_ref.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

export function pointwiseBackwardRef(
  s: PointwiseShape,
  x: ArrayLike<number>,
  wKN: ArrayLike<number>,
  dy: ArrayLike<number>,
): ConvGrads {
  const dx = new Float64Array(s.M * s.K);
  const dw = new Float64Array(s.K * s.N);
  for (let m = 0; m < s.M; m++)
    for (let k = 0; k < s.K; k++) {
      const xv = x[m * s.K + k]!;
      let acc = 0;
      for (let n = 0; n < s.N; n++) {
        const d = dy[m * s.N + n]!;
        acc += d * wKN[k * s.N + n]!;
        dw[k * s.N + n]! += xv * d;
      }
      dx[m * s.K + k] = acc;
    }
  return { dx, dw, db: biasGradRef(dy, s.N) };
}
