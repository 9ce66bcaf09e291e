/** Geometry, activation and output-view types shared by the convolution kernels and their CPU references. */
import { grid1d, type CachedPipeline, type GpuContext } from '../gpu/context.ts';
import type { UniformSchema, UniformType, UniformValues } from '../gpu/uniforms.ts';

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
    throw new RangeError(`convolution output would be empty: input ${s.inH}x${s.inW}, kernel ${s.kH}x${s.kW}, stride ${s.strideH}x${s.strideW}, padding ${JSON.stringify(s.padding)}`);
  }
  return { batch: s.batch, inH: s.inH, inW: s.inW, inC: s.inC, outH, outW, outC: s.outC, kH: s.kH, kW: s.kW, strideH: s.strideH, strideW: s.strideW, padTop, padLeft, padBottom, padRight };
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

/** One recorded compute dispatch; the executor replays a list of these each frame. */
export interface Dispatch {
  label: string;
  op: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
  /** Multiply-adds x 2 (for GFLOP/s) and bytes moved (for GB/s), as the roofline counts them. */
  flops: number;
  bytes: number;
  /** Buffers owned by this dispatch (its uniforms), released with it. */
  owned: GPUBuffer[];
}

/**
 * All activations live in one arena buffer, and WebGPU forbids binding one buffer as read-only and
 * writable storage in the same dispatch (usage is tracked per buffer, not per range). So kernels
 * bind activations, inputs included, as read_write storage; only weights are read-only.
 */
export type Binding = GPUBufferBinding | GPUTextureView;

export function makeDispatch<F extends Record<string, UniformType>>(
  ctx: GpuContext,
  cached: CachedPipeline,
  schema: UniformSchema<F>,
  params: UniformValues<F>,
  resources: readonly Binding[],
  shape: { threads: number; workgroupSize: number } | { workgroups: [number, number, number] },
  meta: { label: string; op: string; flops: number; bytes: number },
): Dispatch {
  const uniform = ctx.createBuffer(`${meta.label}:params`, schema.size, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, new Uint8Array(schema.pack(params)));
  const bindGroup = ctx.device.createBindGroup({
    label: meta.label,
    layout: cached.layout,
    entries: [{ binding: 0, resource: { buffer: uniform } }, ...resources.map((r, i) => ({ binding: i + 1, resource: r }))],
  });
  const maxPerDim = ctx.report.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  const workgroups = 'workgroups' in shape ? shape.workgroups : grid1d(shape.threads, shape.workgroupSize, maxPerDim);
  return { ...meta, pipeline: cached.pipeline, bindGroup, workgroups, owned: [uniform] };
}

export function encodeDispatches(pass: GPUComputePassEncoder, list: readonly Dispatch[]): void {
  for (const d of list) {
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1], d.workgroups[2]);
  }
}

/** Zero-pads the last axis of a row-major tensor from `n` to a multiple of 4 (vec4 loads). */
export function padLastDimTo4(data: Float32Array, n: number): Float32Array {
  const n4 = Math.ceil(n / 4) * 4;
  if (n4 === n) return data;
  const rows = data.length / n;
  const out = new Float32Array(rows * n4);
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * n, r * n + n), r * n4);
  return out;
}
