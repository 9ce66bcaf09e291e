/**
 * CPU reference of a training step over a subgraph, in float64: forward with every activation
 * kept, then backward with the kernel references (kernels/*_backward_ref.ts). Float64 so that
 * finite differences of the loss are precise enough to check the analytic gradient; the float32
 * forward references (graph/reference.ts) stay the ones the inference kernels are tested against.
 */
import type { ModelJson } from '../graph/ir.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { clampBackwardRef } from '../kernels/activation_backward_ref.ts';
import { convGeometry, type Clamp, type ConvGeometry } from '../core/geometry.ts';
import { conv2dBackwardRef, forEachTap } from '../kernels/conv2d_backward_ref.ts';
import { depthwiseBackwardRef } from '../kernels/depthwise_conv2d_backward_ref.ts';
import type { ConvNode } from './graph.ts';
import type { Subgraph } from './executor.ts';

export type Values = Map<string, Float64Array>;

const clamp = (v: number, a: Clamp) => Math.min(Math.max(v, a.min), a.max);

function geometry(json: ModelJson, n: ConvNode, batch: number): ConvGeometry {
  const x = json.shapes[n.inputs[0]!]!;
  const f = json.constants[n.filter]!.shape;
  const dw = n.op === 'depthwise_conv2d';
  return convGeometry({ batch, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC: dw ? x[3]! : f[3]!, kH: f[0]!, kW: f[1]!, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
}

function convForward(g: ConvGeometry, depthwise: boolean, x: Float64Array, w: ArrayLike<number>, bias: ArrayLike<number>, act: Clamp): Float64Array {
  const y = new Float64Array(g.batch * g.outH * g.outW * g.outC);
  for (let i = 0; i < y.length; i++) y[i] = bias[i % g.outC]!;
  forEachTap(g, (b, oy, ox, ky, kx, iy, ix) => {
    const xi = ((b * g.inH + iy) * g.inW + ix) * g.inC;
    const yi = ((b * g.outH + oy) * g.outW + ox) * g.outC;
    if (depthwise) {
      for (let c = 0; c < g.outC; c++) y[yi + c] += x[xi + c]! * w[(ky * g.kW + kx) * g.outC + c]!;
      return;
    }
    const wi = (ky * g.kW + kx) * g.inC * g.outC;
    for (let ci = 0; ci < g.inC; ci++) {
      const xv = x[xi + ci]!;
      for (let co = 0; co < g.outC; co++) y[yi + co] += xv * w[wi + ci * g.outC + co]!;
    }
  });
  return y.map((v) => clamp(v, act));
}

/** A parameter's value: from `params` when given there (trained or perturbed copies), else from the model. */
export type ParamSource = (name: string) => ArrayLike<number>;

export function modelParams(model: LoadedModel, overrides: ReadonlyMap<string, ArrayLike<number>> = new Map()): ParamSource {
  return (name) => overrides.get(name) ?? constData(model, name).data;
}

/** Every tensor the subgraph computes, from its inputs. */
export function forwardRef(model: LoadedModel, sub: Subgraph, inputs: ReadonlyMap<string, ArrayLike<number>>, batch: number, param: ParamSource = modelParams(model)): Values {
  const json = model.json;
  const values: Values = new Map([...inputs].map(([k, v]) => [k, Float64Array.from(v)]));
  const get = (t: string) => {
    const v = values.get(t);
    if (!v) throw new Error(`reference: tensor ${t} used before it is computed`);
    return v;
  };
  for (const n of sub.nodes) {
    const out = n.outputs[0]!;
    switch (n.op) {
      case 'conv2d':
      case 'depthwise_conv2d':
        values.set(out, convForward(geometry(json, n, batch), n.op === 'depthwise_conv2d', get(n.inputs[0]!), param(n.filter), param(n.bias), n.activation));
        break;
      case 'add': {
        const b = get(n.inputs[1]!);
        values.set(out, get(n.inputs[0]!).map((v, i) => clamp(v + b[i]!, n.activation)));
        break;
      }
      case 'reshape':
        values.set(out, get(n.inputs[0]!));
        break;
      case 'concat': {
        const { outer, inner, parts } = concatLayout(json, n.inputs, out, n.axis, batch);
        const y = new Float64Array(outer * parts.reduce((s, p) => s + p, 0) * inner);
        let off = 0;
        n.inputs.forEach((t, k) => {
          const v = get(t);
          const d = parts[k]! * inner;
          for (let o = 0; o < outer; o++) y.set(v.subarray(o * d, (o + 1) * d), o * (y.length / outer) + off);
          off += d;
        });
        values.set(out, y.map((v) => clamp(v, n.activation)));
        break;
      }
      default:
        throw new Error(`reference: ${n.op} is not supported in training`);
    }
  }
  return values;
}

function concatLayout(json: ModelJson, inputs: readonly string[], out: string, axis: number, batch: number) {
  const s = [batch, ...json.shapes[out]!.slice(1)];
  const ax = axis < 0 ? axis + s.length : axis;
  return {
    outer: s.slice(0, ax).reduce((a, b) => a * b, 1),
    inner: s.slice(ax + 1).reduce((a, b) => a * b, 1),
    parts: inputs.map((t) => json.shapes[t]![ax]!),
  };
}

/**
 * Gradients of every parameter of the subgraph's convolutions, given the forward values and the
 * gradients of its outputs. Returns filter and bias gradients by constant name (unpadded).
 */
export function backwardRef(model: LoadedModel, sub: Subgraph, values: Values, outputGrads: ReadonlyMap<string, ArrayLike<number>>, batch: number, param: ParamSource = modelParams(model)): Values {
  const json = model.json;
  const grads: Values = new Map();
  const addGrad = (t: string, g: ArrayLike<number>) => {
    if (sub.inputs.includes(t)) return;
    const cur = grads.get(t);
    if (!cur) grads.set(t, Float64Array.from(g));
    else for (let i = 0; i < g.length; i++) cur[i] += g[i]!;
  };
  for (const [t, g] of outputGrads) addGrad(t, g);
  const paramGrads: Values = new Map();
  const addParam = (name: string, g: Float64Array) => {
    const cur = paramGrads.get(name);
    if (!cur) paramGrads.set(name, g);
    else for (let i = 0; i < g.length; i++) cur[i] += g[i]!;
  };
  for (const n of [...sub.nodes].reverse()) {
    const out = n.outputs[0]!;
    const dy = grads.get(out) ?? new Float64Array(values.get(out)!.length);
    switch (n.op) {
      case 'reshape':
        addGrad(n.inputs[0]!, dy);
        break;
      case 'concat': {
        const { outer, inner, parts } = concatLayout(json, n.inputs, out, n.axis, batch);
        const dz = clampBackwardRef(values.get(out)!, dy, n.activation);
        let off = 0;
        n.inputs.forEach((t, k) => {
          const d = parts[k]! * inner;
          const g = new Float64Array(outer * d);
          for (let o = 0; o < outer; o++) g.set(dz.subarray(o * (dz.length / outer) + off, o * (dz.length / outer) + off + d), o * d);
          addGrad(t, g);
          off += d;
        });
        break;
      }
      case 'add': {
        const dz = clampBackwardRef(values.get(out)!, dy, n.activation);
        for (const t of n.inputs) addGrad(t, dz);
        break;
      }
      case 'conv2d':
      case 'depthwise_conv2d': {
        const g = geometry(json, n, batch);
        const dz = clampBackwardRef(values.get(out)!, dy, n.activation);
        const x = values.get(n.inputs[0]!)!;
        const r = n.op === 'depthwise_conv2d' ? depthwiseBackwardRef(g, x, param(n.filter), dz) : conv2dBackwardRef(g, x, param(n.filter), dz);
        addParam(n.filter, r.dw);
        addParam(n.bias, r.db);
        addGrad(n.inputs[0]!, r.dx);
        break;
      }
      default:
        throw new Error(`reference: ${n.op} is not supported in training`);
    }
  }
  return paramGrads;
}
