/** Gradient of any convolution's bias: the column sums of its masked output gradient, added into `grad`. */
import source from '../../shaders/bias_backward.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { OutputView } from '../core/geometry.ts';
import { GemmBackwardParams, gemmBackwardParams } from './conv_backward_params.ts';

export function biasBackwardPipeline(ctx: GpuContext, workgroupSize = 64): Promise<CachedPipeline> {
  return ctx.pipeline(`bias_backward/f32/wg${workgroupSize}`, () => ({
    label: 'bias_backward',
    code: GemmBackwardParams.wgsl + source,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `pixels` = batch * outH * outW output pixels of `hw` per image, `channels` outputs each. */
export function biasBackwardDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  shape: { pixels: number; hw: number; channels: number },
  dy: Binding,
  grad: Binding,
  opts: { dyView?: OutputView; label?: string } = {},
): Dispatch {
  const s = { M: shape.pixels, K: 1, N: shape.channels, HW: shape.hw };
  return makeDispatch(
    ctx,
    pipe,
    GemmBackwardParams,
    gemmBackwardParams(s, opts.dyView),
    [dy, grad],
    { threads: s.N, workgroupSize: 64 },
    {
      label: opts.label ?? 'bias_backward',
      op: 'bias_backward',
      flops: s.M * s.N,
      bytes: 4 * (s.M * s.N + 2 * s.N),
    },
  );
}
