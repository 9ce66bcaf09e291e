/**
 * CPU reference executor: runs a model graph node by node with each op's plain-loop reference.
 * Slow and obvious on purpose; tests compare the GPU executor against it.
 */
import type { ReferenceContext } from '../ops/support/op_def.ts';
import { opOf } from '../ops/support/registry.ts';
import type { ModelJson } from './ir.ts';
import { constData, type LoadedModel } from './weights.ts';

/** Runs the graph on `input` ([batch, H, W, 3] NHWC) and returns every tensor it computed. */
export function runReference(model: LoadedModel, input: Float32Array, batch = 1): Map<string, Float32Array> {
  const json: ModelJson = model.json;
  const values = new Map<string, Float32Array>([[json.input, input]]);
  const get = (t: string) => {
    const v = values.get(t);
    if (!v) throw new Error(`reference: tensor ${t} used before it is computed`);
    return v;
  };
  const cx: ReferenceContext = {
    batch,
    shape: (t) => [batch, ...json.shapes[t]!.slice(1)],
    constShape: (name) => json.constants[name]?.shape,
    constant: (name) => constData(model, name).data,
  };
  for (const n of json.nodes) values.set(n.outputs[0]!, opOf(n, json.name).reference(n, n.inputs.map(get), cx));
  return values;
}
