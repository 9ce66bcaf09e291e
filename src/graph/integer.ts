/**
 * Choosing and preparing integer execution (precision 'int8', docs/integer.md): whether a model can run
 * in integers, and the IntegerLowering its ops lower with, built from the model's recorded quantization.
 */
import type { Precision, Requantization } from '../core/quant.ts';
import { InvalidOptionError, UnsupportedOperatorError } from '../errors.ts';
import type { IntegerLowering } from '../ops/support/lowering.ts';
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

/** The precision a load runs at: 'auto' is 'int8' when the model can run it. */
export function resolvePrecision(json: ModelJson, precision: Precision): 'f32' | 'int8' {
  if (precision === 'f32') return 'f32';
  const blocker = integerBlocker(json);
  if (precision === 'auto') return blocker ? 'f32' : 'int8';
  if (precision !== 'int8') throw new InvalidOptionError('precision', precision, "'auto', 'f32' or 'int8'");
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
