/**
 * Gradients of the standard convolution (conv2d.ts) with respect to its filter and its input, as
 * the 1x1 backward GEMMs on im2col rows (see shaders/conv2d_backward.wgsl): the filter gradient is
 * im2col + dw GEMM, the input gradient dx GEMM + col2im. Both go through one scratch buffer of
 * conv2dBackwardScratch(g) floats, used in turn. The bias gradient is bias_backward.ts. Both
 * gradients add into their outputs.
 */
import source from '../../shaders/conv2d_backward.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { ConvGeometry, OutputView } from '../core/geometry.ts';
import { ConvBackwardParams, convBackwardParams } from './conv_backward_params.ts';
import { pointwiseBackwardDispatch, pointwiseBackwardPipeline } from './pointwise_conv2d_backward.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

/** Which gradient a backward dispatch computes. */
export type ConvGrad = 'input' | 'filter';

export interface ConvBackwardBindings {
  /** Output gradient after the activation mask, laid out as the forward output view. */
  dy: Binding;
  /** The filter (packed as for the forward kernel) for the input gradient; the forward input for the filter gradient. */
  src: Binding;
  /** Input gradient [B, inH, inW, inC], or filter gradient in the packed filter layout; added into. */
  grad: Binding;
}

export interface Conv2dBackwardPipelines {
  im2col: CachedPipeline;
  col2im: CachedPipeline;
  gemm: CachedPipeline;
}

export async function conv2dBackwardPipelines(ctx: GpuContext, grad: ConvGrad): Promise<Conv2dBackwardPipelines> {
  const entry = (name: string) =>
    ctx.pipeline(`conv2d_backward/${name}/f32/wg64`, () => ({
      label: `conv2d_backward_${name}`,
      code: ConvBackwardParams.wgsl + source,
      entryPoint: `main_${name}`,
      constants: { WG_SIZE: 64 },
      bindings: ['uniform', 'rw', 'rw'],
    }));
  const [im2col, col2im, gemm] = await Promise.all([
    entry('im2col'),
    entry('col2im'),
    pointwiseBackwardPipeline(ctx, grad),
  ]);
  return { im2col, col2im, gemm };
}

/** Floats of the scratch buffer: one im2col row of kH*kW*inC values per output pixel. */
export function conv2dBackwardScratch(g: ConvGeometry): number {
  return g.batch * g.outH * g.outW * g.kH * g.kW * g.inC;
}

/** The GEMM on im2col rows: M output pixels, K window values, N output channels. */
function im2colShape(g: ConvGeometry): PointwiseShape {
  return { M: g.batch * g.outH * g.outW, K: g.kH * g.kW * g.inC, N: g.outC, HW: g.outH * g.outW };
}

export function conv2dBackwardDispatches(
  ctx: GpuContext,
  p: Conv2dBackwardPipelines,
  grad: ConvGrad,
  g: ConvGeometry,
  b: ConvBackwardBindings & { scratch: Binding },
  opts: { dyView?: OutputView; label?: string } = {},
): Dispatch[] {
  const label = opts.label ?? `conv2d_backward_${grad}`;
  const s = im2colShape(g);
  const params = convBackwardParams(g, opts.dyView);
  const view = opts.dyView ? { dyView: opts.dyView } : {};
  const movement = (name: string, from: Binding, to: Binding, threads: number) =>
    makeDispatch(
      ctx,
      name === 'im2col' ? p.im2col : p.col2im,
      ConvBackwardParams,
      params,
      [from, to],
      { threads, workgroupSize: 64 },
      { label: `${label}:${name}`, op: `conv2d_backward_${name}`, flops: 0, bytes: 8 * s.M * s.K },
    );
  if (grad === 'filter') {
    return [
      movement('im2col', b.src, b.scratch, s.M * s.K),
      pointwiseBackwardDispatch(
        ctx,
        p.gemm,
        'filter',
        s,
        { dy: b.dy, src: b.scratch, grad: b.grad },
        { ...view, label: `${label}:gemm` },
      ),
    ];
  }
  return [
    pointwiseBackwardDispatch(
      ctx,
      p.gemm,
      'input',
      s,
      { dy: b.dy, src: b.src, grad: b.scratch },
      { ...view, label: `${label}:gemm`, accumulate: false },
    ),
    movement('col2im', b.scratch, b.grad, g.batch * g.inH * g.inW * g.inC),
  ];
}
