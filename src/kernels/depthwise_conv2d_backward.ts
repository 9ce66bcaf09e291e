/**
 * Gradients of the depthwise convolution (depthwise_conv2d.ts, multiplier 1) with respect to its
 * input and its filter; the bias gradient is bias_backward.ts. Every dispatch adds into its output.
 */
import source from '../../shaders/depthwise_conv2d_backward.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import type { ConvGeometry, OutputView } from '../core/geometry.ts';
import type { ConvBackwardBindings, ConvGrad } from './conv2d_backward.ts';
import { ConvBackwardParams, convBackwardParams } from './conv_backward_params.ts';

export function depthwiseBackwardPipeline(
  ctx: GpuContext,
  grad: ConvGrad,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`depthwise_conv2d_backward/${grad}/f32/wg${workgroupSize}`, () => ({
    label: `depthwise_conv2d_backward_${grad}`,
    code: ConvBackwardParams.wgsl + source,
    entryPoint: grad === 'input' ? 'main_dx' : 'main_dw',
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw', 'rw'],
  }));
}

export function depthwiseBackwardDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  grad: ConvGrad,
  g: ConvGeometry,
  b: ConvBackwardBindings,
  opts: { dyView?: OutputView; label?: string; workgroupSize?: number } = {},
): Dispatch {
  if (g.inC !== g.outC) throw new RangeError(`depthwise backward needs inC == outC (got ${g.inC} and ${g.outC})`);
  const macs = g.batch * g.outH * g.outW * g.outC * g.kH * g.kW;
  const x = g.batch * g.inH * g.inW * g.inC;
  const bytes =
    4 *
    (g.batch * g.outH * g.outW * g.outC +
      (grad === 'input' ? 2 * x + g.kH * g.kW * g.inC : x + 2 * g.kH * g.kW * g.inC));
  return makeDispatch(
    ctx,
    pipe,
    ConvBackwardParams,
    convBackwardParams(g, opts.dyView),
    [b.dy, b.src, b.grad],
    { threads: grad === 'input' ? x : g.kH * g.kW * g.inC, workgroupSize: opts.workgroupSize ?? 64 },
    {
      label: opts.label ?? `depthwise_conv2d_backward_${grad}`,
      op: `depthwise_conv2d_backward_${grad}`,
      flops: 2 * macs,
      bytes,
    },
  );
}
