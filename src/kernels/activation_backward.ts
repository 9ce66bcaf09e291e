/**
 * Element-wise backward steps: the fused activation's mask (the gradient passes only where the
 * clamp did not bind) and the accumulation an ADD node needs to hand its gradient to both operands.
 */
import source from '../../shaders/activation_backward.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { Clamp } from '../core/geometry.ts';

export const ActivationBackwardParams = uniformSchema('Params', { count: 'u32', lo: 'f32', hi: 'f32' });

export type ElementwiseBackward = 'mask' | 'add';

export function activationBackwardPipeline(
  ctx: GpuContext,
  kind: ElementwiseBackward,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`activation_backward/${kind}/f32/wg${workgroupSize}`, () => ({
    label: `activation_backward_${kind}`,
    code: ActivationBackwardParams.wgsl + source,
    entryPoint: `main_${kind}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** dy[i] = 0 wherever the forward output y[i] sits on a bound of `act` (contiguous tensors of `count` values). */
export function clampMaskDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  act: Clamp,
  y: Binding,
  dy: Binding,
  label = 'clamp_backward',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    ActivationBackwardParams,
    { count, lo: act.min, hi: act.max },
    [y, dy],
    { threads: count, workgroupSize: 64 },
    { label, op: 'clamp_backward', flops: count, bytes: 12 * count },
  );
}

/** into[i] += from[i] over `count` values. */
export function accumulateDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  from: Binding,
  into: Binding,
  label = 'accumulate',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    ActivationBackwardParams,
    { count, lo: 0, hi: 0 },
    [from, into],
    { threads: count, workgroupSize: 64 },
    { label, op: 'accumulate', flops: count, bytes: 12 * count },
  );
}
