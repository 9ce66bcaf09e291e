/**
 * Convolution geometry (TensorFlow's SAME/VALID padding rules), fused activations as clamp ranges and
 * output views: plain values shared by kernels, ops, converters and training, with no GPU in sight.
 */
export type Padding = 'SAME' | 'VALID' | readonly [top: number, left: number, bottom: number, right: number];

export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  padBottom: number;
  padRight: number;
}

export interface ConvSpec {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  /** For depthwise convolutions (multiplier 1) this must equal inC. */
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  padding: Padding;
}

/** TensorFlow's padding rule: SAME puts the odd extra pixel at the bottom/right. */
export function convGeometry(s: ConvSpec): ConvGeometry {
  let outH: number, outW: number, padTop: number, padLeft: number, padBottom: number, padRight: number;
  if (s.padding === 'SAME') {
    outH = Math.ceil(s.inH / s.strideH);
    outW = Math.ceil(s.inW / s.strideW);
    const ph = Math.max((outH - 1) * s.strideH + s.kH - s.inH, 0);
    const pw = Math.max((outW - 1) * s.strideW + s.kW - s.inW, 0);
    padTop = Math.floor(ph / 2);
    padBottom = ph - padTop;
    padLeft = Math.floor(pw / 2);
    padRight = pw - padLeft;
  } else if (s.padding === 'VALID') {
    outH = Math.floor((s.inH - s.kH) / s.strideH) + 1;
    outW = Math.floor((s.inW - s.kW) / s.strideW) + 1;
    padTop = padLeft = padBottom = padRight = 0;
  } else {
    [padTop, padLeft, padBottom, padRight] = s.padding;
    outH = Math.floor((s.inH + padTop + padBottom - s.kH) / s.strideH) + 1;
    outW = Math.floor((s.inW + padLeft + padRight - s.kW) / s.strideW) + 1;
  }
  if (!(outH >= 1 && outW >= 1)) {
    throw new RangeError(
      `convolution output would be empty: input ${s.inH}x${s.inW}, kernel ${s.kH}x${s.kW}, stride ${s.strideH}x${s.strideW}, padding ${JSON.stringify(s.padding)}`,
    );
  }
  return {
    batch: s.batch,
    inH: s.inH,
    inW: s.inW,
    inC: s.inC,
    outH,
    outW,
    outC: s.outC,
    kH: s.kH,
    kW: s.kW,
    strideH: s.strideH,
    strideW: s.strideW,
    padTop,
    padLeft,
    padBottom,
    padRight,
  };
}

/** Fused activation as a clamp range: none, ReLU, ReLU6, or a quantized tensor's representable range. */
export interface Clamp {
  min: number;
  max: number;
}
/** Largest finite f32: used instead of infinities, which WGSL lets compilers assume away. */
export const F32_MAX = 3.4028234663852886e38;
export const ACTIVATIONS = {
  none: { min: -F32_MAX, max: F32_MAX },
  relu: { min: 0, max: F32_MAX },
  relu6: { min: 0, max: 6 },
} as const satisfies Record<string, Clamp>;

/**
 * Where a kernel writes its NHWC output inside the bound buffer (in elements): lets a producer write
 * straight into its slice of a concatenation instead of a copy.
 */
export interface OutputView {
  base: number;
  batchStride: number;
  pixelStride: number;
}
export function contiguousView(outH: number, outW: number, outC: number): OutputView {
  return { base: 0, batchStride: outH * outW * outC, pixelStride: outC };
}
