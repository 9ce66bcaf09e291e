/**
 * Lowers a model graph to kernel steps, once, at load time:
 *  - 1x1 stride-1 convolutions become GEMMs (pointwise kernel);
 *  - an ADD whose one input is such a GEMM's only use is fused into its epilogue (the
 *    inverted-residual skip), so expand/depthwise/project + add is three passes, not four;
 *  - RESHAPE is an alias of its input's storage;
 *  - CONCATENATION allocates its output and its producers write their slices in place
 *    (output views), so neither costs a copy.
 * The result names storage roots with lifetimes for the memory planner.
 */
import { UnsupportedOperatorError } from '../errors.ts';
import { ACTIVATIONS, convGeometry, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import { conv2dVariantSupported, selectConv2dVariant, type Conv2dVariant } from '../kernels/conv2d.ts';
import { depthwiseVariantSupported, selectDepthwiseVariant, type DepthwiseVariant } from '../kernels/depthwise_conv2d.ts';
import { pointwiseVariantSupported, type PointwiseShape, type PointwiseVariant } from '../kernels/pointwise_conv2d.ts';
import { tunedPointwise } from '../kernels/pointwise_tuning.ts';
import type { DriverKind } from '../gpu/provider.ts';
import type { Conv2dNode, DepthwiseConv2dNode, GraphNode, ModelJson } from './ir.ts';

export interface VariantChoice {
  conv2d?: Conv2dVariant;
  depthwise?: DepthwiseVariant;
  pointwise?: PointwiseVariant;
}

interface StepBase {
  name: string;
  output: string;
  view: OutputView;
}
export type Step =
  | (StepBase & { kind: 'conv2d'; variant: Conv2dVariant; g: ConvGeometry; act: Clamp; input: string; filter: string; bias: string })
  | (StepBase & { kind: 'depthwise'; variant: DepthwiseVariant; g: ConvGeometry; act: Clamp; input: string; filter: string; bias: string })
  | (StepBase & { kind: 'pointwise'; variant: PointwiseVariant; workgroupSize: number; s: PointwiseShape; act: Clamp; input: string; filter: string; bias: string; residual?: { tensor: string; act: Clamp } })
  | (StepBase & { kind: 'add'; count: number; act: Clamp; a: string; b: string })
  | (StepBase & { kind: 'logistic'; count: number; input: string });

export interface StorageRoot {
  bytes: number;
  first: number;
  last: number;
}

export interface LoweredGraph {
  batch: number;
  steps: Step[];
  /** Storage root of every activation tensor (aliases and concat slices map to their root). */
  rootOf: Map<string, string>;
  roots: Map<string, StorageRoot>;
  input: string;
  outputs: { boxes: string; scores: string };
}

type ConvLike = Conv2dNode | DepthwiseConv2dNode;
interface FusedConv {
  node: ConvLike;
  output: string;
  residual?: { tensor: string; act: Clamp };
}

/** A 1x1, stride-1 convolution over channels that are a multiple of 4 runs as a vec4 GEMM. */
function isPointwise(n: GraphNode, model: ModelJson): n is Conv2dNode {
  if (n.op !== 'conv2d') return false;
  const x = model.shapes[n.inputs[0]!];
  const f = model.constants[n.filter]?.shape;
  return n.strides[0] === 1 && n.strides[1] === 1 && x !== undefined && x[3]! % 4 === 0 && f !== undefined && f[0] === 1 && f[1] === 1;
}

/** `driver` picks the measured GEMM configuration for that adapter kind (pointwise_tuning.ts). */
export function lowerGraph(model: ModelJson, batch: number, force: VariantChoice = {}, driver: DriverKind = 'unknown'): LoweredGraph {
  const shapes = (t: string): number[] => {
    const s = model.shapes[t];
    if (!s) throw new Error(`model ${model.name}: no shape recorded for tensor ${t}`);
    return [batch, ...s.slice(1)];
  };
  const consumers = new Map<string, GraphNode[]>();
  const producer = new Map<string, GraphNode>();
  for (const n of model.nodes) {
    for (const t of n.inputs) {
      const list = consumers.get(t);
      if (list) list.push(n);
      else consumers.set(t, [n]);
    }
    for (const t of n.outputs) producer.set(t, n);
  }
  const graphOutputs = new Set([model.outputs.boxes, model.outputs.scores]);
  const soleUse = (t: string, n: GraphNode) => !graphOutputs.has(t) && (consumers.get(t) ?? []).length === 1 && consumers.get(t)![0] === n;

  // 1. Residual fusion: pointwise conv -> add(conv_out, skip) becomes one GEMM with a residual epilogue.
  const fused = new Map<GraphNode, FusedConv>();
  const dropped = new Set<GraphNode>();
  for (const n of model.nodes) {
    if (n.op !== 'add') continue;
    for (const [i, j] of [[0, 1], [1, 0]] as const) {
      const p = producer.get(n.inputs[i]!);
      if (p && isPointwise(p, model) && !fused.has(p) && soleUse(n.inputs[i]!, n)) {
        fused.set(p, { node: p, output: n.outputs[0]!, residual: { tensor: n.inputs[j]!, act: n.activation } });
        dropped.add(n);
        break;
      }
    }
  }
  const outputOf = (n: GraphNode) => fused.get(n)?.output ?? n.outputs[0]!;
  const producerAfterFusion = new Map<string, GraphNode>();
  for (const n of model.nodes) if (!dropped.has(n)) producerAfterFusion.set(outputOf(n), n);

  // 2. Storage roots: reshapes alias; concat producers write into the concat's root through views.
  const rootOf = new Map<string, string>();
  const extraClamp = new Map<GraphNode, Clamp>();
  const views = new Map<GraphNode, OutputView>();
  const root = (t: string): string => {
    let r = t;
    while (rootOf.has(r) && rootOf.get(r) !== r) r = rootOf.get(r)!;
    return r;
  };
  for (const n of model.nodes) {
    if (dropped.has(n)) continue;
    if (n.op === 'reshape') rootOf.set(n.outputs[0]!, n.inputs[0]!);
  }
  for (const n of model.nodes) {
    if (n.op !== 'concat' || dropped.has(n)) continue;
    const out = n.outputs[0]!;
    const s = shapes(out);
    const axis = n.axis < 0 ? n.axis + s.length : n.axis;
    const inner = s.slice(axis + 1).reduce((a, b) => a * b, 1);
    const outer = s.slice(1, axis).reduce((a, b) => a * b, 1);
    let offset = 0;
    for (const t of n.inputs) {
      // Follow reshapes back to the op that computes this slice.
      let cur = t;
      let p = producerAfterFusion.get(cur);
      while (p && p.op === 'reshape' && soleUse(cur, consumers.get(cur)![0]!)) {
        cur = p.inputs[0]!;
        p = producerAfterFusion.get(cur);
      }
      if (!p || (p.op !== 'conv2d' && p.op !== 'depthwise_conv2d') || !soleUseChain(t, cur)) {
        throw new UnsupportedOperatorError(model.name, 'CONCATENATION', `input ${t} is not produced by a convolution used only here`);
      }
      const ps = shapes(cur);
      const d = shapes(t)[axis]!;
      if (outer === 1) {
        views.set(p, { base: offset * inner, batchStride: s[axis]! * inner, pixelStride: ps[3]! });
      } else if (axis === s.length - 1 && s.length === 4 && cur === t) {
        views.set(p, { base: offset, batchStride: s[1]! * s[2]! * s[3]!, pixelStride: s[3]! });
      } else {
        throw new UnsupportedOperatorError(model.name, 'CONCATENATION', `axis ${n.axis} of shape [${s}] needs a copy`);
      }
      applyClamp(p, n.activation);
      for (let c = t; ; ) {
        rootOf.set(c, out);
        if (c === cur) break;
        c = producerAfterFusion.get(c)!.inputs[0]!;
      }
      rootOf.set(outputOf(p), out);
      offset += d;
    }
  }

  function soleUseChain(from: string, to: string): boolean {
    for (let c = from; c !== to; ) {
      const p = producerAfterFusion.get(c)!;
      c = p.inputs[0]!;
      if ((consumers.get(c) ?? []).length !== 1) return false;
    }
    return true;
  }
  /** A clamp on the concatenation (quantized graphs) applies to every slice: give it to the writer. */
  function applyClamp(p: GraphNode, act: Clamp) {
    extraClamp.set(p, intersect(extraClamp.get(p) ?? ACTIVATIONS.none, act));
  }

  // 3. Steps, in graph order.
  const steps: Step[] = [];
  const defaultView = (t: string): OutputView => {
    const s = shapes(t);
    const c = s[s.length - 1]!;
    const per = s.slice(1).reduce((a, b) => a * b, 1);
    return { base: 0, batchStride: per, pixelStride: c };
  };
  for (const n of model.nodes) {
    if (dropped.has(n) || n.op === 'reshape' || n.op === 'concat') continue;
    const out = outputOf(n);
    const view = views.get(n) ?? defaultView(out);
    if (n.op === 'conv2d' || n.op === 'depthwise_conv2d') {
      const x = shapes(n.inputs[0]!);
      const f = model.constants[n.filter]!.shape;
      const depthwise = n.op === 'depthwise_conv2d';
      const g = convGeometry({ batch, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC: depthwise ? x[3]! : f[3]!, kH: f[0]!, kW: f[1]!, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
      const f2 = fused.get(n);
      const extra = extraClamp.get(n) ?? ACTIVATIONS.none;
      const act = f2?.residual ? n.activation : intersect(n.activation, extra);
      const common = { name: n.name, output: out, view, act, input: n.inputs[0]!, filter: n.filter, bias: n.bias };
      if (depthwise) {
        const variant = force.depthwise && depthwiseVariantSupported(g, force.depthwise) ? force.depthwise : selectDepthwiseVariant(g, driver);
        steps.push({ kind: 'depthwise', variant, g, ...common });
      } else if (isPointwise(n, model)) {
        const s: PointwiseShape = { M: batch * g.outH * g.outW, K: g.inC, N: g.outC, HW: g.outH * g.outW };
        const tuned = tunedPointwise(driver, s);
        const variant = force.pointwise && pointwiseVariantSupported(s, force.pointwise) ? force.pointwise : tuned.variant;
        const workgroupSize = variant === tuned.variant ? tuned.workgroupSize : 64;
        const residual = f2?.residual ? { tensor: f2.residual.tensor, act: intersect(f2.residual.act, extra) } : undefined;
        steps.push({ kind: 'pointwise', variant, workgroupSize, s, ...common, ...(residual ? { residual } : {}) });
      } else {
        steps.push({ kind: 'conv2d', variant: force.conv2d && conv2dVariantSupported(g, force.conv2d) ? force.conv2d : selectConv2dVariant(g), g, ...common });
      }
    } else if (n.op === 'add') {
      const count = shapes(out).reduce((a, b) => a * b, 1);
      steps.push({ kind: 'add', name: n.name, output: out, view, count, act: intersect(n.activation, extraClamp.get(n) ?? ACTIVATIONS.none), a: n.inputs[0]!, b: n.inputs[1]! });
    } else if (n.op === 'logistic') {
      const count = shapes(out).reduce((a, b) => a * b, 1);
      steps.push({ kind: 'logistic', name: n.name, output: out, view, count, input: n.inputs[0]! });
    } else {
      throw new UnsupportedOperatorError(model.name, (n as GraphNode).op);
    }
  }

  // 4. Lifetimes: step 0 is preprocessing (writes the input), steps 1..n the ops, n+1 the SSD head.
  const roots = new Map<string, StorageRoot>();
  const touch = (t: string, at: number) => {
    const r = root(t);
    const bytes = 4 * shapes(r).reduce((a, b) => a * b, 1);
    const e = roots.get(r);
    if (!e) roots.set(r, { bytes, first: at, last: at });
    else {
      e.first = Math.min(e.first, at);
      e.last = Math.max(e.last, at);
    }
  };
  touch(model.input, 0);
  steps.forEach((st, i) => {
    const at = i + 1;
    touch(st.output, at);
    if (st.kind === 'add') {
      touch(st.a, at);
      touch(st.b, at);
    } else {
      touch(st.input, at);
      if (st.kind === 'pointwise' && st.residual) touch(st.residual.tensor, at);
    }
  });
  touch(model.outputs.boxes, steps.length + 1);
  touch(model.outputs.scores, steps.length + 1);
  const resolved = new Map<string, string>();
  for (const t of Object.keys(model.shapes)) resolved.set(t, root(t));
  return { batch, steps, rootOf: resolved, roots, input: model.input, outputs: model.outputs };
}

function intersect(a: Clamp, b: Clamp): Clamp {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}
