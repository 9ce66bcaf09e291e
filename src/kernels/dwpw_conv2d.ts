/**
 * A depthwise convolution fused into the 1x1 convolution that is its only reader (MobileNet's separable
 * convolution, and the depthwise + project half of an inverted-residual block): one dispatch, the
 * depthwise output computed per K-slice straight into the shared-memory A tile of the `tiled` GEMM
 * (pointwise_conv2d.ts) and never written to memory. Tiles and workgroup grid as the tiled GEMM's
 * (tiledLayout). Depthwise filter [KH, KW, C4], GEMM weights [K, N4], as the unfused kernels pack them.
 */
import source from '../../shaders/dwpw_conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { ACTIVATIONS, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { depthwiseCost } from './depthwise_conv2d.ts';
import { pointwiseCost, tiledLayout } from './pointwise_conv2d.ts';
import { dwpwGemmShape, type DwpwShape } from './dwpw_conv2d_ref.ts';
import { withStorage, type StorageType } from './storage.ts';

export type { DwpwShape } from './dwpw_conv2d_ref.ts';

export type DwpwVariant = `dwpw${number}x${number}`;
/** Workgroup output tiles (rows x channels): wider tiles recompute the depthwise for fewer column tiles. */
export const DWPW_TILES = [
  [32, 32],
  [32, 64],
  [64, 64],
  [128, 64],
] as const;
export const DWPW_VARIANTS: readonly DwpwVariant[] = DWPW_TILES.map(([m, n]) => `dwpw${m}x${n}` as const);
/** Workgroup sizes the tuners try (each divides every tile above). */
export const DWPW_WORKGROUP_SIZES = [64, 256] as const;
const DWPW = /^dwpw(\d+)x(\d+)$/;

/** One of this build's fused tiles (a stored plan or a forced choice may name another). */
export function isDwpwVariant(v: string): v is DwpwVariant {
  return (DWPW_VARIANTS as readonly string[]).includes(v);
}

export const DwpwParams = uniformSchema('Params', {
  M: 'u32',
  C: 'u32',
  C4: 'u32',
  N: 'u32',
  N4: 'u32',
  HW: 'u32',
  inH: 'u32',
  inW: 'u32',
  outW: 'u32',
  padTop: 'u32',
  padLeft: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  hasResidual: 'u32',
  dwMin: 'f32',
  dwMax: 'f32',
  clampMin: 'f32',
  clampMax: 'f32',
  addMin: 'f32',
  addMax: 'f32',
});

/** The tiled GEMM layout of a fused variant at `workgroupSize`; RangeError when the size does not divide it. */
export function dwpwLayout(variant: DwpwVariant, workgroupSize: number) {
  const m = DWPW.exec(variant);
  if (!m) throw new RangeError(`${variant} is not a fused depthwise + 1x1 variant`);
  return tiledLayout(`tiled${Number(m[1])}x${Number(m[2])}`, workgroupSize);
}

/**
 * Filter size, strides and C % 4 are compile-time facts of a layer (init time): the tap loops unroll and
 * the input loads are vec4 where the channels allow.
 */
export function dwpwConv2dPipeline(
  ctx: GpuContext,
  variant: DwpwVariant,
  g: ConvGeometry,
  workgroupSize = 64,
  storage: StorageType = 'f32',
): Promise<CachedPipeline> {
  const l = dwpwLayout(variant, workgroupSize);
  const aligned = g.inC % 4 === 0;
  const filter = `k${g.kH}x${g.kW}s${g.strideH}x${g.strideW}`;
  const consts = { TM: l.tm, TN: l.tn, KH: g.kH, KW: g.kW, SH: g.strideH, SW: g.strideW };
  const header = Object.entries(consts)
    .map(([k, v]) => `const ${k}: u32 = ${v}u;\n`)
    .join('');
  const key = `dwpw_conv2d/${variant}/${filter}/${aligned ? 'vec4' : 'c1'}/${storage}/wg${workgroupSize}`;
  return ctx.pipeline(key, () => ({
    label: `dwpw_conv2d_${variant}`,
    code: withStorage(storage, `${DwpwParams.wgsl}${header}${source}`),
    entryPoint: 'main',
    constants: { T_WG_M: l.wgM, T_WG_N: l.wgN, ALIGNED: aligned ? 1 : 0 },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'storage', 'storage', 'rw', 'rw'],
  }));
}

/** Workgroups (output tiles) of a fused dispatch. */
export function dwpwWorkgroups(s: DwpwShape, variant: DwpwVariant): number {
  const m = DWPW.exec(variant)!;
  const { M, N } = dwpwGemmShape(s);
  return Math.ceil(M / Number(m[1])) * Math.ceil(Math.ceil(N / 4) / (Number(m[2]) / 4));
}

/** The pair's work with the intermediate tensor's round trip through memory taken out. */
export function dwpwCost(s: DwpwShape, residual: boolean): { flops: number; bytes: number } {
  const dw = depthwiseCost(s.g);
  const gemm = dwpwGemmShape(s);
  const pw = pointwiseCost(gemm, residual);
  const mid = 4 * gemm.M * gemm.K;
  return { flops: dw.flops + pw.flops, bytes: dw.bytes + pw.bytes - 2 * mid };
}

export interface DwpwBindings {
  input: Binding;
  dwFilter: Binding;
  dwBias: Binding;
  weights: Binding;
  bias: Binding;
  output: Binding;
  /** Contiguous [M, N] skip tensor; omit for none. */
  residual?: Binding;
}

export function dwpwConv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: DwpwVariant,
  s: DwpwShape,
  acts: { dw: Clamp; act: Clamp; residual?: Clamp },
  b: DwpwBindings,
  opts: { view?: OutputView; label?: string; dummy?: GPUBuffer } = {},
): Dispatch {
  const g = s.g;
  if (g.inC !== g.outC) throw new RangeError(`depthwise conv needs inC == outC (got ${g.inC} and ${g.outC})`);
  const gemm = dwpwGemmShape(s);
  const view = opts.view ?? { base: 0, batchStride: gemm.HW * s.N, pixelStride: s.N };
  const ra = acts.residual ?? ACTIVATIONS.none;
  const owned: GPUBuffer[] = [];
  let residual = b.residual;
  if (!residual) {
    const dummy = opts.dummy ?? ctx.createBuffer('no-residual', 16, GPUBufferUsage.STORAGE);
    if (!opts.dummy) owned.push(dummy);
    residual = { buffer: dummy };
  }
  const d = makeDispatch(
    ctx,
    pipe,
    DwpwParams,
    {
      M: gemm.M,
      C: g.inC,
      C4: Math.ceil(g.inC / 4),
      N: s.N,
      N4: Math.ceil(s.N / 4),
      HW: gemm.HW,
      inH: g.inH,
      inW: g.inW,
      outW: g.outW,
      padTop: g.padTop,
      padLeft: g.padLeft,
      outBase: view.base,
      outBatchStride: view.batchStride,
      outPixelStride: view.pixelStride,
      hasResidual: b.residual ? 1 : 0,
      dwMin: acts.dw.min,
      dwMax: acts.dw.max,
      clampMin: acts.act.min,
      clampMax: acts.act.max,
      addMin: ra.min,
      addMax: ra.max,
    },
    [b.input, b.dwFilter, b.dwBias, b.weights, b.bias, b.output, residual],
    { threads: dwpwWorkgroups(s, variant), workgroupSize: 1 },
    { label: opts.label ?? `dwpw_conv2d_${variant}`, op: 'dwpw_conv2d', ...dwpwCost(s, !!b.residual) },
  );
  d.owned.push(...owned);
  return d;
}
