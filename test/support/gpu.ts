/** Test helpers: one GPU context per test process, buffer upload/readback, and tolerance checks. */
import assert from 'node:assert/strict';
import { GpuContext } from '../../src/gpu/context.ts';
import type { DriverChoice } from '../../src/gpu/provider.ts';
import { installNodeGpu } from '../../src/node_gpu.ts';
import { encodeDispatches, type Dispatch } from '../../src/gpu/dispatch.ts';
import { decodeFloat16, encodeFloat16 } from '../../src/graph/float16.ts';
import type { StorageType } from '../../src/kernels/storage.ts';

let shared: Promise<GpuContext> | undefined;

export function gpu(): Promise<GpuContext> {
  installNodeGpu();
  shared ??= GpuContext.acquire({ driver: (process.env.MOBILESSD_DRIVER as DriverChoice | undefined) ?? 'auto' });
  return shared;
}

export async function releaseGpu(): Promise<void> {
  if (shared) (await shared).destroy();
  shared = undefined;
}

export function storage(ctx: GpuContext, data: Float32Array | Uint32Array, label = 'test'): GPUBuffer {
  return ctx.createBuffer(
    label,
    data.byteLength,
    GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    data,
  );
}

export function output(ctx: GpuContext, floats: number, fill = Number.NaN): GPUBuffer {
  return storage(ctx, new Float32Array(Math.max(floats, 4)).fill(fill), 'output');
}

export async function run(ctx: GpuContext, dispatches: readonly Dispatch[]): Promise<void> {
  await ctx.checked('test dispatch', () => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, dispatches);
    pass.end();
    ctx.queue.submit([enc.finish()]);
  });
  ctx.throwUncaptured('test dispatch');
  for (const d of dispatches) for (const b of d.owned) b.destroy();
}

export async function readF32(ctx: GpuContext, buffer: GPUBuffer, count: number): Promise<Float32Array> {
  ctx.throwUncaptured('before readback');
  return new Float32Array(await ctx.readBuffer(buffer, 0, Math.ceil((count * 4) / 4) * 4)).subarray(0, count);
}

/** Deterministic pseudo-random floats in [lo, hi) (mulberry32). */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

/** Asserts |a - ref| <= atol + rtol*|ref| element-wise; reports the worst element. */
export function assertClose(
  actual: ArrayLike<number>,
  ref: ArrayLike<number>,
  atol: number,
  rtol: number,
  what = 'result',
): void {
  assert.equal(actual.length, ref.length, `${what}: length ${actual.length} != ${ref.length}`);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < ref.length; i++) {
    const a = actual[i]!;
    const r = ref[i]!;
    const err = Math.abs(a - r);
    const excess = err - (atol + rtol * Math.abs(r));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = Number.isNaN(excess) ? Infinity : excess;
    }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${actual[worst]}, reference ${ref[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/** The values a float16 buffer holds for `v` (round to nearest even), as float32. */
export function roundF16(v: Float32Array): Float32Array {
  return decodeFloat16(encodeFloat16(v));
}

/** A storage buffer of `data` in a kernel storage type: f16 packs two values a word. */
export function storageAs(ctx: GpuContext, data: Float32Array, st: StorageType, label = 'test'): GPUBuffer {
  if (st === 'f32') return storage(ctx, data, label);
  const bytes = encodeFloat16(data);
  const words = new Uint32Array(Math.max(1, Math.ceil(bytes.length / 4)));
  new Uint8Array(words.buffer).set(bytes);
  return storage(ctx, words, label);
}

/** An output buffer of `count` values in a storage type, filled with NaN. */
export function outputAs(ctx: GpuContext, count: number, st: StorageType): GPUBuffer {
  return storageAs(ctx, new Float32Array(Math.max(count, 8)).fill(Number.NaN), st, 'output');
}

/** Reads `count` values of a storage type back as float32. */
export async function readAs(
  ctx: GpuContext,
  buffer: GPUBuffer,
  count: number,
  st: StorageType,
): Promise<Float32Array> {
  if (st === 'f32') return readF32(ctx, buffer, count);
  ctx.throwUncaptured('before readback');
  const raw = await ctx.readBuffer(buffer, 0, Math.ceil((count * 2) / 4) * 4);
  return decodeFloat16(new Uint8Array(raw, 0, count * 2));
}

/**
 * Tolerance of an f16-storage kernel against its CPU reference run on the same f16-rounded inputs and weights.
 * Both sum in float32, in different orders: at most `terms` * 2^-24 * `sumBound` apart (`sumBound` bounds the
 * sum of the terms' magnitudes). The kernel then stores float16: half an ulp (2^-11 relative) of rounding, taken
 * as one ulp (2^-10) since the value rounded is the perturbed sum; below float16's smallest normal, its
 * subnormal spacing 2^-24 is absolute.
 */
export function f16Tolerance(terms: number, sumBound: number): { atol: number; rtol: number } {
  return { atol: terms * 2 ** -24 * sumBound + 2 ** -24, rtol: 2 ** -10 };
}
