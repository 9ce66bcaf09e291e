/**
 * activation: y = clamp(f(x)) element-wise, f one of identity, tanh and hard_swish. TFLite RELU, RELU6,
 * RELU_N1_TO_1 (identity with a clamp), TANH, HARD_SWISH, and DEQUANTIZE of a computed tensor (the engine
 * holds an integer tensor as its real values already, so that is the identity). A clamp-only activation
 * fuses into the step that computes its input (the convolution's epilogue clamp); an identity without a
 * clamp aliases its input. ONNX Relu/Clip, Tanh, HardSigmoid x Mul.
 */
import source from '../../shaders/activation.wgsl';
import { ACTIVATIONS, type Clamp, type OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, isIdentity, parseClamp } from './support/conv.ts';
import type { TfliteActivation } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import type { NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export const ACTIVATION_FNS = ['identity', 'tanh', 'hard_swish'] as const;
export type ActivationFn = (typeof ACTIVATION_FNS)[number];

export interface ActivationNode extends NodeBase {
  op: 'activation';
  fn: ActivationFn;
  /** Applied after fn: ReLU's [0, inf), ReLU6's [0, 6], a quantized output's range. */
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    activation: ActivationNode;
  }
}

/** A tensor as [batch, pixels, channels] (channels its last axis) and the view its result is written through. */
export const ViewParams = uniformSchema('Params', {
  count: 'u32',
  channels: 'u32',
  pixels: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  outPixelStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

export function activationPipeline(
  ctx: GpuContext,
  fn: ActivationFn,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`activation/${fn}/${storage}/wg${workgroupSize}`, () => ({
    label: `activation_${fn}`,
    code: withStorage(storage, ViewParams.wgsl + source),
    entryPoint: `main_${fn}`,
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `shape` is the tensor's, batch first; without a view the output is contiguous. */
export function activationDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  fn: ActivationFn,
  shape: readonly number[],
  act: Clamp,
  b: { input: Binding; output: Binding },
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
    outBase: view.base,
    outBatchStride: view.batchStride,
    outPixelStride: view.pixelStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const flops = (fn === 'identity' ? 1 : 6) * count;
  const meta = { label: opts.label ?? `activation_${fn}`, op: 'activation', flops, bytes: 8 * count };
  return makeDispatch(ctx, pipe, ViewParams, params, [b.input, b.output], { threads: count, workgroupSize: 64 }, meta);
}

/** Plain-loop CPU reference. */
export function activationRef(fn: ActivationFn, x: Float32Array, act: Clamp): Float32Array {
  const f = {
    identity: (v: number) => v,
    tanh: Math.tanh,
    hard_swish: (v: number) => (v * Math.min(Math.max(v + 3, 0), 6)) / 6,
  }[fn];
  return x.map((v) => Math.min(Math.max(f(v), act.min), act.max));
}

class ActivationStep implements Step {
  readonly kind = 'activation';
  constructor(
    readonly name: string,
    readonly fn: ActivationFn,
    readonly shape: number[],
    public act: Clamp,
    readonly input: string,
    public output: string,
    public view: OutputView,
  ) {}

  get variant(): string {
    return this.fn;
  }
  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return activationPipeline(ctx, this.fn, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return activationDispatch(ctx, pipe, this.fn, this.shape, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: ActivationNode, lc: LowerContext): void {
  const input = n.inputs[0]!;
  const out = n.outputs[0]!;
  if (n.fn === 'identity') {
    if (isIdentity(n.activation)) return lc.alias(out, input);
    // A clamp folds into the producer's epilogue clamp when nothing else reads the unclamped values.
    const src = lc.source(input);
    if (
      lc.fuse &&
      src?.chain.length === 1 &&
      lc.soleUse(input, n) &&
      src.step.writeSlice?.(lc.defaultView(out), n.activation)
    ) {
      lc.redirect(src.step, out);
      return;
    }
  }
  lc.emit(new ActivationStep(n.name, n.fn, lc.shape(out), n.activation, input, out, lc.defaultView(out)));
}

/** TFLite builtin -> what it computes before the output's own range clamp. */
const BUILTINS: Record<string, { fn: ActivationFn; clamp: TfliteActivation }> = {
  RELU: { fn: 'identity', clamp: 'RELU' },
  RELU6: { fn: 'identity', clamp: 'RELU6' },
  RELU_N1_TO_1: { fn: 'identity', clamp: 'RELU_N1_TO_1' },
  TANH: { fn: 'tanh', clamp: 'NONE' },
  HARD_SWISH: { fn: 'hard_swish', clamp: 'NONE' },
};

export const op: OpDef<ActivationNode> = {
  op: 'activation',
  arity: 1,
  parse(raw, base, c, what) {
    const fn = ACTIVATION_FNS.find((f) => f === raw.fn) ?? c.fail(`${what}: fn ${JSON.stringify(raw.fn)} is unknown`);
    return { op: 'activation', ...base, fn, activation: parseClamp(c, raw.activation, what) };
  },
  outputShape: (_, [x]) => [...x!],
  reference: (n, [x]) => activationRef(n.fn, x!, n.activation),
  cost: (_, [x]) => ({ params: 0, macs: 0, bytes: 8 * product(x!) }),
  lower,
  onnx(n, b) {
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) => {
      if (n.fn === 'identity') b.node({ name: n.name, opType: 'Identity', inputs: [input], outputs: [target] });
      else if (n.fn === 'tanh') b.node({ name: n.name, opType: 'Tanh', inputs: [input], outputs: [target] });
      else {
        // HardSwish is opset 14; x * HardSigmoid(x) with alpha 1/6, beta 1/2 is the same function.
        const gate = `${n.name}/gate`;
        const attributes = [
          { name: 'alpha', float: 1 / 6 },
          { name: 'beta', float: 0.5 },
        ];
        b.node({ name: gate, opType: 'HardSigmoid', inputs: [input], outputs: [gate], attributes });
        b.node({ name: n.name, opType: 'Mul', inputs: [input, gate], outputs: [target] });
      }
    });
  },
  tflite: {
    builtins: [...Object.keys(BUILTINS), 'DEQUANTIZE'],
    convert(op, cx) {
      const out = cx.output(op);
      const base = { op: 'activation' as const, name: out, inputs: [cx.activation(op, 0)], outputs: [out] };
      // A dequantized tensor is the real values the engine holds for its quantized input: no clamp, no kernel.
      if (op.name === 'DEQUANTIZE') return { ...base, fn: 'identity', activation: { ...ACTIVATIONS.none } };
      const b = BUILTINS[op.name]!;
      return { ...base, fn: b.fn, activation: cx.clamp(op, b.clamp) };
    },
  },
};
