/**
 * conv2d: standard convolution with bias and a fused clamp, filter [KH, KW, Cin, Cout] (HWIO).
 * A 1x1, stride-1 convolution over channels divisible by 4 lowers to the vec4 GEMM (pointwise
 * kernel), which also takes the inverted-residual skip add into its epilogue; any other runs as a
 * convolution kernel. TFLite CONV_2D; ONNX Conv.
 */
import type { Clamp, ConvGeometry, OutputView } from '../core/geometry.ts';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { clampBackwardRef } from '../kernels/activation_backward_ref.ts';
import {
  conv2dBackwardDispatches,
  conv2dBackwardPipelines,
  conv2dBackwardScratch,
  type ConvBackwardBindings,
  type ConvGrad,
} from '../kernels/conv2d_backward.ts';
import { conv2dBackwardRef } from '../kernels/conv2d_backward_ref.ts';
import {
  CONV2D_VARIANTS,
  conv2dDispatch,
  conv2dPipeline,
  conv2dVariantSupported,
  selectConv2dVariant,
  type Conv2dVariant,
} from '../kernels/conv2d.ts';
import { conv2dRef } from '../kernels/conv2d_ref.ts';
import { convForwardRef64 } from '../kernels/conv_ref64.ts';
import { pointwiseBackwardDispatch, pointwiseBackwardPipeline } from '../kernels/pointwise_conv2d_backward.ts';
import {
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseVariantSupported,
  POINTWISE_VARIANTS,
  type PointwiseShape,
  type PointwiseVariant,
} from '../kernels/pointwise_conv2d.ts';
import { plannedPointwise } from '../kernels/pointwise_tuning.ts';
import { packedBias } from '../kernels/qcommon.ts';
import {
  QCONV2D_VARIANTS,
  qconv2dDispatch,
  qconv2dPipeline,
  qconv2dVariantSupported,
  selectQConv2dVariant,
  type QConv2dVariant,
} from '../kernels/qconv2d.ts';
import {
  QPOINTWISE_VARIANTS,
  qpointwiseConv2dDispatch,
  qpointwiseConv2dPipeline,
  qpointwiseVariantSupported,
  selectQPointwiseVariant,
  type QPointwiseVariant,
} from '../kernels/qpointwise_conv2d.ts';
import { packQuantized } from '../kernels/quantization.ts';
import {
  convBackward,
  convCost,
  convertConv,
  convOnnx,
  convOutputShape,
  intersect,
  residualEpilogue,
  sliceEpilogue,
  geometryAtBatch,
  loweredGeometry,
  parseConvAttrs,
  type ConvNode,
} from './support/conv.ts';
import type { LowerContext, Step, StepIo, WeightUse } from './support/lowering.ts';
import {
  channelWords,
  constantInts,
  IntegerStep,
  integerOf,
  quantConv,
  toQuantArray,
  type IntegerKernel,
} from './support/quantized.ts';
import { lowerFused } from './support/dwpw.ts';
import type { GraphNode } from './support/node.ts';
import type { OpDef } from './support/op_def.ts';
import type { StorageType } from '../kernels/storage.ts';

export interface Conv2dNode extends ConvNode {
  op: 'conv2d';
}

declare module './support/node.ts' {
  interface OpNodes {
    conv2d: Conv2dNode;
  }
}

export function isConv2d(n: GraphNode): n is Conv2dNode {
  return n.op === 'conv2d';
}

/** A standard convolution kernel launch. */
export class Conv2dStep implements Step {
  readonly kind = 'conv2d';
  constructor(
    readonly name: string,
    readonly variant: Conv2dVariant,
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
    return conv2dPipeline(ctx, this.variant, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const b = {
      input: io.tensor(this.input),
      filter: io.weight(this.filter),
      bias: io.weight(this.bias),
      output: io.tensor(this.output),
    };
    return conv2dDispatch(ctx, pipe, this.variant, this.g, this.act, b, { view: this.view, label: this.name });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    this.view = view;
    this.act = intersect(this.act, clamp);
    return true;
  }
}

/** A 1x1 convolution as a GEMM, with the residual add of an inverted-residual block fusable into it. */
export class PointwiseStep implements Step {
  readonly kind = 'pointwise';
  residual: { tensor: string; act: Clamp } | undefined;
  constructor(
    readonly name: string,
    readonly variant: PointwiseVariant,
    readonly workgroupSize: number,
    readonly s: PointwiseShape,
    public act: Clamp,
    readonly input: string,
    public output: string,
    readonly filter: string,
    readonly bias: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return this.residual ? [this.input, this.residual.tensor] : [this.input];
  }
  weights() {
    return [
      { name: this.filter, lastDim: this.s.N },
      { name: this.bias, lastDim: this.s.N },
    ];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return pointwiseConv2dPipeline(ctx, this.variant, this.workgroupSize, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const r = this.residual;
    const b = {
      input: io.tensor(this.input),
      weights: io.weight(this.filter),
      bias: io.weight(this.bias),
      output: io.tensor(this.output),
      ...(r ? { residual: io.tensor(r.tensor) } : {}),
    };
    const o = { view: this.view, label: this.name, dummy: io.dummy, workgroupSize: this.workgroupSize };
    return pointwiseConv2dDispatch(ctx, pipe, this.variant, this.s, this.act, b, r ? { ...o, residualAct: r.act } : o);
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    return sliceEpilogue(this, view, clamp);
  }
  addResidual(tensor: string, act: Clamp): boolean {
    return residualEpilogue(this, tensor, act);
  }
}

/** 1x1, stride 1, vec4-divisible input channels: the GEMM takes it. */
function isPointwise(g: ConvGeometry, n: Conv2dNode): boolean {
  return g.kH === 1 && g.kW === 1 && n.strides[0] === 1 && n.strides[1] === 1 && g.inC % 4 === 0;
}

function gemmShape(g: ConvGeometry): PointwiseShape {
  return { M: g.batch * g.outH * g.outW, K: g.inC, N: g.outC, HW: g.outH * g.outW };
}

/**
 * Integer lowering: a 1x1 stride-1 convolution as the integer GEMM (qpointwise_conv2d), any other as
 * the integer convolution (qconv2d); filters go back to TFLite's OHWI ([Cout, K]), packed four to a word.
 */
function lowerInteger(n: Conv2dNode, lc: LowerContext): void {
  const g = geometryAtBatch(n, lc, false);
  const q = quantConv(n, g, lc);
  const { packedDot, requant } = integerOf(lc);
  const config = { dtype: q.operands.dtype, requant };
  const out = n.outputs[0]!;
  const k = g.kH * g.kW * g.inC;
  const key = `${n.name}:int:${requant}`;
  const filterNK = (c: (name: string) => Float32Array) =>
    toQuantArray(q.operands.dtype, hwioToOhwi(constantInts(lc, n.filter, q.filter, c), g.outC));
  const uses: WeightUse[] = [
    { name: `${key}:filter`, lastDim: 0, words: (c) => packQuantized(filterNK(c)) },
    {
      name: `${key}:channels`,
      lastDim: 0,
      words(c) {
        const bias = constantInts(lc, n.bias, q.bias, c);
        const { inputZeroPoint: zx, filterZeroPoint: zw } = q.operands;
        return channelWords(q, bias, packedBias(bias, filterNK(c), k, zx, zw));
      },
    },
  ];
  const bindings = (io: StepIo) => ({
    input: io.tensor(n.inputs[0]!),
    filter: io.weight(uses[0]!.name),
    channels: io.weight(uses[1]!.name),
    output: io.tensor(out),
  });
  const step = (kind: string, variant: string, kernel: IntegerKernel) =>
    lc.emit(new IntegerStep(n.name, kind, variant, out, lc.defaultView(out), [n.inputs[0]!], uses, kernel));
  if (g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1) {
    const s = { M: g.batch * g.outH * g.outW, K: g.inC, N: g.outC };
    const forced = lc.force.qpointwise as QPointwiseVariant | undefined;
    const v =
      forced &&
      QPOINTWISE_VARIANTS.includes(forced) &&
      qpointwiseVariantSupported(s, forced) &&
      (packedDot || !forced.endsWith('dot4'))
        ? forced
        : selectQPointwiseVariant(s, packedDot);
    step('qpointwise', v, {
      pipeline: (ctx) => qpointwiseConv2dPipeline(ctx, v, config),
      dispatch: (ctx, pipe, io) =>
        qpointwiseConv2dDispatch(ctx, pipe, v, s, q.operands, q.requant, bindings(io), { label: n.name }),
    });
    return;
  }
  const forced = lc.force.qconv2d as QConv2dVariant | undefined;
  const v =
    forced &&
    QCONV2D_VARIANTS.includes(forced) &&
    qconv2dVariantSupported(g, forced) &&
    (packedDot || !forced.endsWith('dot4'))
      ? forced
      : selectQConv2dVariant(g, packedDot);
  step('qconv2d', v, {
    pipeline: (ctx) => qconv2dPipeline(ctx, v, config),
    dispatch: (ctx, pipe, io) =>
      qconv2dDispatch(ctx, pipe, v, g, q.operands, q.requant, bindings(io), { label: n.name }),
  });
}

/** Our HWIO filter integers back to TFLite's OHWI, i.e. [Cout, KH*KW*Cin]. */
function hwioToOhwi(w: Int32Array, outC: number): Int32Array {
  const spatial = w.length / outC;
  const out = new Int32Array(w.length);
  for (let s = 0; s < spatial; s++) for (let oc = 0; oc < outC; oc++) out[oc * spatial + s] = w[s * outC + oc]!;
  return out;
}

function lower(n: Conv2dNode, lc: LowerContext): void {
  if (lc.integer) return lowerInteger(n, lc);
  const { g, input } = loweredGeometry(n, lc, false);
  const out = n.outputs[0]!;
  const view = lc.defaultView(out);
  if (isPointwise(g, n)) {
    const s = gemmShape(g);
    const fused = { input, N: s.N, act: n.activation, filter: n.filter, bias: n.bias, view };
    if (lowerFused(n, lc, fused)) return;
    const tuned = plannedPointwise(lc.driver, s, lc.gemm, lc.subgroups);
    const forced = lc.force.pointwise as PointwiseVariant | undefined;
    const known =
      forced !== undefined && (POINTWISE_VARIANTS.includes(forced) || /^(blocked|tiled|subgroup)\d+x\d+$/.test(forced));
    const variant = known && pointwiseVariantSupported(s, forced) ? forced : tuned.variant;
    const wg = variant === tuned.variant ? tuned.workgroupSize : 64;
    lc.emit(new PointwiseStep(n.name, variant, wg, s, n.activation, input, out, n.filter, n.bias, view));
    return;
  }
  const forced = lc.force.conv2d as Conv2dVariant | undefined;
  const known = forced !== undefined && CONV2D_VARIANTS.includes(forced);
  const variant = known && conv2dVariantSupported(g, forced) ? forced : selectConv2dVariant(g, lc.driver);
  lc.emit(new Conv2dStep(n.name, variant, g, n.activation, input, out, n.filter, n.bias, view));
}

/** TFLite CONV_2D filters are [O, KH, KW, I]; ours are [KH, KW, I, O]. */
export function ohwiToHwio(w: Float32Array, [o, kh, kw, i]: readonly number[]): Float32Array {
  const out = new Float32Array(w.length);
  const spatial = kh! * kw! * i!;
  for (let oc = 0; oc < o!; oc++) {
    for (let s = 0; s < spatial; s++) out[s * o! + oc] = w[oc * spatial + s]!;
  }
  return out;
}

/** HWIO [KH, KW, I, O] -> ONNX's OIHW [O, I, KH, KW]. */
function hwioToOihw(f: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(f.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = f[((y * kw + x) * ci + i) * co + o]!;
  return out;
}

type Grads = ConvBackwardBindings;

export const op: OpDef<Conv2dNode> = {
  op: 'conv2d',
  arity: 1,
  integer: true,
  parse: (raw, base, c, what) => ({ op: 'conv2d', ...base, ...parseConvAttrs(raw, what, c) }),
  constants: (n) => [n.filter, n.bias],
  outputShape: (n, [x], cx) => convOutputShape(n, x!, cx, false),
  reference(n, [x], cx) {
    const g = geometryAtBatch(n, cx, false);
    return conv2dRef(g, x!, cx.constant(n.filter), cx.constant(n.bias), n.activation);
  },
  cost: (n, [x], cx) => convCost(n, x!, cx, false),
  lower,
  onnx(n, b) {
    const [kh, kw, ci, co] = b.constShape(n.filter) as [number, number, number, number];
    const data = () => hwioToOihw(b.data(n.filter), kh, kw, ci, co);
    convOnnx(n, b, false, { name: `${n.filter}:oihw`, dims: [co, ci, kh, kw], data });
  },
  tflite: { builtins: ['CONV_2D'], convert: (op, cx) => convertConv(op, cx, false, ohwiToHwio) },
  train: {
    scratchFloats(n, bc) {
      const g = geometryAtBatch(n, bc, false);
      return isPointwise(g, n) ? 0 : conv2dBackwardScratch(g);
    },
    backward(n, bc) {
      const g = geometryAtBatch(n, bc, false);
      const ctx = bc.ctx;
      return convBackward(n, bc, g, async (which: ConvGrad, b: Grads, o) => {
        if (isPointwise(g, n))
          return [
            pointwiseBackwardDispatch(ctx, await pointwiseBackwardPipeline(ctx, which), which, gemmShape(g), b, o),
          ];
        const pipes = await conv2dBackwardPipelines(ctx, which);
        return conv2dBackwardDispatches(ctx, pipes, which, g, { ...b, scratch: bc.scratch }, o);
      });
    },
    forward64(n, [x], cx) {
      const g = geometryAtBatch(n, cx, false);
      return convForwardRef64(g, false, x!, cx.param(n.filter), cx.param(n.bias), n.activation);
    },
    backward64(n, [x], y, dy, cx) {
      const g = geometryAtBatch(n, cx, false);
      const r = conv2dBackwardRef(g, x!, cx.param(n.filter), clampBackwardRef(y, dy, n.activation));
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
