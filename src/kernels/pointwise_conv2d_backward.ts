/**
 * Gradients of the 1x1 convolution GEMM (pointwise_conv2d.ts) as two register-tiled GEMMs:
 * dx = dy * w^T and dw = x^T * dy; the bias gradient is bias_backward.ts. The filter gradient adds
 * into its output; the input gradient adds too, or overwrites a scratch buffer (conv2d_backward.ts).
 */
import source from '../../shaders/pointwise_conv2d_backward.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import type { OutputView } from '../core/geometry.ts';
import type { ConvBackwardBindings, ConvGrad } from './conv2d_backward.ts';
import { GemmBackwardParams, gemmBackwardParams } from './conv_backward_params.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

/** Register tile: `rows` (of m for the input gradient, of k for the filter gradient) x 4 * `groups` columns. */
export interface GemmTile {
  rows: number;
  groups: number;
}

export const DEFAULT_GEMM_TILE: GemmTile = { rows: 8, groups: 2 };

export function pointwiseBackwardPipeline(
  ctx: GpuContext,
  grad: ConvGrad,
  tile: GemmTile = DEFAULT_GEMM_TILE,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`pointwise_conv2d_backward/${grad}/f32/t${tile.rows}x${tile.groups}/wg${workgroupSize}`, () => ({
    label: `pointwise_conv2d_backward_${grad}`,
    code: `${GemmBackwardParams.wgsl}const TA: u32 = ${tile.rows}u;\nconst TB: u32 = ${tile.groups}u;\n${source}`,
    entryPoint: grad === 'input' ? 'main_dx' : 'main_dw',
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw', 'rw'],
  }));
}

export function pointwiseBackwardThreads(
  s: PointwiseShape,
  grad: ConvGrad,
  tile: GemmTile = DEFAULT_GEMM_TILE,
): number {
  const cols = 4 * tile.groups;
  return grad === 'input'
    ? Math.ceil(s.M / tile.rows) * Math.ceil(s.K / cols)
    : Math.ceil(s.K / tile.rows) * Math.ceil(s.N / cols);
}

/**
 * `src` is the packed [K, N4] weights for the input gradient, the forward input [M, K] for the
 * filter gradient. `accumulate: false` makes the input gradient overwrite its output.
 */
export function pointwiseBackwardDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  grad: ConvGrad,
  s: PointwiseShape,
  b: ConvBackwardBindings,
  opts: { dyView?: OutputView; label?: string; tile?: GemmTile; accumulate?: boolean; workgroupSize?: number } = {},
): Dispatch {
  const bytes = 4 * (s.M * s.N + (grad === 'input' ? 2 * s.M * s.K + s.K * s.N : s.M * s.K + 2 * s.K * s.N));
  return makeDispatch(
    ctx,
    pipe,
    GemmBackwardParams,
    gemmBackwardParams(s, opts.dyView, opts.accumulate ?? true),
    [b.dy, b.src, b.grad],
    { threads: pointwiseBackwardThreads(s, grad, opts.tile), workgroupSize: opts.workgroupSize ?? 64 },
    {
      label: opts.label ?? `pointwise_conv2d_backward_${grad}`,
      op: `pointwise_conv2d_backward_${grad}`,
      flops: 2 * s.M * s.K * s.N,
      bytes,
    },
  );
}
