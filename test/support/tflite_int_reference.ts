/**
 * A CPU integer interpreter of a quantized .tflite for tests: every operator before the SSD
 * post-process runs through the plain-integer references of src/kernels/*_ref.ts, so its uint8
 * tensors can be compared byte for byte with TFLite's own (the goldens) and with the GPU kernels.
 */
import type { TfliteModel } from '../../src/convert/tflite.ts';
import { qaddRef } from '../../src/kernels/qadd_ref.ts';
import { qconv2dRef } from '../../src/kernels/qconv2d_ref.ts';
import { qdepthwiseConv2dRef } from '../../src/kernels/qdepthwise_conv2d_ref.ts';
import { qpointwiseConv2dRef } from '../../src/kernels/qpointwise_conv2d_ref.ts';
import { quantArray, type QuantArray, type Requantization } from '../../src/kernels/quantization.ts';
import { dtypeOf, intOps, type IntOp } from './tflite_int_ops.ts';

/** Runs the network on a quantized input; returns every activation by tensor index. */
export function runTfliteInt(
  model: TfliteModel,
  input: QuantArray,
  requant: Requantization,
  ops: IntOp[] = intOps(model, requant),
): Map<number, QuantArray> {
  const values = new Map<number, QuantArray>([[model.inputs[0]!, input]]);
  const get = (i: number) => {
    const v = values.get(i);
    if (!v) throw new Error(`tensor ${i} (${model.tensors[i]!.name}) is used before it is computed`);
    return v;
  };
  for (const op of ops) {
    switch (op.kind) {
      case 'conv2d': {
        const { g } = op;
        const pointwise = g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1;
        const y = pointwise
          ? qpointwiseConv2dRef(
              { M: g.batch * g.inH * g.inW, K: g.inC, N: g.outC },
              op.operands,
              get(op.input),
              op.filter,
              op.bias,
              op.requant,
            )
          : qconv2dRef(g, op.operands, get(op.input), op.filter, op.bias, op.requant);
        values.set(op.output, y);
        break;
      }
      case 'depthwise':
        values.set(op.output, qdepthwiseConv2dRef(op.g, op.operands, get(op.input), op.filter, op.bias, op.requant));
        break;
      case 'reshape':
        values.set(op.output, get(op.input));
        break;
      case 'concat': {
        // Through the same 256-entry tables the GPU uses; qconcatRef (tested against them) is the
        // per-element form.
        const parts = op.inputs.map(get);
        const shape = model.tensors[op.output]!.shape;
        const outer = shape.slice(0, op.axis).reduce((a, b) => a * b, 1);
        const y = quantArray(
          dtypeOf(model.tensors[op.output]!),
          parts.reduce((n, p) => n + p.length, 0),
        );
        let o = 0;
        for (let k = 0; k < outer; k++)
          parts.forEach((p, i) => {
            const chunk = p.length / outer;
            for (let j = 0; j < chunk; j++) y[o++] = op.tables[i]![p[k * chunk + j]! & 0xff]!;
          });
        values.set(op.output, y);
        break;
      }
      case 'logistic': {
        const x = get(op.input);
        const y = quantArray(dtypeOf(model.tensors[op.output]!), x.length);
        for (let i = 0; i < x.length; i++) y[i] = op.table[x[i]! & 0xff]!;
        values.set(op.output, y);
        break;
      }
      case 'add':
        values.set(
          op.output,
          qaddRef(dtypeOf(model.tensors[op.output]!), get(op.inputs[0]), get(op.inputs[1]), op.requant),
        );
        break;
    }
  }
  return values;
}
