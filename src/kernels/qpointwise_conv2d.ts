/**
 * Quantized 1x1 convolution as a GEMM (uint8 or int8, TFLite semantics, either runtime's
 * requantization). GPU data: input [M, K] and weights [N, K] (TFLite's OHWI), packed four to a u32;
 * per-channel data from channelData() with packedBias() over the weights.
 */
import source from '../../shaders/qpointwise_conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import { quantFields, quantKey, quantPrelude, type QuantKernelConfig } from './qcommon.ts';
import type { QConvBindings } from './qconv2d.ts';
import type { QConvOperands } from './qconv2d_ref.ts';
import type { QGemmShape } from './qpointwise_conv2d_ref.ts';
import type { ConvRequant } from './quantization.ts';

export type { QGemmShape } from './qpointwise_conv2d_ref.ts';

/** `_dot4` variants use WGSL's packed 4x8-bit dot products; the others the same loops in plain integers. */
export const QPOINTWISE_VARIANTS = ['naive', 'flat', 'flat_dot4', 'tile4', 'tile4_dot4'] as const;
export type QPointwiseVariant = (typeof QPOINTWISE_VARIANTS)[number];

export const QGemmParams = uniformSchema('Params', { M: 'u32', K: 'u32', N: 'u32', K4: 'u32', ...quantFields });

const TILE_ROWS = 4;

export function qpointwiseVariantSupported(s: QGemmShape, v: QPointwiseVariant): boolean {
  if (v === 'naive') return true;
  return s.K % 4 === 0 && (v.startsWith('flat') || s.N % 4 === 0);
}

export function selectQPointwiseVariant(s: QGemmShape, packedDot: boolean): QPointwiseVariant {
  const base = qpointwiseVariantSupported(s, 'tile4')
    ? 'tile4'
    : qpointwiseVariantSupported(s, 'flat')
      ? 'flat'
      : undefined;
  if (!base) return 'naive';
  return packedDot ? `${base}_dot4` : base;
}

export function qpointwiseConv2dPipeline(
  ctx: GpuContext,
  variant: QPointwiseVariant,
  c: QuantKernelConfig,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`qpointwise_conv2d/${variant}/${quantKey(c)}/wg${workgroupSize}`, () => ({
    label: `qpointwise_conv2d_${variant}`,
    code: `${quantPrelude(QGemmParams, c, variant.endsWith('_dot4'))}const TM: u32 = ${TILE_ROWS}u;\n${source}`,
    entryPoint: `main_${variant.startsWith('tile') ? 'tile' : variant.startsWith('flat') ? 'flat' : 'naive'}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw'],
  }));
}

export function qpointwiseThreads(s: QGemmShape, v: QPointwiseVariant): number {
  if (v.startsWith('tile')) return Math.ceil(s.M / TILE_ROWS) * (s.N / 4);
  return Math.ceil((s.M * s.N) / 4);
}

export function qpointwiseCost(s: QGemmShape): { flops: number; bytes: number } {
  return { flops: 2 * s.M * s.K * s.N, bytes: s.M * s.K + s.K * s.N + 16 * s.N + s.M * s.N };
}

export function qpointwiseConv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: QPointwiseVariant,
  s: QGemmShape,
  o: QConvOperands,
  q: ConvRequant,
  b: QConvBindings,
  opts: { workgroupSize?: number; label?: string } = {},
): Dispatch {
  if (!qpointwiseVariantSupported(s, variant))
    throw new RangeError(`qpointwise variant ${variant} does not support K=${s.K}, N=${s.N}`);
  return makeDispatch(
    ctx,
    pipe,
    QGemmParams,
    {
      M: s.M,
      K: s.K,
      N: s.N,
      K4: Math.ceil(s.K / 4),
      inZp: o.inputZeroPoint,
      wZp: o.filterZeroPoint,
      outZp: q.outputZeroPoint,
      outMin: q.min,
      outMax: q.max,
    },
    [b.input, b.filter, b.channels, b.output],
    { threads: qpointwiseThreads(s, variant), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `qpointwise_conv2d_${variant}`, op: 'qpointwise_conv2d', ...qpointwiseCost(s) },
  );
}
