/**
 * The operators of a quantized .tflite as integer-kernel specs: geometry, operand zero points,
 * per-channel requantization, tables. Shared by the CPU interpreter (tflite_int_reference.ts) and
 * the GPU harness (tflite_int_gpu.ts) so both run exactly the same parameters. Test support only:
 * the product will get integer execution through the op registry.
 */
import {
  builtinName,
  BUILTIN,
  elementCount,
  readOptions,
  tensorData,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
} from '../../src/convert/tflite.ts';
import { convGeometry, type ConvGeometry } from '../../src/core/geometry.ts';
import { CONCAT_OPTIONS } from '../../src/ops/concat.ts';
import { CONV_OPTIONS, DEPTHWISE_OPTIONS } from '../../src/ops/support/conv.ts';
import type { QConvOperands } from '../../src/kernels/qconv2d_ref.ts';
import { concatRequantTable, logisticTable } from '../../src/kernels/quant_tables.ts';
import {
  addRequant,
  convRequant,
  type AddRequant,
  type ConvRequant,
  type FusedActivation,
  type QuantArray,
  type QuantDType,
  type QuantParams,
  type Requantization,
} from '../../src/kernels/quantization.ts';

export type IntOp =
  | {
      kind: 'conv2d' | 'depthwise';
      op: TfliteOperator;
      g: ConvGeometry;
      operands: QConvOperands;
      filter: QuantArray;
      bias: Int32Array;
      requant: ConvRequant;
      input: number;
      output: number;
    }
  | { kind: 'reshape'; op: TfliteOperator; input: number; output: number }
  | { kind: 'concat'; op: TfliteOperator; axis: number; inputs: number[]; tables: Uint32Array[]; output: number }
  | { kind: 'logistic'; op: TfliteOperator; table: Uint32Array; input: number; output: number }
  | { kind: 'add'; op: TfliteOperator; requant: AddRequant; inputs: [number, number]; output: number };

export function dtypeOf(t: TfliteTensor): QuantDType {
  if (t.type === 'UINT8') return 'uint8';
  if (t.type === 'INT8') return 'int8';
  throw new Error(`tensor ${t.index} (${t.name}) is ${t.type}, not a quantized 8-bit tensor`);
}

export function quantOf(t: TfliteTensor): QuantParams {
  const q = t.quantization;
  if (!q || q.scale.length !== 1) throw new Error(`tensor ${t.index} (${t.name}) needs per-tensor quantization`);
  return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0]! };
}

export function constantOf(model: TfliteModel, t: TfliteTensor): QuantArray {
  const data = tensorData(model, t);
  if (!data) throw new Error(`tensor ${t.index} (${t.name}) has no constant data`);
  return dtypeOf(t) === 'uint8' ? data.slice() : new Int8Array(data.slice().buffer);
}

function biasOf(model: TfliteModel, index: number, outC: number): Int32Array {
  if (index < 0) return new Int32Array(outC);
  const t = model.tensors[index]!;
  const data = tensorData(model, t);
  if (t.type !== 'INT32' || !data || data.byteLength !== 4 * outC)
    throw new Error(`bias tensor ${index} (${t.name}) must be int32 [${outC}]`);
  return new Int32Array(data.slice().buffer);
}

function activationOf(a: string): FusedActivation {
  if (a === 'NONE' || a === 'RELU' || a === 'RELU6' || a === 'RELU_N1_TO_1') return a;
  throw new Error(`fused activation ${a} is not supported on quantized tensors`);
}

/** Every operator of subgraph 0 before the first custom op (the SSD post-process), as integer specs. */
export function intOps(model: TfliteModel, requant: Requantization): IntOp[] {
  const ops: IntOp[] = [];
  for (const op of model.operators) {
    if (op.code.builtin === BUILTIN.CUSTOM) break;
    ops.push(intOp(model, op, requant));
  }
  return ops;
}

function intOp(model: TfliteModel, op: TfliteOperator, requant: Requantization): IntOp {
  const T = (i: number) => model.tensors[i]!;
  switch (op.code.name) {
    case 'CONV_2D':
    case 'DEPTHWISE_CONV_2D': {
      const depthwise = op.code.name === 'DEPTHWISE_CONV_2D';
      const o = readOptions(model, op, depthwise ? DEPTHWISE_OPTIONS : CONV_OPTIONS);
      if (o.dilationH !== 1 || o.dilationW !== 1) throw new Error(`operator ${op.index}: dilation is not supported`);
      const [x, w, y] = [T(op.inputs[0]!), T(op.inputs[1]!), T(op.outputs[0]!)];
      const [, inH, inW, inC] = x.shape as [number, number, number, number];
      const outC = y.shape[3]!;
      if (depthwise && outC !== inC)
        throw new Error(`operator ${op.index}: depth multiplier ${outC / inC} is not supported`);
      const [kH, kW] = [w.shape[1]!, w.shape[2]!];
      const g = convGeometry({
        batch: x.shape[0]!,
        inH,
        inW,
        inC,
        outC,
        kH,
        kW,
        strideH: o.strideH,
        strideW: o.strideW,
        padding: o.padding,
      });
      const dtype = dtypeOf(x);
      const wq = w.quantization;
      if (!wq) throw new Error(`operator ${op.index}: filter tensor ${w.index} (${w.name}) is not quantized`);
      const operands: QConvOperands = {
        dtype,
        inputZeroPoint: quantOf(x).zeroPoint,
        filterZeroPoint: wq.zeroPoint[0]!,
      };
      if (wq.zeroPoint.some((z) => z !== operands.filterZeroPoint))
        throw new Error(`operator ${op.index}: per-channel filter zero points must be equal`);
      const rq = convRequant({
        dtype,
        input: quantOf(x),
        filterScales: wq.scale,
        output: quantOf(y),
        activation: activationOf(o.activation),
        requant,
        outC,
      });
      return {
        kind: depthwise ? 'depthwise' : 'conv2d',
        op,
        g,
        operands,
        filter: constantOf(model, w),
        bias: biasOf(model, op.inputs[2] ?? -1, outC),
        requant: rq,
        input: x.index,
        output: y.index,
      };
    }
    case 'RESHAPE':
      if (elementCount(T(op.inputs[0]!).shape) !== elementCount(T(op.outputs[0]!).shape))
        throw new Error(`operator ${op.index}: reshape changes the element count`);
      return { kind: 'reshape', op, input: op.inputs[0]!, output: op.outputs[0]! };
    case 'CONCATENATION': {
      const o = readOptions(model, op, CONCAT_OPTIONS);
      if (o.activation !== 'NONE')
        throw new Error(`operator ${op.index}: fused activation on CONCATENATION is not supported`);
      const y = T(op.outputs[0]!);
      const axis = o.axis < 0 ? o.axis + y.shape.length : o.axis;
      const dtype = dtypeOf(y);
      return {
        kind: 'concat',
        op,
        axis,
        inputs: op.inputs,
        tables: op.inputs.map((i) => concatRequantTable(dtype, quantOf(T(i)), quantOf(y))),
        output: y.index,
      };
    }
    case 'LOGISTIC': {
      const [x, y] = [T(op.inputs[0]!), T(op.outputs[0]!)];
      return {
        kind: 'logistic',
        op,
        table: logisticTable(dtypeOf(x), quantOf(x), quantOf(y), requant),
        input: x.index,
        output: y.index,
      };
    }
    case 'ADD': {
      const o = readOptions(model, op, { table: 'AddOptions', type: 11, fields: { activation: [0, 'activation'] } });
      const [a, b, y] = [T(op.inputs[0]!), T(op.inputs[1]!), T(op.outputs[0]!)];
      if (elementCount(a.shape) !== elementCount(b.shape))
        throw new Error(`operator ${op.index}: broadcasting ADD is not supported`);
      return {
        kind: 'add',
        op,
        requant: addRequant(dtypeOf(y), quantOf(a), quantOf(b), quantOf(y), activationOf(o.activation), requant),
        inputs: [a.index, b.index],
        output: y.index,
      };
    }
    default:
      throw new Error(`operator ${op.index} (${builtinName(op.code.builtin)}) has no integer kernel`);
  }
}
