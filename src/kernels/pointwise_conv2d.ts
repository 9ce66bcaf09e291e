/**
 * 1x1 convolution as a register-blocked GEMM with vec4 loads, fused bias + clamp and an optional
 * residual add in the epilogue (the inverted-residual block's skip connection).
 * Weights on the GPU: [K, N4], N zero-padded to a multiple of 4.
 */
import source from '../../shaders/pointwise_conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { ACTIVATIONS, type Clamp, type OutputView } from '../core/geometry.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { padLastDimTo4 } from './common.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

export type { PointwiseShape } from './pointwise_conv2d_ref.ts';

export type PointwiseVariant = 'naive' | 'shared' | 'unrolled4x2' | 'unrolled8x2' | `blocked${number}x${number}`;
/** Register tiles (rows x vec4 columns) the tuner may choose from. */
export const POINTWISE_TILES = [
  [4, 1],
  [2, 2],
  [4, 2],
  [8, 1],
  [2, 1],
  [1, 2],
  [8, 2],
  [4, 4],
] as const;
export const POINTWISE_VARIANTS: readonly PointwiseVariant[] = [
  'naive',
  'shared',
  'unrolled4x2',
  'unrolled8x2',
  ...POINTWISE_TILES.map(([m, n]) => `blocked${m}x${n}` as const),
];

export const PointwiseParams = uniformSchema('Params', {
  M: 'u32',
  K: 'u32',
  N: 'u32',
  K4: 'u32',
  N4: 'u32',
  HW: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  hasResidual: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
  addMin: 'f32',
  addMax: 'f32',
});

function tileOf(v: PointwiseVariant): [number, number] {
  const m = /^(?:blocked|unrolled)(\d+)x(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [4, 1];
}

export function pointwiseVariantSupported(s: PointwiseShape, v: PointwiseVariant): boolean {
  return v === 'naive' || s.K % 4 === 0;
}

export function pointwiseConv2dPipeline(
  ctx: GpuContext,
  variant: PointwiseVariant,
  workgroupSize = 64,
): Promise<CachedPipeline> {
  const [tm, tn] = tileOf(variant);
  const entry = variant.startsWith('blocked') ? 'blocked' : variant;
  return ctx.pipeline(`pointwise_conv2d/${variant}/f32/wg${workgroupSize}`, () => ({
    label: `pointwise_conv2d_${variant}`,
    code: `${PointwiseParams.wgsl}const TM: u32 = ${tm}u;\nconst TN: u32 = ${tn}u;\n${source}`,
    entryPoint: `main_${entry}`,
    ...(entry === 'shared' ? {} : { constants: { WG_SIZE: workgroupSize } }),
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw', 'rw'],
  }));
}

export function packPointwiseWeights(wKN: Float32Array, n: number): Float32Array {
  return padLastDimTo4(wKN, n);
}

export function pointwiseThreads(s: PointwiseShape, v: PointwiseVariant): number {
  if (v === 'naive') return s.M * s.N;
  const [tm, tn] = tileOf(v);
  return Math.ceil(s.M / tm) * Math.ceil(Math.ceil(s.N / 4) / tn);
}

export function pointwiseCost(s: PointwiseShape, residual: boolean): { flops: number; bytes: number } {
  return { flops: 2 * s.M * s.K * s.N, bytes: 4 * (s.M * s.K + s.K * s.N + s.N + s.M * s.N * (residual ? 2 : 1)) };
}

export interface PointwiseBindings {
  input: Binding;
  weights: Binding;
  bias: Binding;
  output: Binding;
  /** Contiguous [M, N] skip tensor; omit for a plain 1x1 conv. */
  residual?: Binding;
}

export function pointwiseConv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: PointwiseVariant,
  s: PointwiseShape,
  act: Clamp,
  b: PointwiseBindings,
  opts: { view?: OutputView; residualAct?: Clamp; workgroupSize?: number; label?: string; dummy?: GPUBuffer } = {},
): Dispatch {
  if (!pointwiseVariantSupported(s, variant))
    throw new RangeError(`pointwise variant ${variant} needs K % 4 == 0 (K=${s.K})`);
  const view = opts.view ?? { base: 0, batchStride: s.HW * s.N, pixelStride: s.N };
  const ra = opts.residualAct ?? ACTIVATIONS.none;
  let residual = b.residual;
  const owned: GPUBuffer[] = [];
  if (!residual) {
    const dummy = opts.dummy ?? ctx.createBuffer('no-residual', 16, GPUBufferUsage.STORAGE);
    if (!opts.dummy) owned.push(dummy);
    residual = { buffer: dummy };
  }
  const shared = variant === 'shared';
  const tiles = Math.ceil(s.M / 32) * Math.ceil(Math.ceil(s.N / 4) / 8);
  const d = makeDispatch(
    ctx,
    pipe,
    PointwiseParams,
    {
      M: s.M,
      K: s.K,
      N: s.N,
      K4: Math.ceil(s.K / 4),
      N4: Math.ceil(s.N / 4),
      HW: s.HW,
      outBase: view.base,
      outBatchStride: view.batchStride,
      outPixelStride: view.pixelStride,
      hasResidual: b.residual ? 1 : 0,
      clampMin: act.min,
      clampMax: act.max,
      addMin: ra.min,
      addMax: ra.max,
    },
    [b.input, b.weights, b.bias, b.output, residual],
    shared
      ? { threads: tiles, workgroupSize: 1 }
      : { threads: pointwiseThreads(s, variant), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `pointwise_conv2d_${variant}`, op: 'pointwise_conv2d', ...pointwiseCost(s, !!b.residual) },
  );
  d.owned.push(...owned);
  return d;
}
