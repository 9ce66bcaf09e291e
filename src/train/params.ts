/**
 * Model constants on the GPU for training: one flat buffer, each tensor at an aligned offset with
 * its last axis zero-padded to a multiple of 4 (the layout the forward kernels read, see
 * graph/weights.ts). Filters come first and biases after, so weight decay applies to a prefix.
 * A trainable store adds a gradient and a momentum buffer of the same layout, so one SGD dispatch
 * updates every tensor; the zero padding gets zero gradients and stays zero.
 */
import type { GpuContext } from '../gpu/context.ts';
import { weightsAlignment } from '../graph/weights.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { padLastDimTo4 } from '../kernels/common.ts';
import type { GraphNode } from '../ops/support/node.ts';
import { opOf } from '../ops/support/registry.ts';

interface Slot {
  /** In floats. */
  offset: number;
  packed: number;
  /** Unpadded last axis. */
  last: number;
}

export interface TensorSpec {
  name: string;
  /** Filters are weight-decayed; biases are not. */
  decay: boolean;
}

export class ParamStore {
  private constructor(
    private readonly slots: Map<string, Slot>,
    readonly floats: number,
    /** Floats in the weight-decayed prefix. */
    readonly decayFloats: number,
    readonly params: GPUBuffer,
    private readonly trainState: { grads: GPUBuffer; velocity: GPUBuffer } | undefined,
  ) {}

  static create(
    ctx: GpuContext,
    model: LoadedModel,
    tensors: readonly TensorSpec[],
    opts: { trainable: boolean; label: string },
  ): ParamStore {
    const align = weightsAlignment(ctx) / 4;
    const order = [...tensors.filter((t) => t.decay), ...tensors.filter((t) => !t.decay)];
    const slots = new Map<string, Slot>();
    const chunks: { offset: number; data: Float32Array }[] = [];
    let floats = 0;
    let decayFloats = 0;
    for (const t of order) {
      if (slots.has(t.name)) continue;
      const { info, data } = constData(model, t.name);
      const last = info.shape[info.shape.length - 1]!;
      const packed = padLastDimTo4(data, last);
      const offset = Math.ceil(floats / align) * align;
      slots.set(t.name, { offset, packed: packed.length, last });
      chunks.push({ offset, data: packed });
      floats = offset + packed.length;
      if (t.decay) decayFloats = floats;
    }
    floats = Math.max(4, Math.ceil(floats / 4) * 4);
    const all = new Float32Array(floats);
    for (const c of chunks) all.set(c.data, c.offset);
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const params = ctx.createBuffer(`${opts.label}:params`, all.byteLength, usage, all);
    const trainState = opts.trainable
      ? {
          grads: ctx.createBuffer(`${opts.label}:grads`, all.byteLength, usage),
          velocity: ctx.createBuffer(`${opts.label}:velocity`, all.byteLength, usage),
        }
      : undefined;
    return new ParamStore(slots, floats, decayFloats, params, trainState);
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  private slot(name: string): Slot {
    const s = this.slots.get(name);
    if (!s) throw new Error(`parameter ${name} is not in this store`);
    return s;
  }

  binding(name: string): GPUBufferBinding {
    const s = this.slot(name);
    return { buffer: this.params, offset: s.offset * 4, size: s.packed * 4 };
  }

  gradBinding(name: string): GPUBufferBinding {
    const s = this.slot(name);
    return { buffer: this.training().grads, offset: s.offset * 4, size: s.packed * 4 };
  }

  training(): { params: GPUBuffer; grads: GPUBuffer; velocity: GPUBuffer } {
    if (!this.trainState) throw new Error('this parameter store is not trainable');
    return { params: this.params, ...this.trainState };
  }

  /** Unpadded values of every tensor, from a flat copy of the parameter buffer. */
  unpack(flat: Float32Array): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const [name, s] of this.slots) {
      const n4 = Math.ceil(s.last / 4) * 4;
      const rows = s.packed / n4;
      const t = new Float32Array(rows * s.last);
      for (let r = 0; r < rows; r++) t.set(flat.subarray(s.offset + r * n4, s.offset + r * n4 + s.last), r * s.last);
      out.set(name, t);
    }
    return out;
  }

  destroy(): void {
    this.params.destroy();
    this.trainState?.grads.destroy();
    this.trainState?.velocity.destroy();
  }
}

/** The constants a node reads (a convolution's filter and bias): what training updates. */
export function paramsOf(n: GraphNode): string[] {
  return opOf(n).constants?.(n) ?? [];
}

/**
 * The constants of `nodes`; those of rank 2 and more (filters) are weight-decayed, vectors (biases)
 * are not, as in the report's recipe and common practice.
 */
export function paramSpecs(model: LoadedModel, nodes: readonly GraphNode[]): TensorSpec[] {
  return nodes.flatMap((n) =>
    paramsOf(n).map((name) => ({ name, decay: constData(model, name).info.shape.length > 1 })),
  );
}
