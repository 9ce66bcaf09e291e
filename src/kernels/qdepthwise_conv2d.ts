/**
 * Quantized depthwise convolution (multiplier 1; uint8 or int8, TFLite semantics, either runtime's
 * requantization). GPU data: activations NHWC and the filter [KH, KW, C] (TFLite's [1, KH, KW, C]),
 * packed four to a u32; per-channel data from channelData() (the plain bias: no packed variant).
 */
import source from '../../shaders/qdepthwise_conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import type { ConvGeometry } from '../core/geometry.ts';
import { geometryValues } from './conv_params.ts';
import { quantKey, quantPrelude, type QuantKernelConfig } from './qcommon.ts';
import { QConvParams, type QConvBindings } from './qconv2d.ts';
import type { QConvOperands } from './qconv2d_ref.ts';
import type { ConvRequant } from './quantization.ts';

export const QDEPTHWISE_VARIANTS = ['naive', 'vec4'] as const;
export type QDepthwiseVariant = (typeof QDEPTHWISE_VARIANTS)[number];

export function qdepthwiseVariantSupported(g: ConvGeometry, v: QDepthwiseVariant): boolean {
  return v === 'naive' || g.outC % 4 === 0;
}

export function selectQDepthwiseVariant(g: ConvGeometry): QDepthwiseVariant {
  return qdepthwiseVariantSupported(g, 'vec4') ? 'vec4' : 'naive';
}

export function qdepthwiseConv2dPipeline(
  ctx: GpuContext,
  variant: QDepthwiseVariant,
  c: QuantKernelConfig,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`qdepthwise_conv2d/${variant}/${quantKey(c)}/wg${workgroupSize}`, () => ({
    label: `qdepthwise_conv2d_${variant}`,
    code: quantPrelude(QConvParams, c, false) + source,
    entryPoint: `main_${variant}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw'],
  }));
}

export function qdepthwiseCost(g: ConvGeometry): { flops: number; bytes: number } {
  const macs = g.batch * g.outH * g.outW * g.outC * g.kH * g.kW;
  return {
    flops: 2 * macs,
    bytes: g.batch * g.inH * g.inW * g.inC + g.kH * g.kW * g.outC + 16 * g.outC + g.batch * g.outH * g.outW * g.outC,
  };
}

export function qdepthwiseConv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: QDepthwiseVariant,
  g: ConvGeometry,
  o: QConvOperands,
  q: ConvRequant,
  b: QConvBindings,
  opts: { workgroupSize?: number; label?: string } = {},
): Dispatch {
  if (g.inC !== g.outC) throw new RangeError(`depthwise conv needs inC == outC (got ${g.inC} and ${g.outC})`);
  if (!qdepthwiseVariantSupported(g, variant))
    throw new RangeError(`qdepthwise variant ${variant} needs channels divisible by 4 (got ${g.outC})`);
  const values = g.batch * g.outH * g.outW * g.outC;
  return makeDispatch(
    ctx,
    pipe,
    QConvParams,
    {
      ...geometryValues(g),
      inZp: o.inputZeroPoint,
      wZp: o.filterZeroPoint,
      outZp: q.outputZeroPoint,
      outMin: q.min,
      outMax: q.max,
    },
    [b.input, b.filter, b.channels, b.output],
    { threads: Math.ceil(values / 4), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `qdepthwise_conv2d_${variant}`, op: 'qdepthwise_conv2d', ...qdepthwiseCost(g) },
  );
}
