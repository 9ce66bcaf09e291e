/**
 * What the two convolution ops (conv2d.ts, depthwise_conv2d.ts) share: attributes, their checks,
 * geometry and shape inference, cost, ONNX and TFLite mapping, the concatenation-slice fusion hook and
 * the backward pass. The ops differ in their filter layout (HWIO against HWC) and their kernels.
 */
import type { Checker } from '../../core/checker.ts';
import { ACTIVATIONS, convGeometry, type Clamp, type ConvGeometry, type OutputView } from '../../core/geometry.ts';
import { product } from '../../core/shape.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import { activationBackwardPipeline, clampMaskDispatch } from '../../kernels/activation_backward.ts';
import { biasBackwardDispatch, biasBackwardPipeline } from '../../kernels/bias_backward.ts';
import type { ConvGrad } from '../../kernels/conv2d_backward.ts';
import type { OnnxBuilder, OptionsSchema, TfliteContext, TfliteOp } from './interchange.ts';
import type { LowerContext } from './lowering.ts';
import { ShapeError, type GraphNode, type NodeBase, type ShapeContext } from './node.ts';
import type { OpCost } from './op_def.ts';
import type { BackwardContext } from './training.ts';

export interface ConvAttrs {
  /** Constant: [KH, KW, Cin, Cout] (HWIO) for conv2d, [KH, KW, C] for depthwise (multiplier 1). */
  filter: string;
  /** Constant [Cout]. */
  bias: string;
  strides: [number, number];
  padding: 'SAME' | 'VALID';
  /** Fused activation as a clamp range (ReLU6 = [0, 6]; quantized models add their tensor's range). */
  activation: Clamp;
}
export type ConvNode = NodeBase & ConvAttrs;

/** A node of either convolution op: what model surgery may copy or re-shape filter by filter. */
export function isConvolution(n: GraphNode): n is GraphNode & ConvNode {
  return n.op === 'conv2d' || n.op === 'depthwise_conv2d';
}

export function parseClamp(c: Checker, v: unknown, what: string): Clamp {
  const a = c.obj(v, `${what} activation`);
  const min = c.num(a.min, `${what} activation.min`);
  const max = c.num(a.max, `${what} activation.max`);
  if (!(min <= max)) c.fail(`${what}: activation range [${min}, ${max}] is empty`);
  return { min, max };
}

export function parseConvAttrs(raw: Record<string, unknown>, what: string, c: Checker): ConvAttrs {
  const strides = c.arr(raw.strides, `${what} strides`).map((s, i) => c.int(s, `${what} stride ${i}`, 1));
  if (strides.length !== 2) c.fail(`${what}: strides must have 2 entries`);
  if (raw.padding !== 'SAME' && raw.padding !== 'VALID')
    c.fail(`${what}: padding ${JSON.stringify(raw.padding)} is unknown`);
  return {
    filter: c.str(raw.filter, `${what} filter`),
    bias: c.str(raw.bias, `${what} bias`),
    strides: [strides[0]!, strides[1]!],
    padding: raw.padding,
    activation: parseClamp(c, raw.activation, what),
  };
}

/** Geometry for an input of shape `x` (NHWC) and the given batch; ShapeError when the filter does not fit. */
export function convGeometryOf(
  n: ConvNode,
  x: readonly number[],
  cx: ShapeContext,
  depthwise: boolean,
  batch = 1,
): ConvGeometry {
  if (x.length !== 4) throw new ShapeError(`input has shape [${x}], expected NHWC`);
  const f = cx.constShape(n.filter);
  if (!f || f.length !== (depthwise ? 3 : 4))
    throw new ShapeError(`filter ${n.filter} must be a constant of rank ${depthwise ? 3 : 4}`);
  if (f[2] !== x[3]) throw new ShapeError(`filter [${f}] does not match ${x[3]} input channels`);
  const outC = depthwise ? x[3]! : f[3]!;
  const b = cx.constShape(n.bias);
  if (!b || b.length !== 1 || b[0] !== outC)
    throw new ShapeError(`bias ${n.bias} must be a constant of shape [${outC}]`);
  try {
    const [strideH, strideW] = n.strides;
    return convGeometry({
      batch,
      inH: x[1]!,
      inW: x[2]!,
      inC: x[3]!,
      outC,
      kH: f[0]!,
      kW: f[1]!,
      strideH,
      strideW,
      padding: n.padding,
    });
  } catch (e) {
    throw new ShapeError((e as Error).message);
  }
}

export function convOutputShape(n: ConvNode, x: readonly number[], cx: ShapeContext, depthwise: boolean): number[] {
  const g = convGeometryOf(n, x, cx, depthwise);
  return [x[0]!, g.outH, g.outW, g.outC];
}

/** The MobileNet paper's count: a 1x1 convolution is "pointwise", any other standard one "standard". */
export function convCost(n: ConvNode, x: readonly number[], cx: ShapeContext, depthwise: boolean): OpCost {
  const g = convGeometryOf(n, x, cx, depthwise);
  const params = product(cx.constShape(n.filter)!) + g.outC;
  const macs = g.outH * g.outW * g.kH * g.kW * (depthwise ? g.outC : g.inC * g.outC);
  const layerType = depthwise ? 'depthwise' : g.kH === 1 && g.kW === 1 ? 'pointwise' : 'standard';
  return { params, macs, bytes: 4 * (product(x) + g.outH * g.outW * g.outC + params), layerType };
}

/** The view a step starts with, and the concatenation hook: the slice's clamp narrows the step's own. */
export function sliceWriter(step: { view: OutputView; act: Clamp }): (view: OutputView, clamp: Clamp) => boolean {
  return (view, clamp) => {
    step.view = view;
    step.act = intersect(step.act, clamp);
    return true;
  };
}

export function intersect(a: Clamp, b: Clamp): Clamp {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

/** The epilogue of a GEMM-like step (PointwiseStep, DwpwStep): its clamp, a residual add, its output view. */
export interface ResidualEpilogue {
  view: OutputView;
  act: Clamp;
  residual: { tensor: string; act: Clamp } | undefined;
}

/**
 * Step.writeSlice for it: with a residual the slice's clamp applies after the add, as the concatenation sees
 * the sum.
 */
export function sliceEpilogue(e: ResidualEpilogue, view: OutputView, clamp: Clamp): boolean {
  e.view = view;
  if (e.residual) e.residual.act = intersect(e.residual.act, clamp);
  else e.act = intersect(e.act, clamp);
  return true;
}

/** Step.addResidual for it: one residual add fits the epilogue. */
export function residualEpilogue(e: ResidualEpilogue, tensor: string, act: Clamp): boolean {
  if (e.residual) return false;
  e.residual = { tensor, act };
  return true;
}

export function isIdentity(a: Clamp): boolean {
  return a.min <= ACTIVATIONS.none.min && a.max >= ACTIVATIONS.none.max;
}

/** Geometry at the batch the activation shapes carry (dimension 0): lowering, references, backward. */
export function geometryAtBatch(
  n: ConvNode,
  cx: ShapeContext & { shape(t: string): number[] },
  depthwise: boolean,
): ConvGeometry {
  const x = cx.shape(n.inputs[0]!);
  return convGeometryOf(n, x, cx, depthwise, x[0]);
}

/**
 * The geometry a convolution lowers with, and the tensor it reads: when its input is a zero spatial pad
 * that only it reads (PAD then a VALID convolution, as TFLite graphs write asymmetric padding), the pad's
 * step is dropped and its pads join the convolution's own, since padded zeros add nothing to a sum.
 * A 1x1 filter keeps its pad: the GEMM that runs 1x1 convolutions has no padding.
 */
export function loweredGeometry(
  n: ConvNode & GraphNode,
  lc: LowerContext,
  depthwise: boolean,
): { g: ConvGeometry; input: string } {
  const g = geometryAtBatch(n, lc, depthwise);
  const input = n.inputs[0]!;
  const src = lc.fuse && !(g.kH === 1 && g.kW === 1) ? lc.source(input) : undefined;
  const pad = src?.chain.length === 1 && lc.soleUse(input, n) ? src.step.zeroPadding?.() : undefined;
  if (!src || !pad) return { g, input };
  const x = lc.shape(pad.input);
  const [top, left, bottom, right] = pad.pads;
  const folded = convGeometry({
    ...g,
    inH: x[1]!,
    inW: x[2]!,
    padding: [g.padTop + top, g.padLeft + left, g.padBottom + bottom, g.padRight + right],
  });
  lc.drop(src.step);
  return { g: folded, input: pad.input };
}

export function convOnnx(
  n: ConvNode,
  b: OnnxBuilder,
  depthwise: boolean,
  weights: { name: string; dims: number[]; data: () => Float32Array },
): void {
  const x = b.shape(n.inputs[0]!);
  const g = convGeometryOf(n, x, b, depthwise);
  const filter = b.constant(weights.name, weights.dims, weights.data);
  const bias = b.constant(n.bias, [g.outC], () => b.data(n.bias));
  b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
    b.node({
      name: n.name,
      opType: 'Conv',
      inputs: [b.value(n.inputs[0]!), filter, bias],
      outputs: [target],
      attributes: [
        { name: 'kernel_shape', ints: [g.kH, g.kW] },
        { name: 'strides', ints: [...n.strides] },
        { name: 'pads', ints: [g.padTop, g.padLeft, g.padBottom, g.padRight] },
        { name: 'dilations', ints: [1, 1] },
        { name: 'group', int: depthwise ? g.inC : 1 },
      ],
    }),
  );
}

const CONV_FIELDS = {
  padding: [0, 'padding'],
  strideW: [1, 'i32'],
  strideH: [2, 'i32'],
  activation: [3, 'activation'],
  dilationW: [4, 'i32', 1],
  dilationH: [5, 'i32', 1],
} as const;
export const CONV_OPTIONS = { table: 'Conv2DOptions', type: 1, fields: CONV_FIELDS } satisfies OptionsSchema;
export const DEPTHWISE_OPTIONS = {
  table: 'DepthwiseConv2DOptions',
  type: 2,
  fields: {
    padding: [0, 'padding'],
    strideW: [1, 'i32'],
    strideH: [2, 'i32'],
    depthMultiplier: [3, 'i32'],
    activation: [4, 'activation'],
    dilationW: [5, 'i32', 1],
    dilationH: [6, 'i32', 1],
  },
} as const satisfies OptionsSchema;

/**
 * A TFLite CONV_2D (filter [O, KH, KW, I]) or DEPTHWISE_CONV_2D (filter [1, KH, KW, C*M]) as our node;
 * `layout` turns the filter into ours. Two forms map onto the kernels we have, exactly:
 * - dilation d: TensorFlow pads and strides a dilated filter as one of (k-1)*d+1 taps, so the filter
 *   with d-1 zero taps between its own computes the same values (at d^2 times the multiply-adds);
 * - depth multiplier M > 1: output channel k reads input channel floor(k/M), which is a standard
 *   convolution whose [KH, KW, C, C*M] filter is zero off that block diagonal (C times the work).
 */
export function convertConv(
  op: TfliteOp,
  cx: TfliteContext,
  depthwise: boolean,
  layout: (w: Float32Array, fs: number[]) => Float32Array,
): GraphNode {
  const o = cx.options(op, depthwise ? DEPTHWISE_OPTIONS : CONV_OPTIONS);
  const x = cx.activation(op, 0);
  const xs = cx.inputShape(op, 0);
  if (xs.length !== 4) cx.fail(op, `input has shape [${xs}]`);
  const fs = cx.inputShape(op, 1);
  if (fs.length !== 4) cx.fail(op, `filter has shape [${fs}]`);
  const cin = xs[3]!;
  const multiplier = depthwise ? fs[3]! / cin : 1;
  if (depthwise && (fs[0] !== 1 || !(Number.isInteger(multiplier) && multiplier >= 1)))
    cx.fail(op, `filter [${fs}] does not fit ${cin} input channels`);
  if (!depthwise && fs[3] !== cin) cx.unsupported(op, `grouped convolution (filter [${fs}] on ${cin} channels)`);
  if (!(o.dilationH >= 1 && o.dilationW >= 1)) cx.fail(op, `has dilation ${o.dilationH}x${o.dilationW}`);
  if (!(o.strideH >= 1 && o.strideW >= 1)) cx.fail(op, `has stride ${o.strideH}x${o.strideW}`);
  const [kh, kw, cout] = [fs[1]!, fs[2]!, depthwise ? fs[3]! : fs[0]!];
  const [dh, dw] = [o.dilationH, o.dilationW];
  const asConv = !depthwise || multiplier > 1;
  const [ekh, ekw] = [(kh - 1) * dh + 1, (kw - 1) * dw + 1];
  const inner = asConv ? cin * cout : cin;
  const ours = (w: Float32Array) =>
    depthwise && multiplier > 1 ? blockDiagonal(w, kh * kw, cin, multiplier) : layout(w, fs);
  const dilated = dh > 1 || dw > 1;
  const layoutName = `${asConv ? (depthwise ? 'hwio-multiplier' : 'hwio') : 'hwc'}${dilated ? `-d${dh}x${dw}` : ''}`;
  const out = cx.output(op);
  const shape = asConv ? [ekh, ekw, cin, cout] : [ekh, ekw, cin];
  const filter = cx.constant(op, 1, layoutName, shape, (w) =>
    dilated ? dilate(ours(w), kh, kw, inner, dh, dw) : ours(w),
  );
  const bias = cx.hasInput(op, 2) ? cx.constant(op, 2, 'bias', [cout]) : cx.zeros(`${out}/zero_bias`, [cout]);
  const attrs: ConvNode = {
    name: out,
    inputs: [x],
    outputs: [out],
    filter,
    bias,
    strides: [o.strideH, o.strideW],
    padding: o.padding,
    activation: cx.clamp(op, o.activation),
  };
  return asConv ? { op: 'conv2d', ...attrs } : { op: 'depthwise_conv2d', ...attrs };
}

/** A [KH, KW, inner] filter with dh-1 (dw-1) zero taps between its rows (columns). */
export function dilate(w: Float32Array, kh: number, kw: number, inner: number, dh: number, dw: number): Float32Array {
  const ekw = (kw - 1) * dw + 1;
  const out = new Float32Array(((kh - 1) * dh + 1) * ekw * inner);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      out.set(w.subarray((y * kw + x) * inner, (y * kw + x + 1) * inner), (y * dh * ekw + x * dw) * inner);
  return out;
}

/** Depthwise taps [taps, C*M] (channel k from input k/M) -> a standard filter [taps, C, C*M], zero off the block diagonal. */
export function blockDiagonal(w: Float32Array, taps: number, c: number, m: number): Float32Array {
  const out = new Float32Array(taps * c * c * m);
  for (let t = 0; t < taps; t++)
    for (let k = 0; k < c * m; k++) out[(t * c + Math.floor(k / m)) * c * m + k] = w[t * c * m + k]!;
  return out;
}

/**
 * The backward pass every convolution shares: the activation mask on dL/dy (in place), then dL/dbias,
 * and `grads` for the filter and, when the input has a gradient, the input.
 */
export async function convBackward<N extends ConvNode & GraphNode>(
  n: N,
  bc: BackwardContext,
  g: ConvGeometry,
  grads: (
    which: ConvGrad,
    b: { dy: GPUBufferBinding; src: GPUBufferBinding; grad: GPUBufferBinding },
    o: { dyView?: OutputView; label: string },
  ) => Promise<Dispatch[]>,
): Promise<Dispatch[]> {
  const ctx = bc.ctx;
  const out = n.outputs[0]!;
  const dy = bc.grad(out)!;
  const view = bc.sliceView(n);
  const list: Dispatch[] = [];
  if (!isIdentity(n.activation)) {
    if (view) throw new Error(`training: ${n.name} writes a concatenation slice through a clamp`);
    const pipe = await activationBackwardPipeline(ctx, 'mask');
    list.push(clampMaskDispatch(ctx, pipe, product(bc.shape(out)), n.activation, bc.value(out), dy, `${n.name}:mask`));
  }
  const o = view ? { dyView: view } : {};
  const biasPipe = await biasBackwardPipeline(ctx);
  const shape = { pixels: g.batch * g.outH * g.outW, hw: g.outH * g.outW, channels: g.outC };
  list.push(biasBackwardDispatch(ctx, biasPipe, shape, dy, bc.paramGrad(n.bias), { ...o, label: `${n.name}:d(bias)` }));
  list.push(
    ...(await grads(
      'filter',
      { dy, src: bc.value(n.inputs[0]!), grad: bc.paramGrad(n.filter) },
      { ...o, label: `${n.name}:d(filter)` },
    )),
  );
  const dx = bc.grad(n.inputs[0]!);
  if (dx)
    list.push(
      ...(await grads('input', { dy, src: bc.param(n.filter), grad: dx }, { ...o, label: `${n.name}:d(input)` })),
    );
  return list;
}
