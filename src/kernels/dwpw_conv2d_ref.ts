/**
 * Plain-loop CPU reference for the fused depthwise + 1x1 convolution: the depthwise reference's output
 * (the block's expanded activation) fed to the GEMM reference, exactly the pair the fused kernel replaces.
 */
import type { Clamp, ConvGeometry, OutputView } from '../core/geometry.ts';
import { depthwiseConv2dRef } from './depthwise_conv2d_ref.ts';
import { pointwiseConv2dRef } from './pointwise_conv2d_ref.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

/** The depthwise geometry `g` (inC == outC = the GEMM's K) and the 1x1 convolution's output channels. */
export interface DwpwShape {
  g: ConvGeometry;
  N: number;
}

/** The 1x1 convolution's GEMM shape. */
export function dwpwGemmShape(s: DwpwShape): PointwiseShape {
  const hw = s.g.outH * s.g.outW;
  return { M: s.g.batch * hw, K: s.g.inC, N: s.N, HW: hw };
}

export interface DwpwConstants {
  dwFilter: Float32Array;
  dwBias: Float32Array;
  dwAct: Clamp;
  /** [K, N] */
  weights: Float32Array;
  bias: Float32Array;
  act: Clamp;
}

export function dwpwConv2dRef(
  s: DwpwShape,
  x: Float32Array,
  c: DwpwConstants,
  residual?: { data: Float32Array; act: Clamp },
  out?: Float32Array,
  view?: OutputView,
): Float32Array {
  const mid = depthwiseConv2dRef(s.g, x, c.dwFilter, c.dwBias, c.dwAct);
  return pointwiseConv2dRef(dwpwGemmShape(s), mid, c.weights, c.bias, c.act, residual, out, view);
}
