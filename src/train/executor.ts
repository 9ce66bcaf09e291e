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
import type { OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { lowerNodes } from '../graph/lower.ts';
import type { LoadedModel } from '../graph/weights.ts';
import type { Step, StepIo } from '../ops/support/lowering.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';
import type { BackwardContext } from '../ops/support/training.ts';
import type { ParamStore } from './params.ts';

export interface Subgraph {
  /** In graph order. */
  nodes: GraphNode[];
  /** Tensors the caller writes before the forward pass. */
  inputs: string[];
}

export class TrainExecutor {
  private constructor(
    private readonly shapes: (t: string) => number[],
    private readonly root: (t: string) => string,
    private readonly buffers: Map<string, GPUBuffer>,
    private readonly grads: Map<string, GPUBuffer>,
    readonly forward: Dispatch[],
    readonly backward: Dispatch[],
    /** Buffers the dispatches use that are no tensor: the no-residual placeholder, the im2col scratch. */
    private readonly scratch: GPUBuffer[],
  ) {}

  /**
   * `store` holds every constant the nodes read; with `backward`, it must be trainable and receives
   * their gradients.
   */
  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    sub: Subgraph,
    store: ParamStore,
    batch: number,
    opts: { backward: boolean; label?: string },
  ): Promise<TrainExecutor> {
    const json = model.json;
    const shapes = (t: string): number[] => {
      const s = json.shapes[t];
      if (!s) throw new Error(`model ${json.name}: no shape recorded for tensor ${t}`);
      return [batch, ...s.slice(1)];
    };
    const { steps, root } = lowerNodes(json, sub.nodes, { batch, driver: ctx.report.driver, fuse: false });
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const label = opts.label ?? json.name;
    const buffers = new Map<string, GPUBuffer>();
    for (const t of new Set([...sub.inputs, ...sub.nodes.flatMap((n) => n.outputs)].map(root)))
      buffers.set(t, ctx.createBuffer(`${label}:${t}`, 4 * product(shapes(t)), usage));
    const grads = new Map<string, GPUBuffer>();
    if (opts.backward) {
      for (const t of new Set(sub.nodes.flatMap((n) => n.outputs).map(root)))
        grads.set(t, ctx.createBuffer(`${label}:d(${t})`, 4 * product(shapes(t)), usage));
    }
    const dummy = ctx.createBuffer('no-residual', 16, GPUBufferUsage.STORAGE);
    const value = (t: string): GPUBufferBinding => ({ buffer: buffers.get(root(t))! });
    const io: StepIo = { tensor: value, weight: (name) => store.binding(name), dummy };
    const forward = await Promise.all(steps.map(async (st) => st.dispatch(ctx, await st.pipeline(ctx, 'f32'), io)));

    const constShape = (name: string) => json.constants[name]?.shape;
    const scratchFloats = opts.backward
      ? Math.max(4, ...sub.nodes.map((n) => opOf(n).train?.scratchFloats?.(n, { shape: shapes, constShape }) ?? 0))
      : 4;
    const scratch = ctx.createBuffer(`${label}:im2col`, 4 * scratchFloats, GPUBufferUsage.STORAGE);
    const backward: Dispatch[] = [];
    if (opts.backward) {
      const stepOf = new Map<string, Step>(steps.map((st) => [st.name, st]));
      const bc: BackwardContext = {
        ctx,
        shape: shapes,
        constShape,
        value,
        grad: (t) => {
          const g = grads.get(root(t));
          return g ? { buffer: g } : undefined;
        },
        param: (name) => store.binding(name),
        paramGrad: (name) => store.gradBinding(name),
        sliceView(n): OutputView | undefined {
          const st = stepOf.get(n.name);
          return st && root(st.output) !== st.output ? st.view : undefined;
        },
        scratch: { buffer: scratch },
      };
      const lists = [...sub.nodes].reverse().map((n) => {
        const train = opOf(n).train;
        if (!train) throw new Error(`training: ${n.op} (${n.name}) is not supported`);
        return train.backward(n, bc);
      });
      for (const list of await Promise.all(lists)) backward.push(...list);
    }
    return new TrainExecutor(shapes, root, buffers, grads, forward, backward, [dummy, scratch]);
  }

  /** The whole buffer of a tensor (its storage root: a concatenation for its parts). */
  tensor(name: string): GPUBuffer {
    const b = this.buffers.get(this.root(name));
    if (!b) throw new Error(`tensor ${name} is not in this subgraph`);
    return b;
  }

  /** The gradient buffer of a tensor made by this subgraph. */
  grad(name: string): GPUBuffer {
    const b = this.grads.get(this.root(name));
    if (!b) throw new Error(`tensor ${name} has no gradient here`);
    return b;
  }

  /** Activation gradients, to be zeroed before each backward pass. */
  get gradBuffers(): GPUBuffer[] {
    return [...this.grads.values()];
  }

  /** Floats of one image of `tensor`. */
  perImage(tensor: string): number {
    return product(this.shapes(tensor).slice(1));
  }

  destroy(): void {
    for (const d of [...this.forward, ...this.backward]) for (const b of d.owned) b.destroy();
    for (const b of [...this.buffers.values(), ...this.grads.values()]) b.destroy();
    for (const b of this.scratch) b.destroy();
  }
}
