/**
 * Quantized element-wise ops on 8-bit tensors packed four to a u32: ADD (either runtime's
 * arithmetic), and the table ops: LOGISTIC and CONCATENATION (one dispatch per input, requantized
 * through concatRequantTable). RESHAPE needs no kernel: packed tensors are flat, as in TFLite.
 */
import addSource from '../../shaders/qadd.wgsl';
import lutSource from '../../shaders/qlut.wgsl';
import dequantizeSource from '../../shaders/qdequantize.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { quantFields, quantKey, quantPrelude, type QuantKernelConfig } from './qcommon.ts';
import type { AddRequant } from './quantization.ts';

export const QAddParams = uniformSchema('Params', {
  count: 'u32',
  ...quantFields,
  aZp: 'i32',
  bZp: 'i32',
  leftShift: 'i32',
  aMul: 'i32',
  aShift: 'i32',
  bMul: 'i32',
  bShift: 'i32',
  outMul: 'i32',
  outShift: 'i32',
  xBias: 'i32',
  xAMul: 'i32',
  xBMul: 'i32',
  xShift: 'i32',
});

export const QLutParams = uniformSchema('Params', {
  outer: 'u32',
  inChunk: 'u32',
  outChunk: 'u32',
  offset: 'u32',
  firstWord: 'u32',
  words: 'u32',
  ...quantFields,
});

export function qaddPipeline(ctx: GpuContext, c: QuantKernelConfig, workgroupSize = 64): Promise<CachedPipeline> {
  return ctx.pipeline(`qadd/${quantKey(c)}/wg${workgroupSize}`, () => ({
    label: 'qadd',
    code: quantPrelude(QAddParams, c, false) + addSource,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw', 'rw'],
  }));
}

export function qaddDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  q: AddRequant,
  a: Binding,
  b: Binding,
  y: Binding,
  label = 'qadd',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    QAddParams,
    {
      count,
      inZp: 0,
      wZp: 0,
      outZp: q.outputZeroPoint,
      outMin: q.min,
      outMax: q.max,
      aZp: q.a.zeroPoint,
      bZp: q.b.zeroPoint,
      leftShift: q.leftShift,
      aMul: q.aMultiplier,
      aShift: q.aShift,
      bMul: q.bMultiplier,
      bShift: q.bShift,
      outMul: q.outMultiplier,
      outShift: q.outShift,
      xBias: q.xBias,
      xAMul: q.xAMul,
      xBMul: q.xBMul,
      xShift: q.xShift,
    },
    [a, b, y],
    { threads: Math.ceil(count / 4), workgroupSize: 64 },
    { label, op: 'qadd', flops: count, bytes: 3 * count },
  );
}

export const QDequantizeParams = uniformSchema('Params', { count: 'u32', ...quantFields });

/** 8-bit values to float32 through a table (dequantizeTable()): the integer network's outputs for the SSD head. */
export function qdequantizePipeline(ctx: GpuContext, workgroupSize = 64): Promise<CachedPipeline> {
  return ctx.pipeline(`qdequantize/wg${workgroupSize}`, () => ({
    label: 'qdequantize',
    code: quantPrelude(QDequantizeParams, { dtype: 'uint8', requant: 'tflite' }, false) + dequantizeSource,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'storage', 'rw', 'rw'],
  }));
}

export function qdequantizeDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  table: Binding,
  x: Binding,
  y: Binding,
  label = 'qdequantize',
): Dispatch {
  return makeDispatch(
    ctx,
    pipe,
    QDequantizeParams,
    { count, inZp: 0, wZp: 0, outZp: 0, outMin: 0, outMax: 0 },
    [table, x, y],
    { threads: count, workgroupSize: 64 },
    { label, op: 'qdequantize', flops: count, bytes: 5 * count },
  );
}

/** The table shader is the same for every dtype and requantization: the table carries them. */
export function qlutPipeline(ctx: GpuContext, workgroupSize = 64): Promise<CachedPipeline> {
  return ctx.pipeline(`qlut/wg${workgroupSize}`, () => ({
    label: 'qlut',
    code: quantPrelude(QLutParams, { dtype: 'uint8', requant: 'tflite' }, false) + lutSource,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'storage', 'rw', 'rw'],
  }));
}

interface Placement {
  outer: number;
  inChunk: number;
  outChunk: number;
  offset: number;
}

function lutDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  at: Placement,
  table: Binding,
  x: Binding,
  y: Binding,
  label: string,
  op: string,
): Dispatch {
  const first = at.offset;
  const last = (at.outer - 1) * at.outChunk + at.offset + at.inChunk - 1;
  const firstWord = Math.floor(first / 4);
  const words = Math.floor(last / 4) - firstWord + 1;
  return makeDispatch(
    ctx,
    pipe,
    QLutParams,
    { ...at, firstWord, words, inZp: 0, wZp: 0, outZp: 0, outMin: 0, outMax: 0 },
    [table, x, y],
    { threads: words, workgroupSize: 64 },
    { label, op, flops: at.outer * at.inChunk, bytes: 2 * at.outer * at.inChunk },
  );
}

/** LOGISTIC of `count` values through logisticTable(). */
export function qlogisticDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  count: number,
  table: Binding,
  x: Binding,
  y: Binding,
  label = 'qlogistic',
): Dispatch {
  return lutDispatch(
    ctx,
    pipe,
    { outer: 1, inChunk: count, outChunk: count, offset: 0 },
    table,
    x,
    y,
    label,
    'qlogistic',
  );
}

export interface QConcatPart {
  /** The input's extent along the axis. */
  size: number;
  /** concatRequantTable() of this input to the output's quantization. */
  table: Binding;
  input: Binding;
}

/**
 * CONCATENATION along `axis` of tensors shaped like `shape` except along the axis: one dispatch per
 * input, in order (each keeps the bytes of the words it shares with its neighbours).
 */
export function qconcatDispatches(
  ctx: GpuContext,
  pipe: CachedPipeline,
  shape: readonly number[],
  axis: number,
  parts: readonly QConcatPart[],
  y: Binding,
  label = 'qconcat',
): Dispatch[] {
  const sizes = parts.map((p) => p.size);
  return parts.map((p, i) =>
    qconcatPartDispatch(ctx, pipe, shape, axis, sizes, i, p.table, p.input, y, `${label}[${i}]`),
  );
}

/** The dispatch of input `part` alone (extents along the axis: `sizes`); run them in input order. */
export function qconcatPartDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  shape: readonly number[],
  axis: number,
  sizes: readonly number[],
  part: number,
  table: Binding,
  x: Binding,
  y: Binding,
  label = 'qconcat',
): Dispatch {
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outChunk = sizes.reduce((n, s) => n + s, 0) * inner;
  const offset = sizes.slice(0, part).reduce((n, s) => n + s, 0) * inner;
  const at = { outer, inChunk: sizes[part]! * inner, outChunk, offset };
  return lutDispatch(ctx, pipe, at, table, x, y, label, 'qconcat');
}
