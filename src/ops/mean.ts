/**
 * mean: the average over H and W of an NHWC tensor (global average pooling, MobileNetV3's squeeze-excite),
 * keeping the dimensions ([N, 1, 1, C]) or not ([N, C]). TFLite MEAN over axes {1, 2}; ONNX ReduceMean.
 */
import source from '../../shaders/mean.wgsl';
import type { Clamp, OutputView } from '../core/geometry.ts';
import { product } from '../core/shape.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { intersect, parseClamp } from './support/conv.ts';
import type { OptionsSchema } from './support/interchange.ts';
import type { LowerContext, Step, StepIo } from './support/lowering.ts';
import { ShapeError, type NodeBase } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import { withStorage, type StorageType } from '../kernels/storage.ts';

export interface MeanNode extends NodeBase {
  op: 'mean';
  /** Output [N, 1, 1, C] rather than [N, C]. */
  keepDims: boolean;
  /** A quantized output's range. */
  activation: Clamp;
}

declare module './support/node.ts' {
  interface OpNodes {
    mean: MeanNode;
  }
}

const MeanParams = uniformSchema('Params', {
  batch: 'u32',
  pixels: 'u32',
  channels: 'u32',
  outBase: 'u32',
  outBatchStride: 'u32',
  clampMin: 'f32',
  clampMax: 'f32',
});

export function meanPipeline(
  ctx: GpuContext,
  storage: StorageType = 'f32',
  workgroupSize = 64,
): Promise<CachedPipeline> {
  return ctx.pipeline(`mean/${storage}/wg${workgroupSize}`, () => ({
    label: 'mean',
    code: withStorage(storage, MeanParams.wgsl + source),
    constants: { WG_SIZE: workgroupSize },
    bindings: ['uniform', 'rw', 'rw'],
  }));
}

/** `x` is the input shape [N, H, W, C]. */
export function meanDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  x: readonly number[],
  act: Clamp,
  b: { input: Binding; output: Binding },
  opts: { view?: OutputView; label?: string } = {},
): Dispatch {
  const [batch, h, w, channels] = x as [number, number, number, number];
  const view = opts.view ?? { base: 0, batchStride: channels, pixelStride: channels };
  const params = {
    batch,
    pixels: h * w,
    channels,
    outBase: view.base,
    outBatchStride: view.batchStride,
    clampMin: act.min,
    clampMax: act.max,
  };
  const meta = {
    label: opts.label ?? 'mean',
    op: 'mean',
    flops: product(x),
    bytes: 4 * (product(x) + batch * channels),
  };
  const threads = batch * channels;
  return makeDispatch(ctx, pipe, MeanParams, params, [b.input, b.output], { threads, workgroupSize: 64 }, meta);
}

/** Plain-loop CPU reference: [N, C] values (either output shape has them in this order). */
export function meanRef(x: Float32Array, shape: readonly number[], act: Clamp): Float32Array {
  const [n, h, w, c] = shape as [number, number, number, number];
  const y = new Float32Array(n * c);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++) {
      let sum = 0;
      for (let k = 0; k < h * w; k++) sum += x[(b * h * w + k) * c + ch]!;
      y[b * c + ch] = Math.min(Math.max(sum / (h * w), act.min), act.max);
    }
  return y;
}

class MeanStep implements Step {
  readonly kind = 'mean';
  constructor(
    readonly name: string,
    readonly x: number[],
    public act: Clamp,
    readonly input: string,
    public output: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return meanPipeline(ctx, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = { input: io.tensor(this.input), output: io.tensor(this.output) };
    return meanDispatch(ctx, pipe, this.x, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

function lower(n: MeanNode, lc: LowerContext): void {
  const out = n.outputs[0]!;
  lc.emit(new MeanStep(n.name, lc.shape(n.inputs[0]!), n.activation, n.inputs[0]!, out, lc.defaultView(out)));
}

const REDUCER_OPTIONS = {
  table: 'ReducerOptions',
  type: 27,
  fields: { keepDims: [0, 'bool'] },
} as const satisfies OptionsSchema;

export const op: OpDef<MeanNode> = {
  op: 'mean',
  arity: 1,
  parse(raw, base, c, what) {
    const keepDims =
      typeof raw.keepDims === 'boolean' ? raw.keepDims : c.fail(`${what} keepDims must be true or false`);
    return { op: 'mean', ...base, keepDims, activation: parseClamp(c, raw.activation, what) };
  },
  outputShape(n, [x]) {
    if (x!.length !== 4) throw new ShapeError(`input has shape [${x}], expected NHWC`);
    return n.keepDims ? [x![0]!, 1, 1, x![3]!] : [x![0]!, x![3]!];
  },
  reference: (n, [x], cx) => meanRef(x!, cx.shape(n.inputs[0]!), n.activation),
  cost: (_, [x]) => ({ params: 0, macs: 0, bytes: 4 * (product(x!) + x![0]! * x![3]!) }),
  lower,
  onnx(n, b) {
    // NCHW: H and W are axes 2 and 3; without keepDims the [N, C] result is already in our order.
    const attributes = [
      { name: 'axes', ints: [2, 3] },
      { name: 'keepdims', int: n.keepDims ? 1 : 0 },
    ];
    const input = b.value(n.inputs[0]!);
    b.withClamp(n.name, b.value(n.outputs[0]!), n.activation, (target) =>
      b.node({ name: n.name, opType: 'ReduceMean', inputs: [input], outputs: [target], attributes }),
    );
  },
  tflite: {
    builtins: ['MEAN'],
    convert(op, cx) {
      const o = cx.options(op, REDUCER_OPTIONS);
      const xs = cx.inputShape(op, 0);
      const axes = cx.values(op, 1);
      const sorted = axes ? [...axes].map((a) => (a < 0 ? a + xs.length : a)).sort() : [];
      if (xs.length !== 4 || sorted.length !== 2 || sorted[0] !== 1 || sorted[1] !== 2)
        cx.unsupported(op, `a mean over axes [${axes ? [...axes] : 'computed'}] of [${xs}] (only H and W of NHWC)`);
      const out = cx.output(op);
      return {
        op: 'mean',
        name: out,
        inputs: [cx.activation(op, 0)],
        outputs: [out],
        keepDims: o.keepDims,
        activation: cx.clamp(op, 'NONE'),
      };
    },
  },
};
