/**
 * prelu: x for x >= 0, alpha * x below, with a constant alpha per channel (the last axis) or a single one.
 * TFLite PRELU; ONNX PRelu.
 */
import source from '../../shaders/prelu.wgsl';
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase, type ShapeContext } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export interface PreluNode extends NodeBase {
  op: 'prelu';
  /** Constant of C values (any shape whose other dimensions are 1) or of one. */
  alpha: string;
  /** A quantized output's range. */
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    prelu: PreluNode;
  }
}

const PreluParams = uniformSchema('Params', {
  count: 'u32',
  channels: 'u32',
  pixels: 'u32',
  perChannel: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

export function preluPipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`prelu/${storage}/wg${workgroupSize}`, () => ({
    label: 'prelu',
    code: withStorage(storage, PreluParams.wgsl + source),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'storage', 'rw'],
  }));
}

/** `shape` is the activation's, batch first; `perChannel` false: one alpha for all. */
export function preluDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  shape: readonly number[],
  perChannel: boolean,
  act: Clamp,
  b: { input: Binding; alpha: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const count = product(shape);
  const channels = shape.length > 1 ? shape.at(-1)! : 1;
  const pixels = shape.length > 1 ? product(shape.slice(1, -1)) : 1;
  const view = opts.view ?? { base: 0, batchStride: pixels * channels, pixelStride: channels };
  const params = {
    count,
    channels,
    pixels,
    perChannel: perChannel ? 1 : 0,
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const meta = { label: opts.label ?? 'prelu', op: 'prelu', flops: 2 * count, bytes: 8 * count };
  const resources = [b.input, b.alpha, b.output];
  return makeDispatch(ctx, pipe, PreluParams, params, resources, { threads: count, workgroupSize: 64 }, meta);
}

/** Plain-loop CPU reference; `alpha` has one value or one per channel (the last axis of `shape`). */
export function preluRef(x: Float32Array, shape: readonly number[], alpha: Float32Array, act: Clamp): Float32Array {
  const c = shape.at(-1) ?? 1;
  return x.map((v, i) => {
    const a = alpha.length === 1 ? alpha[0]! : alpha[i % c]!;
    return Math.min(Math.max(v >= 0 ? v : a * v, act.min), act.max);
  });
}

/** Whether alpha is per channel; ShapeError when it is neither that nor a single value. */
function perChannel(n: PreluNode, x: readonly number[], cx: ShapeContext): boolean {
  const a = cx.constShape(n.alpha);
  if (!a) throw new ShapeError(`alpha ${n.alpha} is not a constant`);
  if (product(a) === 1) return false;
  if (a.at(-1) !== x.at(-1) || product(a) !== a.at(-1))
    throw new ShapeError(`alpha [${a}] is neither one value nor one per channel of [${x}]`);
  return true;
}

class PreluStep implements Step {
  readonly kind = 'prelu';
  constructor(
    readonly name: string,
    readonly shape: number[],
    readonly perChannel: boolean,
    public act: Clamp,
    readonly input: string,
    readonly alpha: string,
    public output: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [{ name: this.alpha, lastDim: this.perChannel ? this.shape.at(-1)! : 1 }];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return preluPipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), alpha: io.weight(this.alpha), output: io.tensor(this.output) };
    const o = { view: this.view, label: this.name };
    return preluDispatch(ctx, pipe, this.shape, this.perChannel, this.act, b, o);
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: PreluNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  const x = lc.shape(n.inputs[0]!);
  const step = new PreluStep(
    n.name,
    x,
    perChannel(n, x, lc),
    n.activation,
    n.inputs[0]!,
    n.alpha,
    out,
    lc.defaultView(out),
  );
  lc.emit(step);
}

export const op: OpDef<PreluNode> = {
  op: 'prelu',
  arity: 1,
  parse: (raw, base, c, what) => ({
    op: 'prelu',
    ...base,
    alpha: c.str(raw.alpha, `${what} alpha`),
    activation: parseClamp(c, raw.activation, what),
  }),
  constants: (n) => [n.alpha],
  outputShape(n, [x], cx) {
    perChannel(n, x!, cx);
    return [...x!];
  },
  reference: (n, [x], cx) => preluRef(x!, cx.shape(n.inputs[0]!), cx.constant(n.alpha), n.activation),
  cost: (n, [x], cx) => ({ params: product(cx.constShape(n.alpha)!), macs: 0, bytes: 8 * product(x!) }),
  lower,
  onnx(n, b) {
    const x = b.shape(n.inputs[0]!);
    const c = x.at(-1)!;
    const per = perChannel(n, x, b);
    // PRelu broadcasts the slope to NCHW: per channel it is [C, 1, 1] for rank 4, [C] otherwise.
    const dims = per ? (x.length === 4 ? [c, 1, 1] : [c]) : [1];
    const slope = b.constant(`${n.alpha}:onnx`, dims, () => b.data(n.alpha));
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'PRelu', inputs: [input, slope], outputs: [target] }),
    );
  },
  tflite: {
    builtins: ['PRELU'],
    convert(op, cx) {
      const out = cx.output(op);
      const as = cx.inputShape(op, 1);
      return {
        op: 'prelu',
        name: out,
        inputs: [cx.activation(op, 0)],
        outputs: [out],
        alpha: cx.constant(op, 1, 'alpha', as),
        activation: cx.clamp(op, 'NONE'),
      };
    },
  },
};
