/**
 * 1x1 convolution as a register-blocked GEMM with vec4 loads, fused bias + clamp and an optional
 * residual add in the epilogue (the inverted-residual block's skip connection); the `tiled` variants
 * stage K-slices through workgroup memory for GPUs, whose many cores re-read a tile cheaply there.
 * Weights on the GPU: [K, N4], N zero-padded to a multiple of 4.
 */
import source from '../../shaders/pointwise_conv2d.wgsl';
import subgroupSource from '../../shaders/pointwise_conv2d_subgroup.wgsl';
import type { CachedPipeline, GpuContext, SubgroupSizes } from '../gpu/context.ts';
import { InvalidOptionError } from '../errors.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { ACTIVATIONS, type Clamp, type OutputView } from '../core/geometry.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { padLastDimTo4 } from './common.ts';
import { withStorage, type StorageType } from './storage.ts';
import type { PointwiseShape } from './pointwise_conv2d_ref.ts';

export type { PointwiseShape } from './pointwise_conv2d_ref.ts';

export type PointwiseVariant =
  | 'naive'
  | 'shared'
  | 'unrolled4x2'
  | 'unrolled8x2'
  | `blocked${number}x${number}`
  | `tiled${number}x${number}`
  | `subgroup${number}x${number}`;
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
/** Workgroup output tiles (rows x channels) of the shared-memory `tiled` variants. */
export const POINTWISE_WORKGROUP_TILES = [
  [32, 32],
  [64, 64],
  [128, 64],
] as const;
export const POINTWISE_VARIANTS: readonly PointwiseVariant[] = [
  'naive',
  'shared',
  'unrolled4x2',
  'unrolled8x2',
  ...POINTWISE_TILES.map(([m, n]) => `blocked${m}x${n}` as const),
  ...POINTWISE_WORKGROUP_TILES.map(([m, n]) => `tiled${m}x${n}` as const),
];
const TILED = /^tiled(\d+)x(\d+)$/;
/**
 * Register tiles of the `subgroup` variants (main_blocked's, input rows shared by subgroupShuffle). Kept out of
 * POINTWISE_VARIANTS: they run only where pointwiseSubgroupReady says so.
 */
export const POINTWISE_SUBGROUP_VARIANTS: readonly PointwiseVariant[] = (
  [
    [4, 1],
    [4, 2],
    [8, 2],
  ] as const
).map(([m, n]) => `subgroup${m}x${n}` as const);
const SUBGROUP = /^subgroup(\d+)x(\d+)$/;

/**
 * Whether a `subgroup` variant runs correctly at `workgroupSize` on a device with these subgroup sizes: the kernel
 * is correct for any subgroup size and grouping as long as every lane of a subgroup is active, which holds when
 * the workgroup is a whole number of the widest subgroups the adapter may use (sizes are powers of two).
 */
export function pointwiseSubgroupReady(sizes: SubgroupSizes | undefined, workgroupSize: number): boolean {
  return !!sizes && workgroupSize % sizes.max === 0;
}

/** How a `tiled` variant's workgroup of `workgroupSize` invocations covers its output tile. */
export interface TiledLayout {
  /** Invocations along rows and along vec4 columns (the workgroup is wgM * wgN). */
  wgM: number;
  wgN: number;
  /** Rows and vec4 columns each invocation accumulates. */
  tm: number;
  tn: number;
}

/**
 * A near-square grid of invocations (columns a power of two up to the tile's vec4 width), each owning
 * an equal share of the tile; RangeError when the size does not divide the tile.
 */
export function tiledLayout(variant: PointwiseVariant, workgroupSize: number): TiledLayout {
  const m = TILED.exec(variant);
  if (!m) throw new RangeError(`${variant} is not a tiled GEMM variant`);
  const [bm, bn4] = [Number(m[1]), Number(m[2]) / 4];
  const wgN = Math.min(bn4, 2 ** Math.floor(Math.log2(Math.sqrt(workgroupSize))));
  const wgM = workgroupSize / wgN;
  const layout = { wgM, wgN, tm: bm / wgM, tn: bn4 / wgN };
  if (![layout.wgM, layout.tm, layout.tn].every((v) => Number.isInteger(v) && v >= 1))
    throw new RangeError(`GEMM ${variant}: workgroup size ${workgroupSize} does not divide its tile`);
  return layout;
}

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
  const m = /^(?:blocked|unrolled|subgroup)(\d+)x(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [4, 1];
}

export function pointwiseVariantSupported(s: PointwiseShape, v: PointwiseVariant): boolean {
  return v === 'naive' || s.K % 4 === 0;
}

export function pointwiseConv2dPipeline(
  ctx: GpuContext,
  variant: PointwiseVariant,
  workgroupSize = 64,
  storage: StorageType = 'f32',
): Promise<CachedPipeline> {
  const tiled = TILED.test(variant) ? tiledLayout(variant, workgroupSize) : undefined;
  const [tm, tn] = tiled ? [tiled.tm, tiled.tn] : tileOf(variant);
  const subgroup = SUBGROUP.test(variant);
  if (subgroup && !pointwiseSubgroupReady(ctx.subgroups, workgroupSize))
    throw new InvalidOptionError(
      'pointwise variant',
      `${variant} at workgroup size ${workgroupSize}`,
      `a device with subgroups whose widest size divides the workgroup size (this one: ${
        ctx.subgroups ? `${ctx.subgroups.min}..${ctx.subgroups.max}` : 'no subgroups'
      })`,
    );
  const entry = variant.startsWith('blocked') ? 'blocked' : tiled ? 'tiled' : subgroup ? 'subgroup' : variant;
  const constants: Record<string, number> | undefined = tiled
    ? { T_WG_M: tiled.wgM, T_WG_N: tiled.wgN }
    : entry === 'shared'
      ? undefined
      : { WG_SIZE: workgroupSize };
  return ctx.pipeline(`pointwise_conv2d/${variant}/${storage}/wg${workgroupSize}`, () => ({
    label: `pointwise_conv2d_${variant}`,
    code: withStorage(
      storage,
      subgroup
        ? `enable subgroups;\n${PointwiseParams.wgsl}const TM: u32 = ${tm}u;\nconst TN: u32 = ${tn}u;\n${source}${subgroupSource}`
        : `${PointwiseParams.wgsl}const TM: u32 = ${tm}u;\nconst TN: u32 = ${tn}u;\n${source}`,
    ),
    entryPoint: `main_${entry}`,
    ...(constants ? { constants } : {}),
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw', 'rw'],
  }));
}

export function packPointwiseWeights(wKN: Float32Array, n: number): Float32Array {
  return padLastDimTo4(wKN, n);
}

/** Invocations of a register-blocked variant, or workgroups (output tiles) of a shared-memory one. */
export function pointwiseThreads(s: PointwiseShape, v: PointwiseVariant): number {
  if (v === 'naive') return s.M * s.N;
  if (v === 'shared') return Math.ceil(s.M / 32) * Math.ceil(Math.ceil(s.N / 4) / 8);
  const t = TILED.exec(v);
  if (t) return Math.ceil(s.M / Number(t[1])) * Math.ceil(Math.ceil(s.N / 4) / (Number(t[2]) / 4));
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
  // A shared-memory variant's workgroup computes one output tile: one workgroup per tile.
  const perTile = variant === 'shared' || TILED.test(variant);
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
    {
      threads: pointwiseThreads(s, variant),
      workgroupSize: perTile ? 1 : (opts.workgroupSize ?? 64),
    },
    { label: opts.label ?? `pointwise_conv2d_${variant}`, op: 'pointwise_conv2d', ...pointwiseCost(s, !!b.residual) },
  );
  d.owned.push(...owned);
  return d;
}
