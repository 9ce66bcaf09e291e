/**
 * Standard convolution (any KxK, stride, TF SAME/VALID padding) with fused bias and clamp.
 * Filter layout on the GPU: [KH, KW, Cin, Cout4], Cout zero-padded to a multiple of 4.
 */
import common from '../../shaders/conv_common.wgsl';
import source from '../../shaders/conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { DriverKind } from '../gpu/provider.ts';
import { contiguousView, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { padLastDimTo4 } from './common.ts';
import { ConvParams, convParams } from './conv_params.ts';
import { withStorage, type StorageType } from './storage.ts';

export const CONV2D_VARIANTS = ['naive', 'direct', 'blocked', 'blocked16', 'igemm'] as const;
export type Conv2dVariant = (typeof CONV2D_VARIANTS)[number];

export interface KernelOptions<V extends string> {
  variant?: V;
  workgroupSize?: number;
}

export function conv2dVariantSupported(g: ConvGeometry, v: Conv2dVariant): boolean {
  return v !== 'igemm' || g.inC % 4 === 0;
}

/**
 * The implicit GEMM wins whenever the input channels allow vec4 steps (bench/profile: the SSD extra
 * layers); otherwise four output pixels per invocation once a row is wide enough to fill the block, with 16
 * channels each on lavapipe, where oid-v4's 3-channel stem ran 0.84-0.92x the 4-channel tile's time
 * (`profile --driver lavapipe --conv2d blocked|blocked16 --layers`, two rounds each).
 */
export function selectConv2dVariant(g: ConvGeometry, driver: DriverKind = 'unknown'): Conv2dVariant {
  if (conv2dVariantSupported(g, 'igemm')) return 'igemm';
  if (g.outW < 4) return 'direct';
  return driver === 'lavapipe' ? 'blocked16' : 'blocked';
}

export function conv2dPipeline(
  ctx: GpuContext,
  variant: Conv2dVariant,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  const groups = variant === 'blocked16' ? 4 : 1; // channel groups of 4 per invocation (main_blocked's CG)
  return ctx.pipeline(`conv2d/${variant}/${storage}/wg${workgroupSize}`, () => ({
    label: `conv2d_${variant}`,
    code: withStorage(storage, `${ConvParams.wgsl}const CG: u32 = ${groups}u;\n${common}${source}`),
    entryPoint: variant === 'blocked16' ? 'main_blocked' : `main_${variant}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw'],
  }));
}

export function packConv2dFilter(filterHWIO: Float32Array, outC: number): Float32Array {
  return padLastDimTo4(filterHWIO, outC);
}

export function conv2dThreads(g: ConvGeometry, variant: Conv2dVariant): number {
  const c4 = Math.ceil(g.outC / 4);
  switch (variant) {
    case 'naive':
      return g.batch * g.outH * g.outW * g.outC;
    case 'direct':
      return g.batch * g.outH * g.outW * c4;
    case 'blocked':
      return g.batch * g.outH * Math.ceil(g.outW / 4) * c4;
    case 'blocked16':
      return g.batch * g.outH * Math.ceil(g.outW / 4) * Math.ceil(c4 / 4);
    case 'igemm':
      return Math.ceil((g.batch * g.outH * g.outW) / 4) * Math.ceil(c4 / 2);
  }
}

export function conv2dCost(g: ConvGeometry): { flops: number; bytes: number } {
  const macs = g.batch * g.outH * g.outW * g.outC * g.kH * g.kW * g.inC;
  const bytes =
    4 * (g.batch * g.inH * g.inW * g.inC + g.kH * g.kW * g.inC * g.outC + g.outC + g.batch * g.outH * g.outW * g.outC);
  return { flops: 2 * macs, bytes };
}

export interface Conv2dBindings {
  input: Binding;
  /** Packed with packConv2dFilter. */
  filter: Binding;
  /** Length outC4 * 4. */
  bias: Binding;
  output: Binding;
}

export function conv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: Conv2dVariant,
  g: ConvGeometry,
  act: Clamp,
  b: Conv2dBindings,
  opts: { view?: OutputView; workgroupSize?: number; label?: string } = {},
): Dispatch {
  if (!conv2dVariantSupported(g, variant))
    throw new RangeError(`conv2d variant ${variant} needs input channels divisible by 4 (got ${g.inC})`);
  const view = opts.view ?? contiguousView(g.outH, g.outW, g.outC);
  return makeDispatch(
    ctx,
    pipe,
    ConvParams,
    convParams(g, act, view),
    [b.input, b.filter, b.bias, b.output],
    { threads: conv2dThreads(g, variant), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `conv2d_${variant}`, op: 'conv2d', ...conv2dCost(g) },
  );
}
