/**
 * Uniform layouts of the backward kernels. The `dy*` fields say where a convolution's output
 * gradient lives: the forward pass's output view, so a slice of a concatenation is read in place.
 */
import { uniformSchema, type UniformValues } from '../gpu/uniforms.ts';
import { contiguousView, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { geometryFields, geometryValues } from './conv_params.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

const convFields = {
  ...geometryFields,
  dyBase: 'u32',
  dyBatchStride: 'u32',
  dyPixelStride: 'u32',
} as const;

/** conv2d and depthwise backward. */
export const ConvBackwardParams = uniformSchema('Params', convFields);

export function convBackwardParams(
  g: ConvGeometry,
  dyView: OutputView = contiguousView(g.outH, g.outW, g.outC),
): UniformValues<typeof convFields> {
  return {
    ...geometryValues(g),
    dyBase: dyView.base,
    dyBatchStride: dyView.batchStride,
    dyPixelStride: dyView.pixelStride,
  };
}

const gemmFields = {
  M: 'u32',
  K: 'u32',
  N: 'u32',
  N4: 'u32',
  HW: 'u32',
  dyBase: 'u32',
  dyBatchStride: 'u32',
  dyPixelStride: 'u32',
  accumulate: 'u32',
} as const;

/** Pointwise (GEMM) backward and the bias gradient, which sees every convolution as M pixels x N channels. */
export const GemmBackwardParams = uniformSchema('Params', gemmFields);

/** `accumulate` false: the input-gradient GEMM overwrites its output (a scratch buffer) instead of adding. */
export function gemmBackwardParams(
  s: PointwiseShape,
  dyView: OutputView = { base: 0, batchStride: s.HW * s.N, pixelStride: s.N },
  accumulate = true,
): UniformValues<typeof gemmFields> {
  return {
    M: s.M,
    K: s.K,
    N: s.N,
    N4: Math.ceil(s.N / 4),
    HW: s.HW,
    dyBase: dyView.base,
    dyBatchStride: dyView.batchStride,
    dyPixelStride: dyView.pixelStride,
    accumulate: accumulate ? 1 : 0,
  };
}
