/**
 * GPU timing for benchmarks and profiles: timestamp queries around each dispatch when the adapter
 * has them (one compute pass per timed dispatch), else wall-clock time of a submit that repeats the
 * work, waited with onSubmittedWorkDone. Never used on the detection hot path.
 */
import type { GpuContext } from './context.ts';
import type { Dispatch } from './dispatch.ts';

export interface DispatchTiming {
  label: string;
  ms: number;
}

/** Times every dispatch of `list` (run in order, as one submit); returns per-dispatch milliseconds. */
export async function timeDispatches(ctx: GpuContext, list: readonly Dispatch[]): Promise<DispatchTiming[]> {
  if (!ctx.hasTimestamps) {
    const out: DispatchTiming[] = [];
    for (const d of list) out.push({ label: d.label, ms: await wallTime(ctx, [d], 1) });
    return out;
  }
  const count = list.length * 2;
  const querySet = ctx.device.createQuerySet({ type: 'timestamp', count });
  const resolve = ctx.device.createBuffer({
    size: count * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const enc = ctx.device.createCommandEncoder();
  list.forEach((d, i) => {
    const pass = enc.beginComputePass({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
    });
    pass.setPipeline(d.pipeline);
    pass.setBindGroup(0, d.bindGroup);
    pass.dispatchWorkgroups(...d.workgroups);
    pass.end();
  });
  enc.resolveQuerySet(querySet, 0, count, resolve, 0);
  ctx.queue.submit([enc.finish()]);
  const raw = new BigInt64Array(await ctx.readBuffer(resolve, 0, count * 8));
  querySet.destroy();
  resolve.destroy();
  return list.map((d, i) => ({ label: d.label, ms: Number(raw[2 * i + 1]! - raw[2 * i]!) / 1e6 }));
}

/** Wall-clock ms per repetition of `list`, all repetitions in one submit. */
export async function wallTime(ctx: GpuContext, list: readonly Dispatch[], reps: number): Promise<number> {
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass();
  for (let r = 0; r < reps; r++)
    for (const d of list) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
    }
  pass.end();
  const t0 = performance.now();
  ctx.queue.submit([enc.finish()]);
  await ctx.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / reps;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * GPU ms of `list` run as one compute pass, as a frame runs it: timestamps at the pass's start and end when
 * the device has them (no per-dispatch passes inflating the total), else wall clock of the submit.
 */
export async function timePass(ctx: GpuContext, list: readonly Dispatch[]): Promise<number> {
  if (!ctx.hasTimestamps) return wallTime(ctx, list, 1);
  const querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  try {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass({
      timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
    });
    for (const d of list) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
    }
    pass.end();
    enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
    ctx.queue.submit([enc.finish()]);
    const raw = new BigInt64Array(await ctx.readBuffer(resolve, 0, 16));
    return Number(raw[1]! - raw[0]!) / 1e6;
  } finally {
    querySet.destroy();
    resolve.destroy();
  }
}
