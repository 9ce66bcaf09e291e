/**
 * depthwise_conv2d: one KHxKW filter per channel (depth multiplier 1), bias and a fused clamp; filter
 * [KH, KW, C]. The depthwise half of MobileNet's separable convolution. TFLite DEPTHWISE_CONV_2D;
 * ONNX Conv with group = C.
 */
import type { Clamp, ConvGeometry, OutputView } from '../core/geometry.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { clampBackwardRef } from '../kernels/activation_backward_ref.ts';
import { convForwardRef64 } from '../kernels/conv_ref64.ts';
import {
  DEPTHWISE_VARIANTS,
  depthwiseConv2dDispatch,
  depthwiseConv2dPipeline,
  depthwiseVariantSupported,
  selectDepthwiseVariant,
  type DepthwiseVariant,
} from '../kernels/depthwise_conv2d.ts';
import { depthwiseBackwardDispatch, depthwiseBackwardPipeline } from '../kernels/depthwise_conv2d_backward.ts';
import { depthwiseBackwardRef } from '../kernels/depthwise_conv2d_backward_ref.ts';
import { depthwiseConv2dRef } from '../kernels/depthwise_conv2d_ref.ts';
import {
  convBackward,
  convCost,
  convertConv,
  convOnnx,
  convOutputShape,
  intersect,
  geometryAtBatch,
  loweredGeometry,
  parseConvAttrs,
  type ConvNode,
} from './support/conv.ts';
import type { LowerContext, Step, StepIo, WeightUse } from './support/lowering.ts';
import { channelWords, constantInts, IntegerStep, integerOf, quantConv, toQuantArray } from './support/quantized.ts';
import {
  QDEPTHWISE_VARIANTS,
  qdepthwiseConv2dDispatch,
  qdepthwiseConv2dPipeline,
  qdepthwiseVariantSupported,
  selectQDepthwiseVariant,
  type QDepthwiseVariant,
} from '../kernels/qdepthwise_conv2d.ts';
import { packQuantized } from '../kernels/quantization.ts';
import type { GraphNode } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import type { StorageType } from '../kernels/storage.ts';

export interface DepthwiseConv2dNode extends ConvNode {
  op: 'depthwise_conv2d';
}

declare module './support/node.ts' {
  interface OpNodes {
    depthwise_conv2d: DepthwiseConv2dNode;
  }
}

export function isDepthwiseConv2d(n: GraphNode): n is DepthwiseConv2dNode {
  return n.op === 'depthwise_conv2d';
}

export class DepthwiseStep implements Step {
  readonly kind = 'depthwise';
  constructor(
    readonly name: string,
    readonly variant: DepthwiseVariant,
    readonly g: ConvGeometry,
    public act: Clamp,
    readonly input: string,
    public output: string,
    readonly filter: string,
    readonly bias: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return [this.input];
  }
  weights() {
    return [
      { name: this.filter, lastDim: this.g.outC },
      { name: this.bias, lastDim: this.g.outC },
    ];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return depthwiseConv2dPipeline(ctx, this.variant, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = {
      input: io.tensor(this.input),
      filter: io.weight(this.filter),
      bias: io.weight(this.bias),
      output: io.tensor(this.output),
    };
    return depthwiseConv2dDispatch(ctx, pipe, this.variant, this.g, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

/** Integer lowering: qdepthwise_conv2d on the filter as TFLite stores it ([1, KH, KW, C] = ours). */
function lowerInteger(n: DepthwiseConv2dNode, lc: LowerContext): void {
  const g = geometryAtBatch(n, lc, true);
  const q = quantConv(n, g, lc);
  const { requant } = integerOf(lc);
  const out = n.outputs[0]!;
  const key = `${n.name}:int:${requant}`;
  const uses: WeightUse[] = [
    {
      name: `${key}:filter`,
      lastDim: 0,
      words: (c) => packQuantized(toQuantArray(q.operands.dtype, constantInts(lc, n.filter, q.filter, c))),
    },
    {
      name: `${key}:channels`,
      lastDim: 0,
      words(c) {
        const bias = constantInts(lc, n.bias, q.bias, c);
        return channelWords(q, bias, bias);
      },
    },
  ];
  const forced = lc.force.qdepthwise as QDepthwiseVariant | undefined;
  const v =
    forced && QDEPTHWISE_VARIANTS.includes(forced) && qdepthwiseVariantSupported(g, forced)
      ? forced
      : selectQDepthwiseVariant(g);
  const config = { dtype: q.operands.dtype, requant };
  lc.emit(
    new IntegerStep(n.name, 'qdepthwise', v, out, lc.defaultView(out), [n.inputs[0]!], uses, {
      pipeline: (ctx) => qdepthwiseConv2dPipeline(ctx, v, config),
      dispatch: (ctx, pipe, io) =>
        qdepthwiseConv2dDispatch(
          ctx,
          pipe,
          v,
          g,
          q.operands,
          q.requant,
          {
            input: io.tensor(n.inputs[0]!),
            filter: io.weight(uses[0]!.name),
            channels: io.weight(uses[1]!.name),
            output: io.tensor(out),
          },
          { label: n.name },
        ),
    }),
  );
}

function lower(n: DepthwiseConv2dNode, lc: LowerContext): void {
  if (lc.integer) return lowerInteger(n, lc);
  const { g, input } = loweredGeometry(n, lc, true);
  const forced = lc.force.depthwise as DepthwiseVariant | undefined;
  const known = forced !== undefined && DEPTHWISE_VARIANTS.includes(forced);
  const variant = known && depthwiseVariantSupported(g, forced) ? forced : selectDepthwiseVariant(g, lc.driver);
  const out = n.outputs[0]!;
  lc.emit(new DepthwiseStep(n.name, variant, g, n.activation, input, out, n.filter, n.bias, lc.defaultView(out)));
}

/** Depthwise [KH, KW, C] -> ONNX's grouped-convolution weights [C, 1, KH, KW]. */
function hwcToC1hw(f: Float32Array, kh: number, kw: number, c: number): Float32Array {
  const out = new Float32Array(f.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++) for (let ch = 0; ch < c; ch++) out[(ch * kh + y) * kw + x] = f[(y * kw + x) * c + ch]!;
  return out;
}

export const op: OpDef<DepthwiseConv2dNode> = {
  op: 'depthwise_conv2d',
  arity: 1,
  integer: true,
  parse: (raw, base, c, what) => ({ op: 'depthwise_conv2d', ...base, ...parseConvAttrs(raw, what, c) }),
  constants: (n) => [n.filter, n.bias],
  outputShape: (n, [x], cx) => convOutputShape(n, x!, cx, true),
  reference(n, [x], cx) {
    const g = geometryAtBatch(n, cx, true);
    return depthwiseConv2dRef(g, x!, cx.constant(n.filter), cx.constant(n.bias), n.activation);
  },
  cost: (n, [x], cx) => convCost(n, x!, cx, true),
  lower,
  onnx(n, b) {
    const [kh, kw, c] = b.constShape(n.filter) as [number, number, number];
    convOnnx(n, b, true, {
      name: `${n.filter}:c1hw`,
      dims: [c, 1, kh, kw],
      data: () => hwcToC1hw(b.data(n.filter), kh, kw, c),
    });
  },
  // The TFLite filter [1, KH, KW, C] holds the values in our [KH, KW, C] order already.
  tflite: {
    builtins: ['DEPTHWISE_CONV_2D'],
    convert: (op, cx) => convertConv(op, cx, true, (w) => w),
  },
  train: {
    backward(n, bc) {
      const g = geometryAtBatch(n, bc, true);
      return convBackward(n, bc, g, async (which, b, o) => [
        depthwiseBackwardDispatch(bc.ctx, await depthwiseBackwardPipeline(bc.ctx, which), which, g, b, o),
      ]);
    },
    forward64(n, [x], cx) {
      return convForwardRef64(
        geometryAtBatch(n, cx, true),
        true,
        x!,
        cx.param(n.filter),
        cx.param(n.bias),
        n.activation,
      );
    },
    backward64(n, [x], y, dy, cx) {
      const r = depthwiseBackwardRef(
        geometryAtBatch(n, cx, true),
        x!,
        cx.param(n.filter),
        clampBackwardRef(y, dy, n.activation),
      );
      return {
        inputs: [r.dx],
        params: [
          [n.filter, r.dw],
          [n.bias, r.db],
        ],
      };
    },
  },
};
