/**
 * TFLite MobileNet-SSD -> mobilessd model. Weights of any stored kind (float32, float16 behind
 * DEQUANTIZE, uint8/int8 asymmetric per-tensor or per-channel, int32 biases) become float32
 * constants; each op's mapping (OpDef.tflite) moves filters to our layouts. Quantized
 * graphs run in float here, so each op's output is clamped to the range its uint8 tensor could
 * represent: that is how such graphs express ReLU6, and without it the outputs are garbage.
 *
 * The SSD tail is replaced by our head: a TFLite_Detection_PostProcess op (and the LOGISTIC that
 * feeds it) is dropped and its options, anchors and inputs become `ssd` and `outputs`. Models
 * without that op (MediaPipe's) get their raw outputs by name or shape and generated anchors.
 */
import { ACTIVATIONS, type Clamp } from '../core/geometry.ts';
import type { PreprocessSpec } from '../core/model_spec.ts';
import { integerValues, type ConstQuant, type ModelQuantization, type TensorQuant } from '../core/quant.ts';
import { sameShape } from '../core/shape.ts';
import { ModelFormatError, SsdOptionsError, TfliteFormatError, UnsupportedOperatorError } from '../errors.ts';
import type { ModelJson, SsdSpec } from '../graph/ir.ts';
import { MAX_INPUT_SIDE, sha256Hex } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';
import type { TfliteActivation, TfliteContext, TfliteOp } from '../ops/support/interchange.ts';
import { ShapeError, type GraphNode } from '../ops/support/node.ts';
import { tfliteBuiltins, tfliteOp } from '../ops/support/registry.ts';
import { gridAnchors, MEDIAPIPE_SSD_300 } from '../ssd/anchors.ts';
import { FLOAT_ANCHOR_TOLERANCE, matchingGridGenerator } from './anchor_generator.ts';
import { ModelBuilder } from './builder.ts';
import { readFlexMap } from './flexbuffer.ts';
import {
  BUILTIN,
  elementCount,
  parseTflite,
  readOptions,
  tensorData,
  type TfliteModel,
  type TfliteOperator,
  type TfliteTensor,
} from './tflite.ts';
import { decodeConstant, quantizedRange } from './tflite_weights.ts';
import type { MediaPipeSsd } from './mediapipe_ssd.ts';

export interface TfliteConvertOptions {
  /** Names the model in errors and in `source.file`. */
  file: string;
  name: string;
  description?: string;
  /** One per score column; a label map without the background line gets "???" prepended. */
  labels?: string[];
  /** Names the label file in errors. */
  labelsFile?: string;
  /** Pixel normalization for float-input models (quantized inputs carry their own). Default [-1, 1]. */
  normalization?: { mean: number; std: number };
  /** Recorded as `source.sha256` (the registry's cache key); default: the SHA-256 of `bytes`. */
  sourceSha256?: string;
  /**
   * MediaPipe's options for a raw SSD (no post-process op; convert/mediapipe_ssd.ts): preprocessing, anchors,
   * decoding and NMS as MediaPipe's graph runs the model. `where` names them in errors.
   */
  mediapipe?: { options: MediaPipeSsd; where: string };
}

export const POST_PROCESS_OP = 'TFLite_Detection_PostProcess';

/** TFLite_Detection_PostProcess custom options, as its kernel reads them. */
export interface PostProcessOptions {
  yScale: number;
  xScale: number;
  hScale: number;
  wScale: number;
  nmsIouThreshold: number;
  nmsScoreThreshold: number;
  maxDetections: number;
  detectionsPerClass: number;
  useRegularNms: boolean;
  numClasses: number;
}

/** MediaPipe's TensorsToDetections + NonMaxSuppression settings for its SSD graphs. */
const MEDIAPIPE_DEFAULTS: SsdSpec['defaults'] = {
  scoreThreshold: 0.5,
  iouThreshold: 0.5,
  maxDetections: 100,
  perClassNms: false,
};
const SIDECAR_HINT = '<model>.ssd.json beside it or the ssdOptions load option (docs/ssd_options.md)';
const RAW_OUTPUT_NAMES = { boxes: 'raw_outputs/box_encodings', scores: 'raw_outputs/class_predictions' };

export async function convertTflite(bytes: Uint8Array, opts: TfliteConvertOptions): Promise<LoadedModel> {
  const model = parseTflite(bytes, opts.file);
  const c = new Converter(model, opts);
  const { preprocess, outputs, ssd, labels, quantization } = c.convert();
  return c.b.finish({
    name: opts.name,
    description: opts.description ?? `${opts.file} (converted from TFLite)`,
    source: { file: opts.file, sha256: opts.sourceSha256 ?? (await sha256Hex(bytes)) },
    preprocess,
    input: c.name(model.inputs[0]!),
    outputs,
    labels,
    ssd,
    ...(quantization ? { quantization } : {}),
  });
}

/** One operator type of a TFLite file: where it occurs and whether mobilessd converts it. */
export interface TfliteOperatorUse {
  name: string;
  /** Operator indices, in graph order. */
  indices: number[];
  supported: boolean;
}

/** The operator types of a TFLite file, in order of first use, each marked supported or not. */
export function tfliteOperatorInventory(bytes: Uint8Array, file: string): TfliteOperatorUse[] {
  const byName = new Map<string, TfliteOperatorUse>();
  for (const op of parseTflite(bytes, file).operators) {
    const name = op.code.name;
    let use = byName.get(name);
    if (!use) {
      const supported =
        op.code.custom === undefined ? name === 'DEQUANTIZE' || tfliteOp(name) !== undefined : name === POST_PROCESS_OP;
      byName.set(name, (use = { name, indices: [], supported }));
    }
    use.indices.push(op.index);
  }
  return [...byName.values()];
}

/** The operators mobilessd converts, for messages. */
export const supportedTfliteOperators = (): string[] => [...new Set([...tfliteBuiltins(), 'DEQUANTIZE'])].sort();

export function readPostProcessOptions(model: TfliteModel, op: TfliteOperator): PostProcessOptions {
  const what = `operator ${op.index} (${POST_PROCESS_OP}) options`;
  if (!op.customOptions) throw new TfliteFormatError(model.file, `${what} are missing`);
  const o = readFlexMap(op.customOptions, model.file, what);
  const num = (key: string, def?: number): number => {
    const v = o[key] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new TfliteFormatError(
        model.file,
        `${what}: ${key} is ${JSON.stringify(v) ?? 'missing'}, expected a number`,
      );
    return v;
  };
  const r: PostProcessOptions = {
    yScale: num('y_scale'),
    xScale: num('x_scale'),
    hScale: num('h_scale'),
    wScale: num('w_scale'),
    nmsIouThreshold: num('nms_iou_threshold'),
    nmsScoreThreshold: num('nms_score_threshold'),
    maxDetections: num('max_detections'),
    detectionsPerClass: num('detections_per_class', 100),
    useRegularNms: o.use_regular_nms === true || o.use_regular_nms === 1,
    numClasses: num('num_classes'),
  };
  if (!(r.yScale > 0 && r.xScale > 0 && r.hScale > 0 && r.wScale > 0))
    throw new TfliteFormatError(model.file, `${what}: box coder scales must be positive`);
  if (!(
    Number.isInteger(r.maxDetections) &&
    r.maxDetections >= 1 &&
    Number.isInteger(r.numClasses) &&
    r.numClasses >= 1
  )) {
    throw new TfliteFormatError(
      model.file,
      `${what}: max_detections ${r.maxDetections} and num_classes ${r.numClasses} must be positive integers`,
    );
  }
  return r;
}

interface Converted {
  preprocess: PreprocessSpec;
  outputs: ModelJson['outputs'];
  ssd: SsdSpec;
  labels: string[];
  quantization?: ModelQuantization;
}

class Converter {
  readonly b = new ModelBuilder();
  private readonly irNames: string[];
  /** Constants computed at conversion time (DEQUANTIZE of stored weights). */
  private readonly folded = new Map<number, Float32Array>();
  /** Activation tensors computed so far. */
  private readonly computed = new Set<number>();
  private readonly constantNames = new Map<string, string>();
  private readonly file: string;
  /** Scales and zero points kept for integer execution (precision 'int8'). */
  private readonly quant: ModelQuantization = { tensors: {}, constants: {} };
  /** The fused activation of the operator writing each tensor, by tensor index. */
  private readonly fused = new Map<number, TfliteActivation>();

  constructor(
    private readonly m: TfliteModel,
    private readonly opts: TfliteConvertOptions,
  ) {
    this.file = m.file;
    const used = new Set<string>();
    // Where each base's suffix search resumes: a file of many same-named tensors must not cost n^2.
    const nextSuffix = new Map<string, number>();
    // MLIR joins fused tensor names with ';': the first part is the readable one.
    this.irNames = m.tensors.map((t) => {
      const base = t.name.split(';')[0] || `tensor_${t.index}`;
      let n = base;
      let k = nextSuffix.get(base) ?? 2;
      while (used.has(n)) n = `${base}#${k++}`;
      nextSuffix.set(base, k);
      used.add(n);
      return n;
    });
  }

  name(i: number): string {
    return this.irNames[i]!;
  }

  convert(): Converted {
    const input = this.graphInput();
    const posts = this.m.operators.filter((op) => op.code.custom === POST_PROCESS_OP);
    if (posts.length > 1) throw new UnsupportedOperatorError(this.file, POST_PROCESS_OP, `${posts.length} of them`);
    const post = posts[0];
    const dropped = new Set<TfliteOperator>(post ? [post] : []);
    let scoresTensor = -1;
    if (post) {
      if (post.inputs.length < 3 || post.inputs.some((i) => i < 0))
        throw new TfliteFormatError(
          this.file,
          `${POST_PROCESS_OP} has ${post.inputs.length} inputs, expected boxes, scores, anchors`,
        );
      for (const op of this.m.operators) {
        if (op !== post && op.inputs.some((i) => post.outputs.includes(i)))
          throw new UnsupportedOperatorError(this.file, op.code.name, `it consumes the output of ${POST_PROCESS_OP}`);
      }
      const logistic = this.producer(post.inputs[1]!);
      if (!logistic || logistic.code.builtin !== BUILTIN.LOGISTIC || this.consumers(post.inputs[1]!).length !== 1) {
        throw new UnsupportedOperatorError(
          this.file,
          POST_PROCESS_OP,
          'its class scores are not the output of a LOGISTIC used only by it',
        );
      }
      dropped.add(logistic);
      scoresTensor = logistic.inputs[0]!;
    }
    for (const op of this.m.operators) if (!dropped.has(op)) this.operator(op);

    const mp = this.opts.mediapipe;
    if (post && mp)
      throw new SsdOptionsError(mp.where, `${this.file} has its own ${POST_PROCESS_OP} op; give no SSD options for it`);
    const { outputs, ssd, columns } = post
      ? this.postProcessHead(post, scoresTensor)
      : mp
        ? this.mediapipeHead(mp.options, mp.where, input.shape)
        : this.rawOutputsHead(input.shape);
    if (post) {
      const scores = this.tensorQuant(post.inputs[1]!);
      if (scores) this.quant.scores = scores;
    }
    for (const t of this.computed) {
      const q = this.tensorQuant(t);
      if (q) this.quant.tensors[this.name(t)] = q;
    }
    return {
      preprocess: mp ? mp.options.preprocess : this.preprocess(input),
      outputs,
      ssd,
      labels: mp?.options.labels ?? this.labels(columns, ssd.backgroundClass),
      ...(Object.keys(this.quant.tensors).length > 0 ? { quantization: this.quant } : {}),
    };
  }

  /** An 8-bit per-tensor quantized activation's parameters, with the fused activation that wrote it. */
  private tensorQuant(i: number): TensorQuant | undefined {
    const t = this.m.tensors[i]!;
    const q = t.quantization;
    if ((t.type !== 'UINT8' && t.type !== 'INT8') || !q || q.scale.length !== 1) return undefined;
    const a = this.fused.get(i);
    const activation = a === 'RELU' || a === 'RELU6' || a === 'RELU_N1_TO_1' ? { activation: a } : {};
    return {
      dtype: t.type === 'UINT8' ? 'uint8' : 'int8',
      scale: q.scale[0]!,
      zeroPoint: q.zeroPoint[0]!,
      ...activation,
    };
  }

  /**
   * An integer weight's scales and zero points for the constant it became, when its integers can be
   * recovered exactly from that constant (per-channel scales must have landed on the last axis).
   */
  private constQuant(t: TfliteTensor, value: Float32Array): ConstQuant | undefined {
    const q = t.quantization;
    if ((t.type !== 'UINT8' && t.type !== 'INT8' && t.type !== 'INT32') || !q || q.scale.length === 0) return undefined;
    const c: ConstQuant = {
      dtype: t.type === 'UINT8' ? 'uint8' : t.type === 'INT8' ? 'int8' : 'int32',
      scale: [...q.scale],
      zeroPoint: q.scale.map((_, k) => q.zeroPoint[k] ?? q.zeroPoint[0] ?? 0),
    };
    return typeof integerValues(value, c) === 'string' ? undefined : c;
  }

  private graphInput(): TfliteTensor {
    if (this.m.inputs.length !== 1)
      throw new ModelFormatError(
        this.file,
        `the graph has ${this.m.inputs.length} inputs; mobilessd runs detectors with one image input`,
        'convert a single-input SSD detector',
      );
    const t = this.m.tensors[this.m.inputs[0]!]!;
    const s = t.shape;
    if (s.length !== 4 || s[0] !== 1 || s[3] !== 3 || s[1]! < 1 || s[2]! < 1)
      throw new ModelFormatError(
        this.file,
        `input ${t.name} has shape [${s}], expected [1, height, width, 3]`,
        'convert a single-input SSD detector with an RGB input',
      );
    // Anchor tables and every activation scale with the input: a bound keeps a tiny file from declaring gigabytes.
    if (s[1]! > MAX_INPUT_SIDE || s[2]! > MAX_INPUT_SIDE)
      throw new ModelFormatError(
        this.file,
        `input ${t.name} of ${s[1]}x${s[2]} pixels is larger than the ${MAX_INPUT_SIDE}-pixel sides mobilessd runs`,
        'convert a detector with a smaller input',
      );
    if (t.type !== 'FLOAT32' && t.type !== 'UINT8' && t.type !== 'INT8')
      throw new ModelFormatError(
        this.file,
        `input ${t.name} is ${t.type}`,
        'convert a detector with a float32 or 8-bit input',
      );
    this.computed.add(t.index);
    this.b.shapes[this.name(t.index)] = s;
    return t;
  }

  private preprocess(input: TfliteTensor): PreprocessSpec {
    const [, height, width] = input.shape as [number, number, number, number];
    let norm = this.opts.normalization ?? { mean: 127.5, std: 127.5 };
    const q = input.quantization;
    if (input.type !== 'FLOAT32') {
      if (!q || q.scale.length !== 1 || !(q.scale[0]! > 0))
        throw new TfliteFormatError(this.file, `8-bit input ${input.name} has no usable quantization`);
      // The app feeds the raw pixel (uint8) or pixel - 128 (int8); the graph sees scale * (q - zero point).
      norm = { mean: q.zeroPoint[0]! + (input.type === 'INT8' ? 128 : 0), std: 1 / q.scale[0]! };
    }
    return { width, height, resize: 'stretch', halfPixelCenters: true, ...norm };
  }

  private producer(t: number): TfliteOperator | undefined {
    return this.m.operators.find((op) => op.outputs.includes(t));
  }

  private consumers(t: number): TfliteOperator[] {
    return this.m.operators.filter((op) => op.inputs.includes(t));
  }

  private label(op: TfliteOperator): string {
    return `operator ${op.index} (${op.code.name})`;
  }

  private operator(op: TfliteOperator): void {
    if (op.code.builtin === BUILTIN.DEQUANTIZE) {
      // Stored weights are folded here; a DEQUANTIZE of a computed tensor goes to its op like any other.
      const value = this.constant(this.inputIndex(op, 0), op);
      if (value) {
        this.folded.set(this.outputIndex(op), value);
        return;
      }
    }
    const found = op.code.custom === undefined ? tfliteOp(op.code.name) : undefined;
    if (!found) throw new UnsupportedOperatorError(this.file, op.code.name, `operator ${op.index}`, SUPPORTED_HINT());
    this.emit(op, found.mapping.convert(this.view(op), this.cx));
  }

  /** What an op's TFLite mapping sees of an operator. */
  private view(op: TfliteOperator): TfliteOp & { raw: TfliteOperator } {
    return { index: op.index, name: op.code.name, inputs: op.inputs, outputs: op.outputs, raw: op };
  }

  /** The converter as the ops' TFLite mappings use it (ops/support/interchange.ts). */
  private readonly cx: TfliteContext = {
    options: (op, schema) => readOptions(this.m, raw(op), schema),
    activation: (op, k) => this.name(this.activation(raw(op), k)),
    output: (op) => this.name(this.outputIndex(raw(op))),
    inputShape: (op, k) => this.m.tensors[this.inputIndex(raw(op), k)]!.shape,
    outputShape: (op) => this.m.tensors[this.outputIndex(raw(op))]!.shape,
    hasInput: (op, k) => (op.inputs[k] ?? -1) >= 0,
    constant: (op, k, layout, shape, transform = (v) => v) =>
      this.constantFor(this.inputIndex(raw(op), k), raw(op), layout, transform, shape),
    zeros: (base, shape) => this.b.constant(this.b.freeName(base), shape, new Float32Array(elementCount(shape))),
    values: (op, k) => this.constant(this.inputIndex(raw(op), k), raw(op)),
    outputQuantization: (op) => {
      const t = this.m.tensors[this.outputIndex(raw(op))]!;
      const q = t.quantization;
      const range = INTEGER_RANGES[t.type];
      if (!q || !range) return undefined;
      if (q.scale.length !== 1)
        throw new UnsupportedOperatorError(this.file, op.name, `per-channel quantized activation ${t.name}`);
      return { scale: q.scale[0]!, zeroPoint: q.zeroPoint[0] ?? 0, qmin: range[0], qmax: range[1] };
    },
    clamp: (op, a) => this.clamp(a, this.outputIndex(raw(op)), raw(op)),
    fail: (op, problem) => {
      throw new TfliteFormatError(this.file, `${this.label(raw(op))} ${problem}`);
    },
    unsupported: (op, what) => {
      throw new UnsupportedOperatorError(this.file, op.name, what);
    },
  };

  /** Adds the node an operator became, checking its shape against the file's. */
  private emit(op: TfliteOperator, node: GraphNode): void {
    const out = this.outputIndex(op);
    if (this.computed.has(out) || this.folded.has(out))
      throw new TfliteFormatError(this.file, `tensor ${this.m.tensors[out]!.name} is written twice`);
    let shape: number[];
    try {
      shape = this.b.node(node);
    } catch (e) {
      if (!(e instanceof ShapeError)) throw e;
      throw new TfliteFormatError(this.file, `${this.label(op)}: ${e.message}`);
    }
    const stored = this.m.tensors[out]!.shape;
    if (!sameShape(shape, stored))
      throw new TfliteFormatError(
        this.file,
        `${this.label(op)} output is [${stored}], but the operator computes [${shape}]`,
      );
    this.computed.add(out);
  }

  private inputIndex(op: TfliteOperator, k: number): number {
    const i = op.inputs[k];
    if (i === undefined || i < 0) throw new TfliteFormatError(this.file, `${this.label(op)} is missing input ${k}`);
    return i;
  }

  private outputIndex(op: TfliteOperator): number {
    if (op.outputs.length !== 1)
      throw new TfliteFormatError(this.file, `${this.label(op)} has ${op.outputs.length} outputs, expected 1`);
    return op.outputs[0]!;
  }

  /** An input that must be computed by an earlier op (or be the graph input). */
  private activation(op: TfliteOperator, k: number): number {
    const i = this.inputIndex(op, k);
    if (this.computed.has(i)) return i;
    const t = this.m.tensors[i]!;
    if (this.folded.has(i) || tensorData(this.m, t))
      throw new UnsupportedOperatorError(this.file, op.code.name, `constant operand ${t.name}`);
    throw new TfliteFormatError(this.file, `${this.label(op)} reads tensor ${t.name} before any operator computes it`);
  }

  /** A weight tensor as float32, added once per layout even when several ops share it. */
  private constantFor(
    i: number,
    op: TfliteOperator,
    layout: string,
    transform: (v: Float32Array) => Float32Array,
    shape: number[],
  ): string {
    const key = `${i}:${layout}`;
    const known = this.constantNames.get(key);
    if (known) return known;
    const value = this.constant(i, op);
    if (!value)
      throw new UnsupportedOperatorError(
        this.file,
        op.code.name,
        `computed (non-constant) weights ${this.m.tensors[i]!.name}`,
      );
    // The layout may grow the values (a dilated filter gains zero taps): the shape is that of the result.
    const laidOut = transform(value);
    if (laidOut.length !== elementCount(shape))
      throw new TfliteFormatError(
        this.file,
        `${this.label(op)}: ${this.m.tensors[i]!.name} has ${laidOut.length} values in layout ${layout}, expected shape [${shape}]`,
      );
    const name = this.b.constant(this.b.freeName(this.name(i)), shape, laidOut);
    this.constantNames.set(key, name);
    const q = this.folded.has(i) ? undefined : this.constQuant(this.m.tensors[i]!, laidOut);
    if (q) this.quant.constants[name] = q;
    return name;
  }

  /** The float value of a stored tensor, or undefined when the tensor is computed at run time. */
  private constant(i: number, op: TfliteOperator): Float32Array | undefined {
    const folded = this.folded.get(i);
    if (folded) return folded;
    const t = this.m.tensors[i]!;
    const data = tensorData(this.m, t);
    if (!data) return undefined;
    return decodeConstant(this.m, t, data, op.code.name);
  }

  /** Fused activation intersected with the range an 8-bit output tensor can hold. */
  private clamp(a: TfliteActivation, out: number, op: TfliteOperator): Clamp {
    const fused = FUSED[a];
    if (!fused) throw new UnsupportedOperatorError(this.file, op.code.name, `fused activation ${a}`);
    this.fused.set(out, a);
    const range = quantizedRange(this.m.tensors[out]!);
    return range ? { min: Math.max(fused.min, range.min), max: Math.min(fused.max, range.max) } : { ...fused };
  }

  private postProcessHead(
    post: TfliteOperator,
    scores: number,
  ): { outputs: ModelJson['outputs']; ssd: SsdSpec; columns: number } {
    const o = readPostProcessOptions(this.m, post);
    const [boxes, , anchorsIndex] = post.inputs as [number, number, number];
    const { a, columns } = this.checkOutputs(boxes, scores);
    const anchorValues = this.constant(anchorsIndex, post);
    const as = this.m.tensors[anchorsIndex]!.shape;
    if (!anchorValues || elementCount(as) !== a * 4 || as[as.length - 1] !== 4) {
      throw new TfliteFormatError(
        this.file,
        `${POST_PROCESS_OP} anchors ${this.m.tensors[anchorsIndex]!.name} [${as}] are not a constant [${a}, 4]`,
      );
    }
    if (columns !== o.numClasses && columns !== o.numClasses + 1)
      throw new TfliteFormatError(
        this.file,
        `${POST_PROCESS_OP} has num_classes ${o.numClasses} but the scores have ${columns} columns`,
      );
    // Stored anchors are usually the standard grid layout, uint8-quantized: half a step is their precision.
    const step = Math.max(0, ...(this.m.tensors[anchorsIndex]!.quantization?.scale ?? []));
    const [, inputHeight, inputWidth] = this.m.tensors[this.m.inputs[0]!]!.shape as [number, number, number];
    const generator = matchingGridGenerator(
      anchorValues,
      { ...MEDIAPIPE_SSD_300, inputHeight, inputWidth },
      step / 2 + FLOAT_ANCHOR_TOLERANCE,
    );
    return {
      outputs: { boxes: this.name(boxes), scores: this.name(scores) },
      columns,
      ssd: {
        anchors: this.b.constant(this.b.freeName('anchors'), [a, 4], anchorValues),
        scales: { y: o.yScale, x: o.xScale, h: o.hScale, w: o.wScale },
        scoreFunction: 'sigmoid',
        // The op skips column 0 when the scores carry one more column than there are classes.
        backgroundClass: columns === o.numClasses + 1 ? 0 : -1,
        defaults: {
          scoreThreshold: o.nmsScoreThreshold,
          iouThreshold: o.nmsIouThreshold,
          maxDetections: o.maxDetections,
          perClassNms: o.useRegularNms,
        },
        ...(generator ? { anchorGenerator: generator } : {}),
      },
    };
  }

  private rawOutputsHead(inputShape: number[]): { outputs: ModelJson['outputs']; ssd: SsdSpec; columns: number } {
    const byName = (n: string) => this.m.tensors.findIndex((t) => t.name === n);
    let boxes = byName(RAW_OUTPUT_NAMES.boxes);
    let scores = byName(RAW_OUTPUT_NAMES.scores);
    if (boxes < 0 || scores < 0) {
      const rank3 = this.m.outputs.filter((i) => this.m.tensors[i]!.shape.length === 3);
      boxes = rank3.find((i) => this.m.tensors[i]!.shape[2] === 4) ?? -1;
      scores = rank3.find((i) => i !== boxes) ?? -1;
      if (boxes < 0 || scores < 0) {
        throw new ModelFormatError(
          this.file,
          `cannot find the box encodings [1, anchors, 4] and class logits [1, anchors, classes] among the graph outputs`,
          `convert an SSD detector with a TFLite_Detection_PostProcess op, or describe this one with MediaPipe's options in a sidecar ${SIDECAR_HINT}`,
        );
      }
    }
    const { a, columns } = this.checkOutputs(boxes, scores);
    const generator = { ...MEDIAPIPE_SSD_300, inputHeight: inputShape[1]!, inputWidth: inputShape[2]! };
    const anchors = gridAnchors(generator);
    if (anchors.length !== a * 4) {
      throw new ModelFormatError(
        this.file,
        `the model predicts ${a} boxes but the standard SSD anchor layout for a ${inputShape[1]}x${inputShape[2]} input has ${anchors.length / 4}`,
        `this model needs its own anchors: give MediaPipe's options for it in a sidecar ${SIDECAR_HINT}`,
      );
    }
    return {
      outputs: { boxes: this.name(boxes), scores: this.name(scores) },
      columns,
      ssd: {
        anchors: this.b.constant(this.b.freeName('anchors'), [a, 4], anchors),
        scales: { y: 10, x: 10, h: 5, w: 5 },
        scoreFunction: 'sigmoid',
        backgroundClass: 0,
        defaults: { ...MEDIAPIPE_DEFAULTS },
        anchorGenerator: { kind: 'grid', options: generator },
      },
    };
  }

  /**
   * A raw SSD run as MediaPipe's graph runs it: the graph's outputs in order are TensorsToDetections' inputs
   * (boxes, then scores), anchors come from the SsdAnchorsCalculator options, and every size must agree.
   */
  private mediapipeHead(
    o: MediaPipeSsd,
    where: string,
    inputShape: number[],
  ): { outputs: ModelJson['outputs']; ssd: SsdSpec; columns: number } {
    const fail = (problem: string): never => {
      throw new SsdOptionsError(where, `${problem} (${this.file})`);
    };
    const [, h, w] = inputShape as [number, number, number];
    if (o.preprocess.width !== w || o.preprocess.height !== h)
      fail(
        `ImageToTensorCalculator makes ${o.preprocess.width}x${o.preprocess.height} tensors, the model takes ${w}x${h}`,
      );
    if (this.m.outputs.length < 2) fail(`the model has ${this.m.outputs.length} output, expected boxes and scores`);
    const [boxes, scores] = this.m.outputs as [number, number];
    const bs = this.m.tensors[boxes]!.shape;
    const ss = this.m.tensors[scores]!.shape;
    const d = o.decoding;
    if (!sameShape(bs, [1, o.numBoxes, d.numCoords]) || !sameShape(ss, [1, o.numBoxes, o.numClasses]))
      fail(
        `TensorsToDetectionsCalculator expects outputs [1, ${o.numBoxes}, ${d.numCoords}] and [1, ${o.numBoxes}, ${o.numClasses}], the model has [${bs}] and [${ss}]`,
      );
    for (const t of [boxes, scores])
      if (!this.computed.has(t))
        throw new TfliteFormatError(this.file, `SSD output ${this.m.tensors[t]!.name} is not computed by the graph`);
    const anchors = gridAnchors(o.anchors);
    if (anchors.length !== o.numBoxes * 4)
      fail(
        `SsdAnchorsCalculator makes ${anchors.length / 4} anchors, TensorsToDetectionsCalculator num_boxes is ${o.numBoxes}`,
      );
    return {
      outputs: { boxes: this.name(boxes), scores: this.name(scores) },
      columns: o.numClasses,
      ssd: {
        anchors: this.b.constant(this.b.freeName('anchors'), [o.numBoxes, 4], anchors),
        scales: o.scales,
        scoreFunction: 'sigmoid',
        backgroundClass: -1,
        defaults: o.defaults,
        decoding: d,
        anchorGenerator: { kind: 'grid', options: o.anchors },
      },
    };
  }

  private checkOutputs(boxes: number, scores: number): { a: number; columns: number } {
    const bs = this.m.tensors[boxes]!.shape;
    const ss = this.m.tensors[scores]!.shape;
    for (const t of [boxes, scores])
      if (!this.computed.has(t))
        throw new TfliteFormatError(this.file, `SSD output ${this.m.tensors[t]!.name} is not computed by the graph`);
    if (bs.length !== 3 || bs[0] !== 1 || bs[2] !== 4)
      throw new ModelFormatError(
        this.file,
        `box encodings ${this.m.tensors[boxes]!.name} have shape [${bs}], expected [1, anchors, 4]`,
      );
    if (ss.length !== 3 || ss[0] !== 1 || ss[1] !== bs[1])
      throw new ModelFormatError(
        this.file,
        `class scores ${this.m.tensors[scores]!.name} have shape [${ss}], expected [1, ${bs[1]}, classes]`,
      );
    return { a: bs[1]!, columns: ss[2]! };
  }

  private labels(columns: number, background: number): string[] {
    const given = this.opts.labels;
    if (!given) return Array.from({ length: columns }, (_, i) => (i === background ? '???' : `class ${i}`));
    if (given.length === columns) return given;
    if (background === 0 && given.length === columns - 1) return ['???', ...given];
    throw new ModelFormatError(
      this.opts.labelsFile ?? this.file,
      `${given.length} labels for ${columns} score columns`,
      'give one label per line, the background first',
    );
  }
}

const FUSED: Partial<Record<TfliteActivation, Clamp>> = {
  NONE: ACTIVATIONS.none,
  RELU: ACTIVATIONS.relu,
  RELU6: ACTIVATIONS.relu6,
  RELU_N1_TO_1: { min: -1, max: 1 },
};

/** Operators are views of the reader's: the mapping gets them back through `raw`. */
function raw(op: TfliteOp): TfliteOperator {
  return (op as TfliteOp & { raw: TfliteOperator }).raw;
}

/** Named lazily: the registry is complete only once every op module has loaded. */
/** Integer tensor types an activation may have, and the range of their values. */
const INTEGER_RANGES: Partial<Record<string, [number, number]>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
};

const SUPPORTED_HINT = () =>
  `mobilessd converts ${supportedTfliteOperators().join(', ')} and the custom op ${POST_PROCESS_OP} (MobileNet-SSD graphs)`;
