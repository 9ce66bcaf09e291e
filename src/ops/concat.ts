/**
 * concat: tensors joined along an axis, with a fused clamp (quantized graphs). No kernel: each
 * input's producer writes straight into its slice of the output (an output view), so the SSD
 * predictions are gathered without a copy. TFLite CONCATENATION; ONNX Concat.
 */
import type { Clamp } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import { UnsupportedOperatorError } from '../errors.ts';
import { clampBackwardRef } from '../kernels/activation_backward_ref.ts';
import { isIdentity, parseClamp } from './support/conv.ts';
import type { OptionsSchema } from './support/interchange.ts';
import { qconcatPartDispatch, qlutPipeline } from '../kernels/qelementwise.ts';
import { concatRequantTable } from '../kernels/quant_tables.ts';
import type { LowerContext } from './support/lowering.ts';
import { IntegerStep, integerOf, refuseInteger } from './support/quantized.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';

export interface ConcatNode extends NodeBase {
  op: 'concat';
  axis: number;
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    concat: ConcatNode;
  }
}

export const CONCAT_OPTIONS = {
  table: 'ConcatenationOptions',
  type: 10,
  fields: { axis: [0, 'i32'], activation: [1, 'activation'] },
} as const satisfies OptionsSchema;

function normalizedAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!(a >= 0 && a < rank)) throw new ShapeError(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** Sizes around the axis: `outer` blocks of `parts[k] * inner` values per input. */
function layout(shapes: readonly (readonly number[])[], out: readonly number[], axis: number) {
  const a = normalizedAxis(axis, out.length);
  return { outer: product(out.slice(0, a)), inner: product(out.slice(a + 1)), parts: shapes.map((s) => s[a]!) };
}

function join(
  shapes: readonly (readonly number[])[],
  values: readonly Float64Array[] | readonly Float32Array[],
  out: number[],
  axis: number,
): Float64Array {
  const { outer, inner, parts } = layout(shapes, out, axis);
  const y = new Float64Array(product(out));
  let off = 0;
  values.forEach((v, k) => {
    const d = parts[k]! * inner;
    for (let o = 0; o < outer; o++) y.set(v.subarray(o * d, (o + 1) * d), o * (y.length / outer) + off);
    off += d;
  });
  return y;
}

/**
 * Integer lowering: packed 8-bit slices do not start on word boundaries, and each input is requantized
 * to the output's scale (TFLite's ConcatenationWithScaling), so each input is one table dispatch
 * writing its part of the output, in input order.
 */
function lowerInteger(n: ConcatNode, lc: LowerContext): void {
  const iq = integerOf(lc);
  const out = n.outputs[0]!;
  const y = iq.tensor(out);
  if (y.activation && y.activation !== 'NONE') refuseInteger(n, lc, `fused activation ${y.activation}`);
  const shape = lc.shape(out);
  const axis = normalizedAxis(n.axis, shape.length);
  const sizes = n.inputs.map((t) => lc.shape(t)[axis]!);
  n.inputs.forEach((t, i) => {
    const x = iq.tensor(t);
    if (x.dtype !== y.dtype) refuseInteger(n, lc, `input ${t} is ${x.dtype}, the output ${y.dtype}`);
    const table = { name: `${n.name}:int:table${i}`, lastDim: 0, words: () => concatRequantTable(y.dtype, x, y) };
    lc.emit(
      new IntegerStep(`${n.name}[${i}]`, 'qconcat', 'table', out, lc.defaultView(out), [t], [table], {
        pipeline: (ctx) => qlutPipeline(ctx),
        dispatch: (ctx, pipe, io) =>
          qconcatPartDispatch(
            ctx,
            pipe,
            shape,
            axis,
            sizes,
            i,
            io.weight(table.name),
            io.tensor(t),
            io.tensor(out),
            n.name,
          ),
      }),
    );
  });
}

/** Each input's producer gets a view into the output; a reshape between them is looked through. */
function lower(n: ConcatNode, lc: LowerContext): void {
  if (lc.integer) return lowerInteger(n, lc);
  const out = n.outputs[0]!;
  const s = lc.shape(out);
  const axis = normalizedAxis(n.axis, s.length);
  const inner = product(s.slice(axis + 1));
  const outer = product(s.slice(1, axis));
  let offset = 0;
  for (const t of n.inputs) {
    const src = lc.source(t);
    const sole = src?.chain.slice(1).every((c) => lc.useCount(c) === 1);
    if (!src?.step.writeSlice || !sole) {
      throw new UnsupportedOperatorError(
        lc.model,
        'CONCATENATION',
        `input ${t} is not produced by a convolution used only here`,
      );
    }
    const made = lc.shape(src.step.output);
    let view;
    if (outer === 1) view = { base: offset * inner, batchStride: s[axis]! * inner, pixelStride: made[3]! };
    else if (axis === s.length - 1 && s.length === 4 && src.chain.length === 1)
      view = { base: offset, batchStride: product(s.slice(1)), pixelStride: s[3]! };
    else throw new UnsupportedOperatorError(lc.model, 'CONCATENATION', `axis ${n.axis} of shape [${s}] needs a copy`);
    src.step.writeSlice(view, n.activation);
    for (const c of src.chain) lc.place(c, out);
    offset += lc.shape(t)[axis]!;
  }
}

export const op: OpDef<ConcatNode> = {
  op: 'concat',
  arity: [1, Infinity],
  integer: true,
  rearranges: true,
  parse: (raw, base, c, what) => ({
    op: 'concat',
    ...base,
    axis: c.int(raw.axis, `${what} axis`, -8),
    activation: parseClamp(c, raw.activation, what),
  }),
  outputShape(n, inputs) {
    const rank = inputs[0]!.length;
    const a = normalizedAxis(n.axis, rank);
    const s = [...inputs[0]!];
    s[a] = 0;
    for (const t of inputs) {
      if (t.length !== rank || t.some((d, i) => i !== a && d !== s[i]))
        throw new ShapeError(`inputs of shapes [${inputs.join('], [')}] cannot be joined on axis ${n.axis}`);
      s[a] += t[a]!;
    }
    return s;
  },
  reference(n, inputs, cx) {
    const y = join(
      n.inputs.map((t) => cx.shape(t)),
      inputs,
      cx.shape(n.outputs[0]!),
      n.axis,
    );
    return Float32Array.from(y, (v) => Math.min(Math.max(v, n.activation.min), n.activation.max));
  },
  cost: () => ({ params: 0, macs: 0, bytes: 0 }),
  lower,
  onnx(n, b) {
    const rank = b.shape(n.outputs[0]!).length;
    const axis = b.axis(normalizedAxis(n.axis, rank), rank);
    const inputs = n.inputs.map((t) => b.value(t));
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'Concat', inputs, outputs: [target], attributes: [{ name: 'axis', int: axis }] }),
    );
  },
  tflite: {
    builtins: ['CONCATENATION'],
    convert(op, cx) {
      const o = cx.options(op, CONCAT_OPTIONS);
      const inputs = op.inputs.map((_, k) => cx.activation(op, k));
      const rank = cx.outputShape(op).length;
      const axis = o.axis < 0 ? o.axis + rank : o.axis;
      if (!(axis >= 0 && axis < rank)) cx.fail(op, `has axis ${o.axis} for rank ${rank}`);
      const out = cx.output(op);
      return { op: 'concat', name: out, inputs, outputs: [out], axis, activation: cx.clamp(op, o.activation) };
    },
  },
  train: {
    // The inputs' producers wrote into the output's storage and read their gradients from there too.
    async backward(n) {
      if (!isIdentity(n.activation))
        throw new Error(`training: concatenation ${n.name} has a clamp; only float models train`);
      return [];
    },
    forward64(n, inputs, cx) {
      const y = join(
        n.inputs.map((t) => cx.shape(t)),
        inputs,
        cx.shape(n.outputs[0]!),
        n.axis,
      );
      return y.map((v) => Math.min(Math.max(v, n.activation.min), n.activation.max));
    },
    backward64(n, _, y, dy, cx) {
      const { outer, inner, parts } = layout(
        n.inputs.map((t) => cx.shape(t)),
        cx.shape(n.outputs[0]!),
        n.axis,
      );
      const dz = clampBackwardRef(y, dy, n.activation);
      let off = 0;
      const grads = parts.map((p) => {
        const d = p * inner;
        const g = new Float64Array(outer * d);
        for (let o = 0; o < outer; o++)
          g.set(dz.subarray(o * (dz.length / outer) + off, o * (dz.length / outer) + off + d), o * d);
        off += d;
        return g;
      });
      return { inputs: grads, params: [] };
    },
  },
};
