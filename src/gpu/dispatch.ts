/** A recorded compute dispatch and how lists of them are replayed: what kernels produce and executors encode. */
import { grid1d, type CachedPipeline, type GpuContext } from './context.ts';
import type { UniformSchema, UniformType, UniformValues } from './uniforms.ts';

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
  const uniform = ctx.createBuffer(
    `${meta.label}:params`,
    schema.size,
    GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    new Uint8Array(schema.pack(params)),
  );
  const bindGroup = ctx.device.createBindGroup({
    label: meta.label,
    layout: cached.layout,
    entries: [
      { binding: 0, resource: { buffer: uniform } },
      ...resources.map((r, i) => ({ binding: i + 1, resource: r })),
    ],
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
