/**
 * add: element-wise sum of two same-shaped tensors with a fused clamp. The inverted-residual skip
 * connection: when one input is a 1x1 GEMM's output that nothing else reads, the add fuses into that
 * GEMM's epilogue and costs no pass of its own. TFLite ADD (no broadcasting); ONNX Add.
 */
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product, sameShape } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { accumulateDispatch, activationBackwardPipeline, clampMaskDispatch } from '../kernels/activation_backward.ts';
import { clampBackwardRef } from '../kernels/activation_backward_ref.ts';
import { addDispatch, addPipeline, addRef } from '../kernels/elementwise.ts';
import { isIdentity, parseClamp } from './support/conv.ts';
import { qaddDispatch, qaddPipeline } from '../kernels/qelementwise.ts';
import { addRequant, type AddRequant } from '../kernels/quantization.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { IntegerStep, integerOf, refuseInteger } from './support/quantized.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import type { StorageType } from '../kernels/storage.ts';

export interface AddNode extends NodeBase {
  op: 'add';
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    add: AddNode;
  }
}

class AddStep implements Step {
  readonly kind = 'add';
  constructor(
    readonly name: string,
    readonly count: number,
    readonly act: Clamp,
    readonly a: string,
    readonly b: string,
    public output: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return [this.a, this.b];
  }
  weights() {
    return [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return addPipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    return addDispatch(
      ctx,
      pipe,
      this.count,
      this.act,
      io.tensor(this.a),
      io.tensor(this.b),
      io.tensor(this.output),
      this.name,
    );
  }
}

/** Integer lowering: qadd with the runtime's arithmetic (TFLite's AddElementwise or XNNPACK's vadd); no fusion. */
function lowerInteger(n: AddNode, lc: LowerContext): void {
  const iq = integerOf(lc);
  const [a, b, out] = [n.inputs[0]!, n.inputs[1]!, n.outputs[0]!];
  const [aq, bq, yq] = [iq.tensor(a), iq.tensor(b), iq.tensor(out)];
  if (aq.dtype !== yq.dtype || bq.dtype !== yq.dtype)
    refuseInteger(n, lc, `inputs ${aq.dtype} and ${bq.dtype}, output ${yq.dtype}`);
  // WebGPU refuses one buffer range bound twice as writable storage.
  if (a === b) refuseInteger(n, lc, `it adds ${a} to itself`);
  let q: AddRequant;
  try {
    q = addRequant(yq.dtype, aq, bq, yq, yq.activation ?? 'NONE', iq.requant);
  } catch (e) {
    if (e instanceof RangeError) refuseInteger(n, lc, e.message);
    throw e;
  }
  const count = product(lc.shape(out));
  const config = { dtype: yq.dtype, requant: iq.requant };
  lc.emit(
    new IntegerStep(n.name, 'qadd', 'elementwise', out, lc.defaultView(out), [a, b], [], {
      pipeline: (ctx) => qaddPipeline(ctx, config),
      dispatch: (ctx, pipe, io) =>
        qaddDispatch(ctx, pipe, count, q, io.tensor(a), io.tensor(b), io.tensor(out), n.name),
    }),
  );
}

function lower(n: AddNode, lc: LowerContext): void {
  if (lc.integer) return lowerInteger(n, lc);
  const out = n.outputs[0]!;
  if (lc.fuse) {
    for (const [i, j] of [
      [0, 1],
      [1, 0],
    ] as const) {
      const src = lc.source(n.inputs[i]!);
      // The other input must exist when the step runs: a shortcut computed after the branch (BlazeFace's
      // max-pool and channel pad, emitted after the block's convolutions) cannot be added in its epilogue.
      if (
        src?.chain.length === 1 &&
        lc.soleUse(n.inputs[i]!, n) &&
        lc.computedBefore(n.inputs[j]!, src.step) &&
        src.step.addResidual?.(n.inputs[j]!, n.activation)
      ) {
        lc.redirect(src.step, out);
        return;
      }
    }
  }
  lc.emit(
    new AddStep(n.name, product(lc.shape(out)), n.activation, n.inputs[0]!, n.inputs[1]!, out, lc.defaultView(out)),
  );
}

export const op: OpDef<AddNode> = {
  op: 'add',
  arity: 2,
  integer: true,
  parse: (raw, base, c, what) => ({ op: 'add', ...base, activation: parseClamp(c, raw.activation, what) }),
  outputShape(_, [a, b]) {
    if (!sameShape(a!, b!)) throw new ShapeError(`inputs have shapes [${a}] and [${b}]`);
    return [...a!];
  },
  reference: (n, [a, b]) => addRef(a!, b!, n.activation),
  cost: (_, [a]) => ({ params: 0, macs: 0, bytes: 12 * product(a!) }),
  lower,
  onnx(n, b) {
    const inputs = n.inputs.map((t) => b.value(t));
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'Add', inputs, outputs: [target] }),
    );
  },
  tflite: {
    builtins: ['ADD'],
    convert(op, cx) {
      const o = cx.options(op, { table: 'AddOptions', type: 11, fields: { activation: [0, 'activation'] } });
      const shape = cx.outputShape(op);
      for (const k of [0, 1]) {
        const s = cx.inputShape(op, k);
        if (!sameShape(s, shape)) cx.unsupported(op, `broadcasting [${s}] to [${shape}]`);
      }
      const out = cx.output(op);
      return {
        op: 'add',
        name: out,
        inputs: [cx.activation(op, 0), cx.activation(op, 1)],
        outputs: [out],
        activation: cx.clamp(op, o.activation),
      };
    },
  },
  train: {
    async backward(n, bc) {
      const out = n.outputs[0]!;
      const count = product(bc.shape(out));
      const dy = bc.grad(out)!;
      const list: Dispatch[] = [];
      if (!isIdentity(n.activation)) {
        const mask = await activationBackwardPipeline(bc.ctx, 'mask');
        list.push(clampMaskDispatch(bc.ctx, mask, count, n.activation, bc.value(out), dy, `${n.name}:mask`));
      }
      const add = await activationBackwardPipeline(bc.ctx, 'add');
      for (const t of n.inputs) {
        const into = bc.grad(t);
        if (into) list.push(accumulateDispatch(bc.ctx, add, count, dy, into, `${n.name}:d(${t})`));
      }
      return list;
    },
    forward64: (n, [a, b]) => a!.map((v, i) => Math.min(Math.max(v + b![i]!, n.activation.min), n.activation.max)),
    backward64(n, _, y, dy) {
      const dz = clampBackwardRef(y, dy, n.activation);
      return { inputs: [dz, dz], params: [] };
    },
  },
};
