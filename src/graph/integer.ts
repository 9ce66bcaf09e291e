/**
 * Choosing and preparing integer execution (precision 'int8', docs/integer.md): whether a model can run
 * in integers, and the IntegerLowering its ops lower with, built from the model's recorded quantization.
 */
import type { Precision, Requantization } from '../core/quant.ts';
import { product } from '../core/shape.ts';
import { InvalidOptionError, UnsupportedOperatorError } from '../errors.ts';
import { qdequantizeDispatch, qdequantizePipeline } from '../kernels/qelementwise.ts';
import { dequantizeTable, logisticValue } from '../kernels/quant_tables.ts';
import type { IntegerLowering, Step } from '../ops/support/lowering.ts';
import { IntegerStep } from '../ops/support/quantized.ts';
import { opOf } from '../ops/support/registry.ts';
import type { ModelJson } from './ir.ts';

/** Why `json` cannot run in integers, or undefined when it can. */
export function integerBlocker(json: ModelJson): string | undefined {
  const q = json.quantization;
  if (!q) return 'it was not converted from a quantized model (no scales and zero points)';
  for (const n of json.nodes) {
    if (!opOf(n, json.name).integer) return `node ${n.name} (${n.op}) has no integer kernel`;
    for (const t of [...n.inputs, ...n.outputs])
      if (!q.tensors[t]) return `tensor ${t} of node ${n.name} has no quantization`;
  }
  if (!q.scores) return 'the quantization of its class scores after the LOGISTIC is not recorded';
  return undefined;
}

/**
 * The precision a load runs at, as far as the model decides it: 'auto' is 'int8' when the model can run it, else
 * 'f32' (which the detector may still run in f16: that depends on the adapter, api/detector.ts).
 */
export function resolvePrecision(json: ModelJson, precision: Precision): 'f32' | 'f16' | 'int8' {
  if (precision === 'f32' || precision === 'f16') return precision;
  const blocker = integerBlocker(json);
  if (precision === 'auto') return blocker ? 'f32' : 'int8';
  if (precision !== 'int8') throw new InvalidOptionError('precision', precision, "'auto', 'f32', 'f16' or 'int8'");
  if (blocker)
    throw new UnsupportedOperatorError(json.name, 'integer execution', blocker, "load it with precision: 'f32'");
  return 'int8';
}

/** The integer lowering of `json` (integerBlocker must be undefined). */
export function integerLowering(json: ModelJson, requant: Requantization, packedDot: boolean): IntegerLowering {
  const q = json.quantization;
  if (!q) throw new UnsupportedOperatorError(json.name, 'integer execution', 'no quantization recorded');
  return {
    requant,
    packedDot,
    tensor(t) {
      const v = q.tensors[t];
      if (!v) throw new UnsupportedOperatorError(json.name, 'integer execution', `tensor ${t} has no quantization`);
      return v;
    },
    constant(name) {
      const v = q.constants[name];
      if (!v)
        throw new UnsupportedOperatorError(json.name, 'integer execution', `constant ${name} has no quantization`);
      return v;
    },
  };
}

/** Names of the float32 tensors the integer graph's outputs are dequantized into, for the SSD head. */
export const dequantizedName = (t: string): string => `${t}:f32`;

/**
 * The steps after the integer network: box encodings dequantized, class logits through the model's
 * own LOGISTIC table then dequantized, both as TFLite's post-process op reads them (so the head scores
 * with probabilities: HeadSpec 'probability').
 */
export function dequantizeOutputSteps(json: ModelJson, integer: IntegerLowering, batch: number): Step[] {
  const scores = json.quantization?.scores;
  if (!scores) throw new UnsupportedOperatorError(json.name, 'integer execution', 'no scores quantization');
  const { boxes, scores: logits } = json.outputs;
  const bq = integer.tensor(boxes);
  const lq = integer.tensor(logits);
  const tables: [string, Float32Array][] = [
    [boxes, dequantizeTable(bq.dtype, bq)],
    [logits, dequantizeTable(scores.dtype, scores, (q) => logisticValue(q, lq.dtype, lq, scores, integer.requant))],
  ];
  return tables.map(([t, values]) => {
    const count = batch * product(json.shapes[t]!.slice(1));
    const out = dequantizedName(t);
    const table = {
      name: `${t}:int:${integer.requant}:dequantize`,
      lastDim: 0,
      words: () => new Uint32Array(values.buffer),
    };
    const view = { base: 0, batchStride: product(json.shapes[t]!.slice(1)), pixelStride: json.shapes[t]!.at(-1)! };
    return new IntegerStep(`${t}:dequantize`, 'qdequantize', 'table', out, view, [t], [table], {
      pipeline: (ctx) => qdequantizePipeline(ctx),
      dispatch: (ctx, pipe, io) =>
        qdequantizeDispatch(ctx, pipe, count, io.weight(table.name), io.tensor(t), io.tensor(out), `${t}:dequantize`),
    });
  });
}
