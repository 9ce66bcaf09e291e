/** Test helpers for the quantized kernels: random operands and requantization, packed upload, exact checks. */
import assert from 'node:assert/strict';
import type { GpuContext } from '../../src/gpu/context.ts';
import {
  convRequant,
  packQuantized,
  quantArray,
  unpackQuantized,
  type ConvRequant,
  type FusedActivation,
  type QuantArray,
  type QuantDType,
  type QuantParams,
  type Requantization,
} from '../../src/kernels/quantization.ts';
import { randomFloats, storage } from './gpu.ts';

export const DTYPES: readonly QuantDType[] = ['uint8', 'int8'];

/** Deterministic random quantized values covering the whole range of the type. */
export function randomQuant(dtype: QuantDType, n: number, seed: number): QuantArray {
  const r = randomFloats(n, seed, 0, 256);
  const out = quantArray(dtype, n);
  const lo = dtype === 'uint8' ? 0 : -128;
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r[i]!);
  return out;
}

export function randomInt(seed: number, lo: number, hi: number): number {
  return lo + Math.floor(randomFloats(1, seed, 0, hi - lo + 1)[0]!);
}

export interface RandomConvQuant {
  input: QuantParams;
  filterZeroPoint: number;
  requant: ConvRequant;
  bias: Int32Array;
}

/**
 * Zero points, scales and bias for a convolution with `k` multiply-adds per output, chosen so the
 * requantized outputs spread over the range (and the activation clamp bites): uint8 gets a
 * per-tensor asymmetric filter, int8 a symmetric per-channel one, as TFLite's converters produce;
 * ReLU6 outputs get the [0, 6] range trained models use.
 */
export function randomConvQuant(
  dtype: QuantDType,
  outC: number,
  k: number,
  act: FusedActivation,
  requant: Requantization,
  seed: number,
): RandomConvQuant {
  const lo = dtype === 'uint8' ? 0 : -128;
  const input = { scale: 0.02 + randomFloats(1, seed, 0, 0.01)[0]!, zeroPoint: lo + randomInt(seed + 1, 96, 160) };
  const filterZeroPoint = dtype === 'uint8' ? randomInt(seed + 2, 110, 145) : 0;
  const output =
    act === 'RELU6'
      ? { scale: 6 / 255, zeroPoint: lo }
      : act === 'NONE'
        ? { scale: 0.02 + randomFloats(1, seed + 3, 0, 0.03)[0]!, zeroPoint: lo + randomInt(seed + 3, 60, 200) }
        : { scale: 0.02 + randomFloats(1, seed + 3, 0, 0.03)[0]!, zeroPoint: lo + randomInt(seed + 3, 0, 40) };
  // |acc| ~ 75^2 sqrt(k) (uniform 8-bit operands): a filter scale that maps it to ~60 output steps.
  const accSpread = 75 * 75 * Math.sqrt(k);
  const baseScale = (60 * output.scale) / (input.scale * accSpread);
  const filterScales =
    dtype === 'uint8' ? [baseScale] : Array.from(randomFloats(outC, seed + 4, 0.5, 2), (f) => f * baseScale);
  const bias = Int32Array.from(randomFloats(outC, seed + 6, -1, 1), (v) => Math.round(v * accSpread));
  return {
    input,
    filterZeroPoint,
    bias,
    requant: convRequant({ dtype, input, filterScales, output, activation: act, requant, outC }),
  };
}

/** A storage buffer holding quantized values packed four to a word. */
export function quantStorage(ctx: GpuContext, values: QuantArray): GPUBuffer {
  return storage(ctx, packQuantized(values, 4));
}

export function int32Storage(ctx: GpuContext, values: Int32Array): GPUBuffer {
  return storage(ctx, new Uint32Array(values.buffer, values.byteOffset, values.length));
}

/** An output buffer for `n` quantized values, pre-filled with a pattern the kernels must overwrite. */
export function quantOutput(ctx: GpuContext, n: number): GPUBuffer {
  return storage(ctx, new Uint32Array(Math.max(4, Math.ceil(n / 4))).fill(0xa5a5a5a5));
}

export async function readQuant(ctx: GpuContext, buffer: GPUBuffer, dtype: QuantDType, n: number): Promise<QuantArray> {
  ctx.throwUncaptured('before readback');
  const words = new Uint32Array(await ctx.readBuffer(buffer, 0, Math.ceil(n / 4) * 4));
  return unpackQuantized(dtype, words, n);
}

/** Exact equality, reporting how many values differ and the first one. */
export function assertSameQuant(actual: QuantArray, ref: QuantArray, what = 'result'): void {
  assert.equal(actual.length, ref.length, `${what}: length ${actual.length} != ${ref.length}`);
  let first = -1,
    count = 0;
  for (let i = 0; i < ref.length; i++) {
    if (actual[i] !== ref[i]) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count)
    assert.fail(
      `${what}: ${count} of ${ref.length} values differ; first at ${first}: ${actual[first]} vs reference ${ref[first]}`,
    );
}

/** Fails if all values are equal: a grid case whose outputs are constant would test nothing. */
export function assertVaried(values: QuantArray, what = 'reference'): void {
  const distinct = new Set(values).size;
  const want = Math.min(4, Math.ceil(values.length / 5));
  assert.ok(distinct >= want, `${what}: only ${distinct} distinct values in ${values.length}`);
}
