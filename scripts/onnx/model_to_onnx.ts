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
 * Ops: conv2d -> Conv (filters HWIO -> OIHW), depthwise_conv2d -> Conv with group = C (filters
 * [KH,KW,C] -> [C,1,KH,KW]), add -> Add, reshape -> Reshape (batch kept with dim 0 = "copy"),
 * concat -> Concat, logistic -> Sigmoid; a fused clamp that is not the identity -> Clip.
 * TensorFlow SAME padding becomes explicit pads from convGeometry (the extra pixel bottom/right).
 */
import type { ClampRange, GraphNode, ModelJson } from '../../src/graph/ir.ts';
import { constData, type LoadedModel } from '../../src/graph/weights.ts';
import { ACTIVATIONS, convGeometry } from '../../src/core/geometry.ts';
import { encodeOnnxModel, type OnnxGraph, type OnnxNode, type OnnxTensor } from './onnx_proto.ts';

const ONNX_OPSET = 13;
const IR_VERSION_FOR_OPSET_13 = 7;
const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** Where NHWC axis i went in NCHW. */
const NHWC_AXIS_IN_NCHW = [0, 2, 3, 1];

/** HWIO [KH,KW,I,O] -> OIHW [O,I,KH,KW]. */
function hwioToOihw(f: Float32Array, kh: number, kw: number, ci: number, co: number): Float32Array {
  const out = new Float32Array(f.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = f[((y * kw + x) * ci + i) * co + o]!;
  return out;
}

/** Depthwise [KH,KW,C] -> [C,1,KH,KW]. */
function hwcToC1hw(f: Float32Array, kh: number, kw: number, c: number): Float32Array {
  const out = new Float32Array(f.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let ch = 0; ch < c; ch++) out[(ch * kh + y) * kw + x] = f[(y * kw + x) * c + ch]!;
  return out;
}

const isIdentity = (a: ClampRange) => a.min <= ACTIVATIONS.none.min && a.max >= ACTIVATIONS.none.max;

class GraphBuilder {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private readonly emitted = new Set<string>();

  constructor(private readonly json: ModelJson) {}

  rank(tensor: string): number {
    const s = this.json.shapes[tensor];
    if (!s) throw new Error(`model ${this.json.name}: no shape recorded for tensor ${tensor}`);
    return s.length;
  }

  /** The ONNX value holding an IR tensor: rank-4 activations are kept NCHW. */
  value(tensor: string): string {
    return this.rank(tensor) === 4 ? `${tensor}:nchw` : tensor;
  }

  /** Adds an initializer once; later calls with the same name reuse it. */
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

  /** Writes `op` into `out`, through a Clip when the fused clamp is not the identity. */
  withClamp(name: string, out: string, activation: ClampRange, op: (target: string) => void): void {
    if (isIdentity(activation)) return op(out);
    const pre = `${out}:preclip`;
    op(pre);
    const bound = (v: number, side: 'min' | 'max') => (Math.abs(v) >= ACTIVATIONS.none.max ? '' : this.constant(`clip/${side}/${v}`, [], () => Float32Array.of(v)));
    this.node({ name: `${name}/clip`, opType: 'Clip', inputs: [pre, bound(activation.min, 'min'), bound(activation.max, 'max')], outputs: [out] });
  }
}

function convert(b: GraphBuilder, model: LoadedModel, n: GraphNode): void {
  const json = model.json;
  const out = n.outputs[0]!;
  switch (n.op) {
    case 'conv2d':
    case 'depthwise_conv2d': {
      const [, inH, inW, inC] = json.shapes[n.inputs[0]!]!;
      const f = constData(model, n.filter);
      const [kH, kW] = f.info.shape as [number, number];
      const dw = n.op === 'depthwise_conv2d';
      const outC = dw ? inC! : f.info.shape[3]!;
      const g = convGeometry({ batch: 1, inH: inH!, inW: inW!, inC: inC!, outC, kH, kW, strideH: n.strides[0], strideW: n.strides[1], padding: n.padding });
      const weights = dw
        ? b.constant(`${n.filter}:c1hw`, [inC!, 1, kH, kW], () => hwcToC1hw(f.data, kH, kW, inC!))
        : b.constant(`${n.filter}:oihw`, [outC, inC!, kH, kW], () => hwioToOihw(f.data, kH, kW, inC!, outC));
      const bias = b.constant(n.bias, [outC], () => constData(model, n.bias).data);
      b.withClamp(n.name, b.value(out), n.activation, (target) =>
        b.node({
          name: n.name,
          opType: 'Conv',
          inputs: [b.value(n.inputs[0]!), weights, bias],
          outputs: [target],
          attributes: [
            { name: 'kernel_shape', ints: [kH, kW] },
            { name: 'strides', ints: [n.strides[0], n.strides[1]] },
            { name: 'pads', ints: [g.padTop, g.padLeft, g.padBottom, g.padRight] },
            { name: 'dilations', ints: [1, 1] },
            { name: 'group', int: dw ? inC! : 1 },
          ],
        }),
      );
      return;
    }
    case 'add':
      b.withClamp(n.name, b.value(out), n.activation, (target) => b.node({ name: n.name, opType: 'Add', inputs: n.inputs.map((t) => b.value(t)), outputs: [target] }));
      return;
    case 'logistic':
      b.node({ name: n.name, opType: 'Sigmoid', inputs: [b.value(n.inputs[0]!)], outputs: [b.value(out)] });
      return;
    case 'concat': {
      const rank = b.rank(out);
      const axis = n.axis < 0 ? n.axis + rank : n.axis;
      b.withClamp(n.name, b.value(out), n.activation, (target) =>
        b.node({ name: n.name, opType: 'Concat', inputs: n.inputs.map((t) => b.value(t)), outputs: [target], attributes: [{ name: 'axis', int: rank === 4 ? NHWC_AXIS_IN_NCHW[axis]! : axis }] }),
      );
      return;
    }
    case 'reshape': {
      // Reshape works on element order, so it must see NHWC order like ours.
      const src = n.inputs[0]!;
      let from = b.value(src);
      if (b.rank(src) === 4) {
        b.node({ name: `${n.name}/to_nhwc`, opType: 'Transpose', inputs: [from], outputs: [`${src}:nhwc`], attributes: [{ name: 'perm', ints: TO_NHWC }] });
        from = `${src}:nhwc`;
      }
      if (n.shape[0] !== 1) throw new Error(`reshape ${n.name}: shape ${JSON.stringify(n.shape)} does not keep the batch dimension first`);
      const target = [0, ...n.shape.slice(1)]; // 0 = copy the batch size from the input
      const shape = b.constant(`${n.name}/shape`, [target.length], () => BigInt64Array.from(target, BigInt));
      const rank4 = n.shape.length === 4;
      b.node({ name: n.name, opType: 'Reshape', inputs: [from, shape], outputs: [rank4 ? `${out}:nhwc` : out] });
      if (rank4) b.node({ name: `${n.name}/to_nchw`, opType: 'Transpose', inputs: [`${out}:nhwc`], outputs: [b.value(out)], attributes: [{ name: 'perm', ints: TO_NCHW }] });
      return;
    }
    default:
      throw new Error(`model ${json.name}: op ${(n as { op: string }).op} has no ONNX conversion`);
  }
}

export function modelToOnnxGraph(model: LoadedModel): OnnxGraph {
  const json = model.json;
  const b = new GraphBuilder(json);
  b.node({ name: 'input/to_nchw', opType: 'Transpose', inputs: [json.input], outputs: [b.value(json.input)], attributes: [{ name: 'perm', ints: TO_NCHW }] });
  for (const n of json.nodes) convert(b, model, n);
  const outputs = [json.outputs.boxes, json.outputs.scores];
  for (const o of outputs)
    if (b.rank(o) === 4) b.node({ name: `${o}/to_nhwc`, opType: 'Transpose', inputs: [b.value(o)], outputs: [o], attributes: [{ name: 'perm', ints: TO_NHWC }] });
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
