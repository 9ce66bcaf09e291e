/** Uniform layout shared by conv2d and depthwise_conv2d: one schema, one WGSL struct. */
import { uniformSchema, type UniformValues } from '../gpu/uniforms.ts';
import type { Clamp, ConvGeometry, OutputView } from '../core/geometry.ts';

/** A convolution's geometry as uniform fields; forward and backward layouts both start with it. */
export const geometryFields = {
  batch: 'u32',
  inH: 'u32',
  inW: 'u32',
  inC: 'u32',
  outH: 'u32',
  outW: 'u32',
  outC: 'u32',
  outC4: 'u32',
  kH: 'u32',
  kW: 'u32',
  strideH: 'u32',
  strideW: 'u32',
  padTop: 'u32',
  padLeft: 'u32',
} as const;

export function geometryValues(g: ConvGeometry): UniformValues<typeof geometryFields> {
  return {
    batch: g.batch,
    inH: g.inH,
    inW: g.inW,
    inC: g.inC,
    outH: g.outH,
    outW: g.outW,
    outC: g.outC,
    outC4: Math.ceil(g.outC / 4),
    kH: g.kH,
    kW: g.kW,
    strideH: g.strideH,
    strideW: g.strideW,
    padTop: g.padTop,
    padLeft: g.padLeft,
  };
}

const fields = {
  ...geometryFields,
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
} as const;

export const ConvParams = uniformSchema('Params', fields);

export function convParams(g: ConvGeometry, act: Clamp, view: OutputView): UniformValues<typeof fields> {
  return {
    ...geometryValues(g),
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
}
