/**
 * CPU reference of a training step over a subgraph, in float64: forward with every activation
 * kept, then backward with the kernel references (kernels/*_backward_ref.ts). Float64 so that
 * finite differences of the loss are precise enough to check the analytic gradient; the float32
 * forward references (graph/reference.ts) stay the ones the inference kernels are tested against.
 */
import { constData, type LoadedModel } from '../graph/weights.ts';
import type { Reference64Context } from '../ops/support/training.ts';
import { opOf } from '../ops/support/registry.ts';
import type { Subgraph } from './executor.ts';

export type Values = Map<string, Float64Array>;

/** A parameter's value: from `params` when given there (trained or perturbed copies), else from the model. */
export type ParamSource = (name: string) => ArrayLike<number>;

export function modelParams(
  model: LoadedModel,
  overrides: ReadonlyMap<string, ArrayLike<number>> = new Map(),
): ParamSource {
  return (name) => overrides.get(name) ?? constData(model, name).data;
}

function context(model: LoadedModel, batch: number, param: ParamSource): Reference64Context {
  const json = model.json;
  return {
    batch,
    shape: (t) => [batch, ...json.shapes[t]!.slice(1)],
    constShape: (name) => json.constants[name]?.shape,
    param,
  };
}

function trainHooks(n: Subgraph['nodes'][number]) {
  const train = opOf(n).train;
  if (!train) throw new Error(`reference: ${n.op} is not supported in training`);
  return train;
}

/** Every tensor the subgraph computes, from its inputs. */
export function forwardRef(
  model: LoadedModel,
  sub: Subgraph,
  inputs: ReadonlyMap<string, ArrayLike<number>>,
  batch: number,
  param: ParamSource = modelParams(model),
): Values {
  const values: Values = new Map([...inputs].map(([k, v]) => [k, Float64Array.from(v)]));
  const get = (t: string) => {
    const v = values.get(t);
    if (!v) throw new Error(`reference: tensor ${t} used before it is computed`);
    return v;
  };
  const cx = context(model, batch, param);
  for (const n of sub.nodes) values.set(n.outputs[0]!, trainHooks(n).forward64(n, n.inputs.map(get), cx));
  return values;
}

/**
 * Gradients of every parameter of the subgraph's nodes, given the forward values and the gradients
 * of its outputs. Returns filter and bias gradients by constant name (unpadded).
 */
export function backwardRef(
  model: LoadedModel,
  sub: Subgraph,
  values: Values,
  outputGrads: ReadonlyMap<string, ArrayLike<number>>,
  batch: number,
  param: ParamSource = modelParams(model),
): Values {
  const grads: Values = new Map();
  const addGrad = (t: string, g: ArrayLike<number>) => {
    if (sub.inputs.includes(t)) return;
    const cur = grads.get(t);
    if (!cur) grads.set(t, Float64Array.from(g));
    else for (let i = 0; i < g.length; i++) cur[i]! += g[i]!;
  };
  for (const [t, g] of outputGrads) addGrad(t, g);
  const paramGrads: Values = new Map();
  const addParam = (name: string, g: Float64Array) => {
    const cur = paramGrads.get(name);
    if (!cur) paramGrads.set(name, g);
    else for (let i = 0; i < g.length; i++) cur[i]! += g[i]!;
  };
  const cx = context(model, batch, param);
  for (const n of [...sub.nodes].reverse()) {
    const out = n.outputs[0]!;
    const y = values.get(out)!;
    const dy = grads.get(out) ?? new Float64Array(y.length);
    const r = trainHooks(n).backward64(
      n,
      n.inputs.map((t) => values.get(t)!),
      y,
      dy,
      cx,
    );
    r.inputs.forEach((g, k) => g && addGrad(n.inputs[k]!, g));
    for (const [name, g] of r.params) addParam(name, g);
  }
  return paramGrads;
}
