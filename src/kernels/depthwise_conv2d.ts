/**
 * Depthwise convolution (multiplier 1) with fused bias and clamp. Filter on the GPU: [KH, KW, C4].
 * Memory-bound: each output reads KH*KW inputs for KH*KW multiply-adds, which is why the blocked
 * variant shares the input row segment between neighbouring windows.
 */
import common from '../../shaders/conv_common.wgsl';
import source from '../../shaders/depthwise_conv2d.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { DriverKind } from '../gpu/provider.ts';
import { contiguousView, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { padLastDimTo4 } from './common.ts';
import { ConvParams, convParams } from './conv_params.ts';
import { withStorage, type StorageType } from './storage.ts';

export const DEPTHWISE_VARIANTS = [
  'naive',
  'vec4',
  'blocked',
  'k3s1',
  'k3s2',
  'k3s1t4x4',
  'k3s2t4x4',
  'k3s1u',
  'k3s2u',
] as const;
export type DepthwiseVariant = (typeof DEPTHWISE_VARIANTS)[number];

/** Output pixels per invocation of a main_k3 variant: `k3sS` is 4x1, `k3sStWxH` W along x and H rows. */
function k3Tile(v: DepthwiseVariant): { tw: number; th: number } | undefined {
  if (v === 'k3s1' || v === 'k3s2') return { tw: 4, th: 1 };
  const m = /^k3s[12]t(\d+)x(\d+)$/.exec(v);
  return m ? { tw: Number(m[1]), th: Number(m[2]) } : undefined;
}

export function depthwiseVariantSupported(g: ConvGeometry, v: DepthwiseVariant): boolean {
  if (v === 'naive') return true;
  if (g.inC % 4 !== 0) return false;
  if (v.startsWith('k3'))
    return g.kH === 3 && g.kW === 3 && g.strideH === g.strideW && g.strideW === (v.startsWith('k3s1') ? 1 : 2);
  return v === 'vec4' || (g.kW <= 3 && g.strideW <= 2);
}

/**
 * The 3x3 kernels measured 2-3x faster than the general ones on lavapipe (bench/profile). There the 4x4 tiles
 * beat the 4x1 ones on all 17 layers of oid-v4, 0.67x their total time (bench/depthwise_tune,
 * results/depthwise_oid-v4_lavapipe.md): lavapipe gathers every storage load lane by lane, and a taller tile
 * loads each input row once for up to 3 output rows. SwiftShader's JIT leaves the array-based 3x3 window in
 * memory: the hand-unrolled ones ran its 3x3 layers 2-3.7x faster (oid-v4, `profile --driver swiftshader
 * --depthwise k3s1u|k3s2u --layers`). Hardware keeps the 4x1 tiles, 4x the invocations to fill a GPU, until
 * a real GPU is measured.
 */
export function selectDepthwiseVariant(g: ConvGeometry, driver: DriverKind = 'unknown'): DepthwiseVariant {
  const k3 =
    driver === 'swiftshader'
      ? (['k3s1u', 'k3s2u'] as const)
      : driver === 'lavapipe'
        ? (['k3s1t4x4', 'k3s2t4x4'] as const)
        : (['k3s1', 'k3s2'] as const);
  for (const v of k3) if (depthwiseVariantSupported(g, v)) return v;
  if (g.outW >= 4 && depthwiseVariantSupported(g, 'blocked')) return 'blocked';
  return depthwiseVariantSupported(g, 'vec4') ? 'vec4' : 'naive';
}

export function depthwiseConv2dPipeline(
  ctx: GpuContext,
  variant: DepthwiseVariant,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  const stride = variant.startsWith('k3s2') ? 2 : 1;
  const tile = k3Tile(variant);
  const consts = `const S: u32 = ${stride}u;\nconst TW: u32 = ${tile?.tw ?? 4}u;\nconst TH: u32 = ${tile?.th ?? 1}u;\n`;
  return ctx.pipeline(`depthwise_conv2d/${variant}/${storage}/wg${workgroupSize}`, () => ({
    label: `depthwise_conv2d_${variant}`,
    code: withStorage(storage, `${ConvParams.wgsl}${consts}${common}${source}`),
    entryPoint: tile ? 'main_k3' : `main_${variant}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'storage', 'rw'],
  }));
}

export function packDepthwiseFilter(filterHWC: Float32Array, channels: number): Float32Array {
  return padLastDimTo4(filterHWC, channels);
}

export function depthwiseThreads(g: ConvGeometry, v: DepthwiseVariant): number {
  const c4 = Math.ceil(g.outC / 4);
  if (v === 'naive') return g.batch * g.outH * g.outW * g.outC;
  if (v === 'vec4') return g.batch * g.outH * g.outW * c4;
  const { tw, th } = k3Tile(v) ?? { tw: 4, th: 1 }; // blocked and the unrolled k3: 4 pixels per invocation
  return g.batch * Math.ceil(g.outH / th) * Math.ceil(g.outW / tw) * c4;
}

export function depthwiseCost(g: ConvGeometry): { flops: number; bytes: number } {
  const macs = g.batch * g.outH * g.outW * g.outC * g.kH * g.kW;
  const bytes =
    4 * (g.batch * g.inH * g.inW * g.inC + g.kH * g.kW * g.outC + g.outC + g.batch * g.outH * g.outW * g.outC);
  return { flops: 2 * macs, bytes };
}

export interface DepthwiseBindings {
  /** 16-byte aligned region; length a multiple of 4 floats. */
  input: Binding;
  filter: Binding;
  bias: Binding;
  output: Binding;
}

export function depthwiseConv2dDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  variant: DepthwiseVariant,
  g: ConvGeometry,
  act: Clamp,
  b: DepthwiseBindings,
  opts: { view?: OutputView; workgroupSize?: number; label?: string } = {},
): Dispatch {
  if (g.inC !== g.outC) throw new RangeError(`depthwise conv needs inC == outC (got ${g.inC} and ${g.outC})`);
  if (!depthwiseVariantSupported(g, variant))
    throw new RangeError(`depthwise variant ${variant} does not support C=${g.inC}, KW=${g.kW}, stride ${g.strideW}`);
  const view = opts.view ?? contiguousView(g.outH, g.outW, g.outC);
  return makeDispatch(
    ctx,
    pipe,
    ConvParams,
    convParams(g, act, view),
    [b.input, b.filter, b.bias, b.output],
    { threads: depthwiseThreads(g, variant), workgroupSize: opts.workgroupSize ?? 64 },
    { label: opts.label ?? `depthwise_conv2d_${variant}`, op: 'depthwise_conv2d', ...depthwiseCost(g) },
  );
}
