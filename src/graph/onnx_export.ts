/**
 * Our model graph (model.json + float32 weights) as an ONNX graph, opset 13, so ONNX Runtime can run
 * exactly the network our engine runs. The whole network up to its raw SSD outputs (box encodings
 * and class logits) is converted; anchors decoding and NMS are not part of the graph.
 *
 * Layout: the graph input keeps our NHWC input `[batch, H, W, 3]` and a Transpose turns it into NCHW,
 * the layout ONNX convolutions take. Every rank-4 activation then lives as NCHW (value name
 * `<tensor>:nchw`); reshapes and graph outputs go back through NHWC so element order matches ours.
 * The batch dimension is symbolic (`batch`), so one file serves every batch size.
 *
 * Each op writes its own ONNX nodes (OpDef.onnx); a fused clamp that is not the identity becomes a
 * Clip, and TensorFlow SAME padding explicit pads (the extra pixel bottom/right).
 */
import { ACTIVATIONS, type Clamp } from '../core/geometry.ts';
import { encodeOnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from '../onnx/proto.ts';
import type { OnnxBuilder } from '../ops/support/interchange.ts';
import { opOf } from '../ops/support/registry.ts';
import type { ModelJson } from './ir.ts';
import { constData, type LoadedModel } from './weights.ts';

const ONNX_OPSET = 13;
const IR_VERSION_FOR_OPSET_13 = 7;
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Where NHWC axis i went in NCHW. */
const NHWC_AXIS_IN_NCHW = [0, 2, 3, 1];

const isIdentity = (a: Clamp) => a.min <= ACTIVATIONS.none.min && a.max >= ACTIVATIONS.none.max;

class GraphBuilder implements OnnxBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly emitted = new Set<string>();
  private readonly json: ModelJson;

  constructor(private readonly model: LoadedModel) {
    this.json = model.json;
  }

  shape(tensor: string): number[] {
    const s = this.json.shapes[tensor];
    if (!s) throw new Error(`model ${this.json.name}: no shape recorded for tensor ${tensor}`);
    return s;
  }

  /** The ONNX value holding an IR tensor: rank-4 activations are kept NCHW. */
  value(tensor: string): string {
    return this.shape(tensor).length === 4 ? `${tensor}:nchw` : tensor;
  }

  nhwc(tensor: string): string {
    if (this.shape(tensor).length !== 4) return tensor;
    const name = `${tensor}:nhwc`;
    if (!this.emitted.has(name)) {
      this.emitted.add(name);
      this.node({
        name: `${tensor}/to_nhwc`,
        opType: 'Transpose',
        inputs: [this.value(tensor)],
        outputs: [name],
        attributes: [{ name: 'perm', ints: TO_NHWC }],
      });
    }
    return name;
  }

  data(name: string): Float32Array {
    return constData(this.model, name).data;
  }

  constShape(name: string): number[] {
    return constData(this.model, name).info.shape;
  }

  axis(axis: number, rank: number): number {
    return rank === 4 ? NHWC_AXIS_IN_NCHW[axis]! : axis;
  }

  constant(name: string, dims: number[], data: () => Float32Array | BigInt64Array): string {
    if (!this.emitted.has(name)) {
      this.emitted.add(name);
      this.initializers.push({ name, dims, data: data() });
    }
    return name;
  }

  node(n: OnnxNode): void {
    this.nodes.push(n);
  }

  withClamp(name: string, out: string, activation: Clamp, op: (target: string) => void): void {
    if (isIdentity(activation)) return op(out);
    const pre = `${out}:preclip`;
    op(pre);
    const bound = (v: number, side: 'min' | 'max') =>
      Math.abs(v) >= ACTIVATIONS.none.max ? '' : this.constant(`clip/${side}/${v}`, [], () => Float32Array.of(v));
    this.node({
      name: `${name}/clip`,
      opType: 'Clip',
      inputs: [pre, bound(activation.min, 'min'), bound(activation.max, 'max')],
      outputs: [out],
    });
  }
}

export function modelToOnnxGraph(model: LoadedModel): OnnxGraph {
  const json = model.json;
  const b = new GraphBuilder(model);
  b.node({
    name: 'input/to_nchw',
    opType: 'Transpose',
    inputs: [json.input],
    outputs: [b.value(json.input)],
    attributes: [{ name: 'perm', ints: TO_NCHW }],
  });
  for (const n of json.nodes) opOf(n, json.name).onnx(n, b);
  const outputs = [json.outputs.boxes, json.outputs.scores];
  for (const o of outputs)
    if (b.shape(o).length === 4)
      b.node({
        name: `${o}/to_nhwc`,
        opType: 'Transpose',
        inputs: [b.value(o)],
        outputs: [o],
        attributes: [{ name: 'perm', ints: TO_NHWC }],
      });
  const withBatch = (t: string) => ['batch', ...json.shapes[t]!.slice(1)];
  return {
    name: json.name,
    docString: `${json.description}; converted from mobilessd's model.json (${json.source.file}). Input NHWC, transposed to NCHW inside; outputs are the raw SSD tensors.`,
    nodes: b.nodes,
    initializers: b.initializers,
    inputs: [{ name: json.input, shape: withBatch(json.input) }],
    outputs: outputs.map((o) => ({ name: o, shape: withBatch(o) })),
  };
}

export function modelToOnnx(model: LoadedModel): Uint8Array {
  return encodeOnnxModel(modelToOnnxGraph(model), {
    irVersion: IR_VERSION_FOR_OPSET_13,
    opset: ONNX_OPSET,
    producerName: 'mobilessd scripts/onnx',
    producerVersion: '1',
    docString: `mobilessd model ${model.json.name} as ONNX`,
  });
}
