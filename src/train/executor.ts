/**
 * Runs a part of a model graph forward with the inference kernels and, when training, backward
 * with the backward kernels. Unlike the inference executor, every tensor keeps its own buffer (the
 * backward pass reads the forward activations) and nothing is fused: an ADD is its own node, so
 * each fused activation is a single clamp whose mask is known from the output.
 *
 * Concatenated outputs are written in place through output views, as in graph/lower.ts, and the
 * producers read their gradients through the same views. Gradients add up (+=): the backward pass
 * starts from zeroed activation gradients (`gradBuffers`), and parameter gradients accumulate over
 * micro-batches until the optimizer step zeroes them.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { GraphNode, ModelJson } from '../graph/ir.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { accumulateDispatch, activationBackwardPipeline, clampMaskDispatch } from '../kernels/activation_backward.ts';
import { biasBackwardDispatch, biasBackwardPipeline } from '../kernels/bias_backward.ts';
import { ACTIVATIONS, convGeometry, type Clamp, type ConvGeometry, type OutputView } from '../core/geometry.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { conv2dBackwardDispatches, conv2dBackwardPipelines, conv2dBackwardScratch, type ConvGrad } from '../kernels/conv2d_backward.ts';
import { conv2dDispatch, conv2dPipeline, selectConv2dVariant } from '../kernels/conv2d.ts';
import { depthwiseBackwardDispatch, depthwiseBackwardPipeline } from '../kernels/depthwise_conv2d_backward.ts';
import { depthwiseConv2dDispatch, depthwiseConv2dPipeline, selectDepthwiseVariant } from '../kernels/depthwise_conv2d.ts';
import { addDispatch, addPipeline } from '../kernels/elementwise.ts';
import { pointwiseBackwardDispatch, pointwiseBackwardPipeline } from '../kernels/pointwise_conv2d_backward.ts';
import { pointwiseConv2dDispatch, pointwiseConv2dPipeline, type PointwiseShape } from '../kernels/pointwise_conv2d.ts';
import { tunedPointwise } from '../kernels/pointwise_tuning.ts';
import type { ConvNode } from './graph.ts';
import type { ParamStore } from './params.ts';

export interface Subgraph {
  /** In graph order. */
  nodes: GraphNode[];
  /** Tensors the caller writes before the forward pass. */
  inputs: string[];
}

const isNone = (a: Clamp) => a.min <= ACTIVATIONS.none.min && a.max >= ACTIVATIONS.none.max;

/** 1x1 stride-1 convolutions over vec4-divisible channels run as GEMMs, as in graph/lower.ts. */
function isPointwise(n: ConvNode, model: ModelJson): boolean {
  const f = model.constants[n.filter]!.shape;
  return n.op === 'conv2d' && n.strides[0] === 1 && n.strides[1] === 1 && f[0] === 1 && f[1] === 1 && model.shapes[n.inputs[0]!]![3]! % 4 === 0;
}

interface Layout {
  /** Storage root of every tensor (reshapes alias their input; concat parts map to the concat). */
  rootOf: Map<string, string>;
  /** Where a convolution writes inside its root when that is a concatenation. */
  views: Map<GraphNode, OutputView>;
}

function layout(nodes: readonly GraphNode[], batchShape: (t: string) => number[]): Layout {
  const rootOf = new Map<string, string>();
  const views = new Map<GraphNode, OutputView>();
  const made = new Map<string, GraphNode>();
  for (const n of nodes) for (const t of n.outputs) made.set(t, n);
  const root = (t: string): string => (rootOf.has(t) ? root(rootOf.get(t)!) : t);
  for (const n of nodes) {
    if (n.op === 'reshape') rootOf.set(n.outputs[0]!, n.inputs[0]!);
    if (n.op !== 'concat') continue;
    if (!isNone(n.activation)) throw new Error(`training: concatenation ${n.name} has a clamp; only float models train`);
    const out = batchShape(n.outputs[0]!);
    const axis = n.axis < 0 ? n.axis + out.length : n.axis;
    const inner = out.slice(axis + 1).reduce((a, b) => a * b, 1);
    if (out.slice(1, axis).some((d) => d !== 1)) throw new Error(`training: concatenation ${n.name} on axis ${n.axis} of [${out}] needs a copy`);
    let offset = 0;
    for (const t of n.inputs) {
      let p = made.get(t);
      const chain = [t];
      while (p?.op === 'reshape') {
        chain.push(p.inputs[0]!);
        p = made.get(p.inputs[0]!);
      }
      if (p?.op !== 'conv2d' && p?.op !== 'depthwise_conv2d') throw new Error(`training: ${t} in concatenation ${n.name} is not made by a convolution`);
      views.set(p, { base: offset * inner, batchStride: out[axis]! * inner, pixelStride: batchShape(p.outputs[0]!)[3]! });
      for (const c of chain) rootOf.set(c, n.outputs[0]!);
      offset += batchShape(t)[axis]!;
    }
  }
  const resolved = new Map<string, string>();
  for (const n of nodes) for (const t of [...n.inputs, ...n.outputs]) resolved.set(t, root(t));
  return { rootOf: resolved, views };
}

export class TrainExecutor {
  private constructor(
    private readonly shapes: (t: string) => number[],
    private readonly rootOf: Map<string, string>,
    private readonly buffers: Map<string, GPUBuffer>,
    private readonly grads: Map<string, GPUBuffer>,
    readonly forward: Dispatch[],
    readonly backward: Dispatch[],
    /** Buffers the dispatches use that are no tensor: the no-residual placeholder, the im2col scratch. */
    private readonly scratch: GPUBuffer[],
  ) {}

  /**
   * `store` holds every filter and bias the nodes read; with `backward`, it must be trainable and
   * receives their gradients.
   */
  static async create(ctx: GpuContext, model: LoadedModel, sub: Subgraph, store: ParamStore, batch: number, opts: { backward: boolean; label?: string }): Promise<TrainExecutor> {
    const json = model.json;
    const shapes = (t: string): number[] => {
      const s = json.shapes[t];
      if (!s) throw new Error(`model ${json.name}: no shape recorded for tensor ${t}`);
      return [batch, ...s.slice(1)];
    };
    const { rootOf, views } = layout(sub.nodes, shapes);
    const rootName = (t: string) => rootOf.get(t) ?? t;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const label = opts.label ?? json.name;
    const size = (t: string) => 4 * shapes(t).reduce((a, b) => a * b, 1);
    const buffers = new Map<string, GPUBuffer>();
    for (const t of new Set([...sub.inputs, ...sub.nodes.flatMap((n) => n.outputs)].map(rootName))) buffers.set(t, ctx.createBuffer(`${label}:${t}`, size(t), usage));
    const made = new Set(sub.nodes.flatMap((n) => n.outputs).map(rootName));
    const grads = new Map<string, GPUBuffer>();
    if (opts.backward) for (const t of made) grads.set(t, ctx.createBuffer(`${label}:d(${t})`, size(t), usage));
    const dummy = ctx.createBuffer('no-residual', 16, GPUBufferUsage.STORAGE);
    const act = (t: string): GPUBufferBinding => ({ buffer: buffers.get(rootName(t))! });
    const grad = (t: string): GPUBufferBinding | undefined => {
      const g = grads.get(rootName(t));
      return g ? { buffer: g } : undefined;
    };
    const count = (t: string) => shapes(t).reduce((a, b) => a * b, 1);
    const driver = ctx.report.driver;

    const geometryOf = (n: ConvNode): ConvGeometry => {
      const x = shapes(n.inputs[0]!);
      const f = json.constants[n.filter]!.shape;
      const dw = n.op === 'depthwise_conv2d';
      return convGeometry({ batch, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC: dw ? x[3]! : f[3]!, kH: f[0]!, kW: f[1]!, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
    };
    const gemmOf = (g: ConvGeometry): PointwiseShape => ({ M: g.batch * g.outH * g.outW, K: g.inC, N: g.outC, HW: g.outH * g.outW });

    const forward: Promise<Dispatch>[] = [];
    for (const n of sub.nodes) {
      if (n.op === 'reshape' || n.op === 'concat') continue;
      if (n.op === 'add') {
        forward.push(addPipeline(ctx).then((pipe) => addDispatch(ctx, pipe, count(n.outputs[0]!), n.activation, act(n.inputs[0]!), act(n.inputs[1]!), act(n.outputs[0]!), n.name)));
        continue;
      }
      if (n.op !== 'conv2d' && n.op !== 'depthwise_conv2d') throw new Error(`training: ${n.op} (${n.name}) is not supported`);
      const g = geometryOf(n);
      const view = views.get(n);
      const io = { input: act(n.inputs[0]!), filter: store.binding(n.filter), bias: store.binding(n.bias), output: act(n.outputs[0]!) };
      const o = { label: n.name, ...(view ? { view } : {}) };
      if (n.op === 'depthwise_conv2d') {
        const v = selectDepthwiseVariant(g);
        forward.push(depthwiseConv2dPipeline(ctx, v).then((pipe) => depthwiseConv2dDispatch(ctx, pipe, v, g, n.activation, io, o)));
      } else if (isPointwise(n, json)) {
        const s = gemmOf(g);
        const tuned = tunedPointwise(driver, s);
        forward.push(
          pointwiseConv2dPipeline(ctx, tuned.variant, tuned.workgroupSize).then((pipe) =>
            pointwiseConv2dDispatch(ctx, pipe, tuned.variant, s, n.activation, { input: io.input, weights: io.filter, bias: io.bias, output: io.output }, { ...o, dummy, workgroupSize: tuned.workgroupSize }),
          ),
        );
      } else {
        const v = selectConv2dVariant(g);
        forward.push(conv2dPipeline(ctx, v).then((pipe) => conv2dDispatch(ctx, pipe, v, g, n.activation, io, o)));
      }
    }

    const backward: Promise<Dispatch | Dispatch[]>[] = [];
    // One im2col scratch buffer serves every standard convolution's backward, one after another.
    const standard = sub.nodes.filter((n): n is ConvNode => n.op === 'conv2d' && !isPointwise(n, json));
    const scratchFloats = opts.backward ? Math.max(4, ...standard.map((n) => conv2dBackwardScratch(geometryOf(n)))) : 4;
    const scratch = ctx.createBuffer(`${label}:im2col`, 4 * scratchFloats, GPUBufferUsage.STORAGE);
    if (opts.backward) {
      const mask = (y: string, dy: GPUBufferBinding, a: Clamp, name: string) => activationBackwardPipeline(ctx, 'mask').then((pipe) => clampMaskDispatch(ctx, pipe, count(y), a, act(y), dy, `${name}:mask`));
      for (const n of [...sub.nodes].reverse()) {
        if (n.op === 'reshape' || n.op === 'concat') continue;
        const out = n.outputs[0]!;
        const dy = grad(out)!;
        if (n.op === 'add') {
          if (!isNone(n.activation)) backward.push(mask(out, dy, n.activation, n.name));
          for (const t of n.inputs) {
            const into = grad(t);
            if (into) backward.push(activationBackwardPipeline(ctx, 'add').then((pipe) => accumulateDispatch(ctx, pipe, count(out), dy, into, `${n.name}:d(${t})`)));
          }
          continue;
        }
        if (n.op !== 'conv2d' && n.op !== 'depthwise_conv2d') throw new Error(`training: ${n.op} (${n.name}) is not supported`);
        const view = views.get(n);
        if (!isNone(n.activation)) {
          if (view) throw new Error(`training: ${n.name} writes a concatenation slice through a clamp`);
          backward.push(mask(out, dy, n.activation, n.name));
        }
        const g = geometryOf(n);
        const o = view ? { dyView: view } : {};
        backward.push(biasBackwardPipeline(ctx).then((pipe) => biasBackwardDispatch(ctx, pipe, { pixels: g.batch * g.outH * g.outW, hw: g.outH * g.outW, channels: g.outC }, dy, store.gradBinding(n.bias), { ...o, label: `${n.name}:d(bias)` })));
        const dx = grad(n.inputs[0]!);
        const wanted: [ConvGrad, GPUBufferBinding, GPUBufferBinding][] = [['filter', act(n.inputs[0]!), store.gradBinding(n.filter)]];
        if (dx) wanted.push(['input', store.binding(n.filter), dx]);
        for (const [which, src, into] of wanted) {
          const b = { dy, src, grad: into };
          const lbl = { ...o, label: `${n.name}:d(${which})` };
          if (n.op === 'depthwise_conv2d') backward.push(depthwiseBackwardPipeline(ctx, which).then((pipe) => depthwiseBackwardDispatch(ctx, pipe, which, g, b, lbl)));
          else if (isPointwise(n, json)) backward.push(pointwiseBackwardPipeline(ctx, which).then((pipe) => pointwiseBackwardDispatch(ctx, pipe, which, gemmOf(g), b, lbl)));
          else backward.push(conv2dBackwardPipelines(ctx, which).then((pipes) => conv2dBackwardDispatches(ctx, pipes, which, g, { ...b, scratch: { buffer: scratch } }, lbl)));
        }
      }
    }
    return new TrainExecutor(shapes, rootOf, buffers, grads, await Promise.all(forward), (await Promise.all(backward)).flat(), [dummy, scratch]);
  }

  /** The whole buffer of a tensor (its storage root: a concatenation for its parts). */
  tensor(name: string): GPUBuffer {
    const b = this.buffers.get(this.rootOf.get(name) ?? name);
    if (!b) throw new Error(`tensor ${name} is not in this subgraph`);
    return b;
  }

  /** The gradient buffer of a tensor made by this subgraph. */
  grad(name: string): GPUBuffer {
    const b = this.grads.get(this.rootOf.get(name) ?? name);
    if (!b) throw new Error(`tensor ${name} has no gradient here`);
    return b;
  }

  /** Activation gradients, to be zeroed before each backward pass. */
  get gradBuffers(): GPUBuffer[] {
    return [...this.grads.values()];
  }

  /** Floats of one image of `tensor`. */
  perImage(tensor: string): number {
    return this.shapes(tensor).slice(1).reduce((a, b) => a * b, 1);
  }

  destroy(): void {
    for (const d of [...this.forward, ...this.backward]) for (const b of d.owned) b.destroy();
    for (const b of [...this.buffers.values(), ...this.grads.values()]) b.destroy();
    for (const b of this.scratch) b.destroy();
  }
}
