/**
 * CPU reference executor: runs a model graph node by node with the plain-loop kernel references.
 * Slow and obvious on purpose; tests compare the GPU executor against it.
 */
import { UnsupportedOperatorError } from '../errors.ts';
import { convGeometry } from '../core/geometry.ts';
import { conv2dRef } from '../kernels/conv2d_ref.ts';
import { depthwiseConv2dRef } from '../kernels/depthwise_conv2d_ref.ts';
import { addRef, logisticRef } from '../kernels/elementwise.ts';
import type { ModelJson } from './ir.ts';
import { constData, type LoadedModel } from './weights.ts';

/** Runs the graph on `input` ([batch, H, W, 3] NHWC) and returns every tensor it computed. */
export function runReference(model: LoadedModel, input: Float32Array, batch = 1): Map<string, Float32Array> {
  const json: ModelJson = model.json;
  const values = new Map<string, Float32Array>([[json.input, input]]);
  const shape = (t: string) => [batch, ...json.shapes[t]!.slice(1)];
  const get = (t: string) => {
    const v = values.get(t);
    if (!v) throw new Error(`reference: tensor ${t} used before it is computed`);
    return v;
  };
  for (const n of json.nodes) {
    switch (n.op) {
      case 'conv2d':
      case 'depthwise_conv2d': {
        const x = shape(n.inputs[0]!);
        const f = constData(model, n.filter);
        const b = constData(model, n.bias).data;
        const dw = n.op === 'depthwise_conv2d';
        const g = convGeometry({ batch, inH: x[1]!, inW: x[2]!, inC: x[3]!, outC: dw ? x[3]! : f.info.shape[3]!, kH: f.info.shape[0]!, kW: f.info.shape[1]!, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
        values.set(n.outputs[0]!, dw ? depthwiseConv2dRef(g, get(n.inputs[0]!), f.data, b, n.activation) : conv2dRef(g, get(n.inputs[0]!), f.data, b, n.activation));
        break;
      }
      case 'add':
        values.set(n.outputs[0]!, addRef(get(n.inputs[0]!), get(n.inputs[1]!), n.activation));
        break;
      case 'logistic':
        values.set(n.outputs[0]!, logisticRef(get(n.inputs[0]!)));
        break;
      case 'reshape':
        values.set(n.outputs[0]!, get(n.inputs[0]!));
        break;
      case 'concat': {
        const out = shape(n.outputs[0]!);
        const axis = n.axis < 0 ? n.axis + out.length : n.axis;
        const inner = out.slice(axis + 1).reduce((a, b) => a * b, 1);
        const outer = out.slice(0, axis).reduce((a, b) => a * b, 1);
        const y = new Float32Array(out.reduce((a, b) => a * b, 1));
        let off = 0;
        for (const t of n.inputs) {
          const d = shape(t)[axis]!;
          const v = get(t);
          for (let o = 0; o < outer; o++) y.set(v.subarray(o * d * inner, (o + 1) * d * inner), (o * out[axis]! + off) * inner);
          off += d;
        }
        values.set(n.outputs[0]!, y.map((v) => Math.min(Math.max(v, n.activation.min), n.activation.max)));
        break;
      }
      default:
        throw new UnsupportedOperatorError(json.name, (n as { op: string }).op);
    }
  }
  return values;
}
