/**
 * Quantized standard convolution (uint8 or int8, TFLite semantics, either runtime's requantization).
 * GPU data: activations NHWC and the filter OHWI, 8-bit values packed four to a u32 (packQuantized);
 * per-channel data from channelData() with packedBias() over the filter as [Cout, KH*KW*Cin].
 */
import source from '../../shaders/qconv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { ConvGeometry } from '../core/geometry.ts';
import { geometryFields, geometryValues } from './conv_params.ts';
import { quantFields, quantKey, quantPrelude, type QuantKernelConfig } from './qcommon.ts';
import type { QConvOperands } from './qconv2d_ref.ts';
import type { ConvRequant } from './quantization.ts';

export const QCONV2D_VARIANTS = ['naive', 'packed', 'packed_dot4'] as const;
export type QConv2dVariant = (typeof QCONV2D_VARIANTS)[number];

export const QConvParams = uniformSchema('Params', { ...geometryFields, ...quantFields });

export function qconv2dVariantSupported(g: ConvGeometry, v: QConv2dVariant): boolean {
  return v === 'naive' || (g.inC % 4 === 0 && g.outC % 4 === 0);
}

export function selectQConv2dVariant(g: ConvGeometry, packedDot: boolean): QConv2dVariant {
  if (!qconv2dVariantSupported(g, 'packed')) return 'naive';
  return packedDot ? 'packed_dot4' : 'packed';
}

export function qconv2dPipeline(
  ctx: GpuContext,
  variant: QConv2dVariant,
  c: QuantKernelConfig,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`qconv2d/${variant}/${quantKey(c)}/wg${workgroupSize}`, () => ({
    label: `qconv2d_${variant}`,
    code: quantPrelude(QConvParams, c, variant === 'packed_dot4') + source,
    entryPoint: variant === 'naive' ? 'main_naive' : 'main_packed',
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw'],
  }));
}

export function qconv2dThreads(g: ConvGeometry, v: QConv2dVariant): number {
  const values = g.batch * g.outH * g.outW * g.outC;
  return v === 'naive' ? Math.ceil(values / 4) : values / 4;
}

export function qconv2dCost(g: ConvGeometry): { flops: number; bytes: number } {
  const macs = g.batch * g.outH * g.outW * g.outC * g.kH * g.kW * g.inC;
  return {
    flops: 2 * macs,
    bytes:
      g.batch * g.inH * g.inW * g.inC + g.kH * g.kW * g.inC * g.outC + 16 * g.outC + g.batch * g.outH * g.outW * g.outC,
  };
}

export interface QConvBindings {
  input: Binding;
  /** Packed OHWI filter. */
  filter: Binding;
  /** channelData(): one vec4<i32> per output channel. */
  channels: Binding;
  output: Binding;
}

export function qconv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: QConv2dVariant,
  g: ConvGeometry,
  o: QConvOperands,
  q: ConvRequant,
  b: QConvBindings,
  opts: { workgroupSize?: number; label?: string } = {},
): Dispatch {
  if (!qconv2dVariantSupported(g, variant))
    throw new RangeError(
      `qconv2d variant ${variant} needs input and output channels divisible by 4 (got ${g.inC} and ${g.outC})`,
    );
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
    { threads: qconv2dThreads(g, variant), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `qconv2d_${variant}`, op: 'qconv2d', ...qconv2dCost(g) },
  );
}
