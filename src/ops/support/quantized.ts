/**
 * What the ops' integer lowerings share (precision 'int8'): the model's scales and zero points turned
 * into kernel parameters (the semantics of docs/integer.md), the integers recovered from the model's
 * dequantized constants, and one step class whose pipeline and dispatch each op supplies. Integer
 * steps do not fuse: each writes its whole output, concatenations run as table copies.
 */
import type { ConvGeometry, OutputView } from '../../core/geometry.ts';
import { integerValues, type ConstQuant } from '../../core/quant.ts';
import { UnsupportedOperatorError } from '../../errors.ts';
import type { CachedPipeline, GpuContext } from '../../gpu/context.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import { channelData } from '../../kernels/qcommon.ts';
import type { QConvOperands } from '../../kernels/qconv2d_ref.ts';
import { convRequant, type ConvRequant, type QuantArray, type QuantDType } from '../../kernels/quantization.ts';
import type { ConvNode } from './conv.ts';
import type { IntegerLowering, LowerContext, Step, StepIo, WeightUse } from './lowering.ts';
import type { GraphNode } from './node.ts';

/** The integer lowering; called only by integer lowerings, which run when it is set. */
export function integerOf(lc: LowerContext): IntegerLowering {
  if (!lc.integer) throw new Error('integer lowering asked outside precision int8');
  return lc.integer;
}

/** An op that cannot run in integers in this form. */
export function refuseInteger(n: GraphNode, lc: LowerContext, why: string): never {
  throw new UnsupportedOperatorError(
    lc.model,
    n.op,
    `${n.name} in precision 'int8': ${why}`,
    "load the model with precision: 'f32' (float execution of the dequantized weights)",
  );
}

/** A constant's integers, exactly as the source model stored them. */
export function constantInts(
  lc: { model: string },
  name: string,
  q: ConstQuant,
  constant: (name: string) => Float32Array,
): Int32Array {
  const ints = integerValues(constant(name), q);
  if (typeof ints === 'string')
    throw new UnsupportedOperatorError(
      lc.model,
      'integer constant',
      `${name}: ${ints}`,
      "load it with precision: 'f32'",
    );
  return ints;
}

export function toQuantArray(dtype: QuantDType, ints: Int32Array): QuantArray {
  return dtype === 'uint8' ? Uint8Array.from(ints) : Int8Array.from(ints);
}

/** A convolution's integer operands and per-channel requantization, from the model's quantization. */
export interface QuantConv {
  operands: QConvOperands;
  requant: ConvRequant;
  filter: ConstQuant;
  bias: ConstQuant;
}

export function quantConv(n: GraphNode & ConvNode, g: ConvGeometry, lc: LowerContext): QuantConv {
  const iq = integerOf(lc);
  const input = iq.tensor(n.inputs[0]!);
  const output = iq.tensor(n.outputs[0]!);
  const filter = iq.constant(n.filter);
  const bias = iq.constant(n.bias);
  if (input.dtype !== output.dtype || filter.dtype !== input.dtype)
    refuseInteger(n, lc, `input ${input.dtype}, filter ${filter.dtype}, output ${output.dtype} differ`);
  if (bias.dtype !== 'int32' || bias.zeroPoint.some((z) => z !== 0)) refuseInteger(n, lc, 'the bias is not int32');
  if (filter.zeroPoint.some((z) => z !== filter.zeroPoint[0]))
    refuseInteger(n, lc, 'per-channel filter zero points differ');
  return {
    operands: { dtype: input.dtype, inputZeroPoint: input.zeroPoint, filterZeroPoint: filter.zeroPoint[0]! },
    requant: convRequant({
      dtype: input.dtype,
      input,
      filterScales: filter.scale,
      output,
      activation: output.activation ?? 'NONE',
      requant: iq.requant,
      outC: g.outC,
    }),
    filter,
    bias,
  };
}

/** A convolution's per-channel words (channelData: bias, packed-variant bias, requantization) for the GPU. */
export function channelWords(q: QuantConv, bias: Int32Array, packedBias: Int32Array): Uint32Array {
  const data = channelData(bias, q.requant, packedBias);
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

export interface IntegerKernel {
  pipeline(ctx: GpuContext): Promise<CachedPipeline>;
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch;
}

/** One integer kernel launch: reads whole packed tensors, writes its whole packed output. */
export class IntegerStep implements Step {
  constructor(
    readonly name: string,
    readonly kind: string,
    readonly variant: string,
    public output: string,
    public view: OutputView,
    private readonly inputs: readonly string[],
    private readonly uses: readonly WeightUse[],
    private readonly kernel: IntegerKernel,
  ) {}

  reads(): string[] {
    return [...this.inputs];
  }
  weights(): WeightUse[] {
    return [...this.uses];
  }
  pipeline(ctx: GpuContext): Promise<CachedPipeline> {
    return this.kernel.pipeline(ctx);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    return this.kernel.dispatch(ctx, pipe, io);
  }
}
