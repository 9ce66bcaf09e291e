/** Plain-loop CPU reference for the 1x1 convolution GEMM with its fused epilogue. */
import type { Clamp, OutputView } from '../core/geometry.ts';

export interface PointwiseShape {
  /** Pixels in all images (batch * H * W). */
  M: number;
  K: number;
  N: number;
  /** Pixels per image (H * W): output views are per image. */
  HW: number;
}

export function pointwiseConv2dRef(
  s: PointwiseShape,
  x: Float32Array,
  w: Float32Array,
  bias: Float32Array,
  act: Clamp,
  residual?: { data: Float32Array; act: Clamp },
  out?: Float32Array,
  view: OutputView = { base: 0, batchStride: s.HW * s.N, pixelStride: s.N },
): Float32Array {
  const y = out ?? new Float32Array(s.M * s.N);
  for (let m = 0; m < s.M; m++)
    for (let n = 0; n < s.N; n++) {
      let acc = bias[n]!;
      for (let k = 0; k < s.K; k++) acc += x[m * s.K + k]! * w[k * s.N + n]!;
      let v = Math.min(Math.max(acc, act.min), act.max);
      if (residual) v = Math.min(Math.max(v + residual.data[m * s.N + n]!, residual.act.min), residual.act.max);
      y[view.base + Math.floor(m / s.HW) * view.batchStride + (m % s.HW) * view.pixelStride + n] = v;
    }
  return y;
}
