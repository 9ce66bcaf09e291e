/**
 * face-api's SSD-MobileNetV1 face detector (TF.js weights) -> mobilessd model. The graph is the
 * one face-api builds in code (src/ssdMobilenetv1/: mobileNetV1, predictionLayer, boxPredictionLayer):
 *  - MobileNetV1: a 3x3/2 conv, then 13 depthwise (BatchNorm, ReLU6) + pointwise (bias, ReLU6) pairs,
 *    depthwise stride 2 at pairs 2, 4, 6 and 12; SAME padding throughout;
 *  - 8 extra convs (1x1, then 3x3/2, repeated), bias + ReLU6;
 *  - box/class predictors (1x1 conv + bias, no activation) on pair 11's output, the backbone output
 *    and extra convs 1, 3, 5, 7, reshaped to [1, -1, 4] / [1, -1, 3] and concatenated on axis 1.
 * The depthwise BatchNorm is folded into the filter and a bias. Scores are sigmoid(logit column 1);
 * columns 0 (background) and 2 (unused) are labelled "???".
 */
import { TfjsFormatError } from '../errors.ts';
import { ShapeError, type GraphNode } from '../ops/support/node.ts';
import { sha256Hex } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { ACTIVATIONS, type Clamp } from '../core/geometry.ts';
import { cornersToCenters, MEDIAPIPE_SSD_300 } from '../ssd/anchors.ts';
import type { GridAnchorOptions } from '../core/model_spec.ts';
import { FLOAT_ANCHOR_TOLERANCE, matchingGridGenerator } from './anchor_generator.ts';
import { ModelBuilder } from './builder.ts';
import { concatBytes, decodeTfjsWeights, parseTfjsManifest, type TfjsTensor } from './tfjs_manifest.ts';

export interface FaceApiConvertOptions {
  /** Names the manifest in errors and in `source.file`. */
  file: string;
  name: string;
  description?: string;
}

/** face-api's batchNorm epsilon (1e-3 as float32). */
export const FACEAPI_BN_EPSILON = 0.0010000000474974513;
const INPUT_SIZE = 512;
const DEPTHWISE_STRIDE2 = new Set([2, 4, 6, 12]);
const LABELS = ['???', 'face', '???'];
/**
 * The TF Object Detection API's SSD anchor defaults (the same scales and ratios as MediaPipe's), in
 * the generator's 2017 form: the interpolated box right after ratio 1. It reproduces `extra_dim`
 * to float32 rounding (TF computed it in float32).
 */
const FACEAPI_ANCHORS: GridAnchorOptions = {
  ...MEDIAPIPE_SSD_300,
  inputHeight: INPUT_SIZE,
  inputWidth: INPUT_SIZE,
  interpolatedPlacement: 'after-ratio-1',
};

export async function convertFaceApi(
  manifestText: string,
  shards: Uint8Array[],
  opts: FaceApiConvertOptions,
): Promise<LoadedModel> {
  const weights = decodeTfjsWeights(parseTfjsManifest(manifestText, opts.file), shards, opts.file);
  const g = new FaceGraph(weights, opts.file);
  const { boxes, scores, anchors, anchorValues } = g.build();
  const anchorGenerator = matchingGridGenerator(anchorValues, FACEAPI_ANCHORS, FLOAT_ANCHOR_TOLERANCE);
  const manifestBytes = new TextEncoder().encode(manifestText);
  return g.b.finish({
    name: opts.name,
    description: opts.description ?? `${opts.file} (face-api SSD-MobileNetV1)`,
    source: { file: opts.file, sha256: await sha256Hex(concatBytes([manifestBytes, ...shards])) },
    preprocess: {
      width: INPUT_SIZE,
      height: INPUT_SIZE,
      resize: 'pad-bottom-right',
      halfPixelCenters: false,
      mean: 127.5,
      std: 127.5,
    },
    input: 'input',
    outputs: { boxes, scores },
    labels: LABELS,
    ssd: {
      anchors,
      scales: { y: 10, x: 10, h: 5, w: 5 },
      scoreFunction: 'sigmoid',
      backgroundClass: 0,
      defaults: { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false },
      ...(anchorGenerator ? { anchorGenerator } : {}),
    },
  });
}

class FaceGraph {
  readonly b = new ModelBuilder();

  constructor(
    private readonly w: Map<string, TfjsTensor>,
    private readonly file: string,
  ) {}

  private fail(problem: string): never {
    throw new TfjsFormatError(this.file, problem);
  }

  private tensor(name: string, rank: number): TfjsTensor {
    const t = this.w.get(name);
    if (!t) this.fail(`weight ${name} is missing (is this face-api's ssd_mobilenetv1 manifest?)`);
    if (t.shape.length !== rank || t.dtype !== 'float32')
      this.fail(`weight ${name} is ${t.dtype} [${t.shape}], expected float32 of rank ${rank}`);
    return t;
  }

  build(): { boxes: string; scores: string; anchors: string; anchorValues: Float32Array } {
    this.b.shapes.input = [1, INPUT_SIZE, INPUT_SIZE, 3];
    let x = this.conv('MobilenetV1/Conv2d_0_pointwise', 'input', 2, ACTIVATIONS.relu6);
    let conv11 = '';
    for (let i = 1; i <= 13; i++) {
      x = this.depthwiseBn(`MobilenetV1/Conv2d_${i}_depthwise`, x, DEPTHWISE_STRIDE2.has(i) ? 2 : 1);
      x = this.conv(`MobilenetV1/Conv2d_${i}_pointwise`, x, 1, ACTIVATIONS.relu6);
      if (i === 11) conv11 = x;
    }
    const features = [conv11, x];
    let e = x;
    for (let i = 0; i < 8; i++) {
      e = this.conv(`Prediction/Conv2d_${i}_pointwise`, e, i % 2 === 1 ? 2 : 1, ACTIVATIONS.relu6);
      if (i % 2 === 1) features.push(e);
    }
    const boxParts: string[] = [];
    const classParts: string[] = [];
    features.forEach((f, i) => {
      const p = `Prediction/BoxPredictor_${i}`;
      boxParts.push(this.flatten(this.conv(`${p}/BoxEncodingPredictor`, f, 1, ACTIVATIONS.none, 'biases'), 4));
      classParts.push(this.flatten(this.conv(`${p}/ClassPredictor`, f, 1, ACTIVATIONS.none, 'biases'), LABELS.length));
    });
    const boxes = this.concat('Prediction/box_encodings', boxParts);
    const scores = this.concat('Prediction/class_predictions', classParts);
    const count = this.b.shapes[boxes]![1]!;
    const extra = this.tensor('Output/extra_dim', 3);
    if (extra.shape[0] !== 1 || extra.shape[1] !== count || extra.shape[2] !== 4)
      this.fail(`Output/extra_dim is [${extra.shape}], expected [1, ${count}, 4] (one anchor per prediction)`);
    // face-api stores the anchors as corners (yMin, xMin, yMax, xMax); ours are centre + size.
    const anchorValues = cornersToCenters(extra.data);
    const anchors = this.b.constant('anchors', [count, 4], anchorValues);
    return { boxes, scores, anchors, anchorValues };
  }

  /** conv2d 'same' + bias (face-api's pointwiseConvLayer and convLayer); filters are already HWIO. */
  private conv(
    prefix: string,
    x: string,
    stride: number,
    activation: Clamp,
    biasName = 'convolution_bn_offset',
  ): string {
    const f = this.tensor(`${prefix}/weights`, 4);
    const bias = this.tensor(`${prefix}/${biasName}`, 1);
    const [, , cin, cout] = f.shape as [number, number, number, number];
    const xs = this.b.shapes[x]!;
    if (cin !== xs[3] || bias.shape[0] !== cout)
      this.fail(`${prefix}: weights [${f.shape}] and bias [${bias.shape}] do not fit an input of ${xs[3]} channels`);
    const filter = this.b.constant(`${prefix}/weights`, f.shape, f.data);
    const b = this.b.constant(`${prefix}/${biasName}`, [cout], bias.data);
    return this.node({
      op: 'conv2d',
      name: prefix,
      inputs: [x],
      outputs: [prefix],
      filter,
      bias: b,
      strides: [stride, stride],
      padding: 'SAME',
      activation,
    });
  }

  /** depthwiseConv2d 'same' -> batchNorm -> clip(0, 6), with the BatchNorm folded into filter and bias. */
  private depthwiseBn(prefix: string, x: string, stride: number): string {
    const f = this.tensor(`${prefix}/depthwise_weights`, 4);
    const [kh, kw, c, multiplier] = f.shape as [number, number, number, number];
    if (multiplier !== 1 || c !== this.b.shapes[x]![3])
      this.fail(
        `${prefix}: depthwise weights [${f.shape}] do not fit an input of ${this.b.shapes[x]![3]} channels with multiplier 1`,
      );
    const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map((n) => {
      const t = this.tensor(`${prefix}/BatchNorm/${n}`, 1);
      if (t.shape[0] !== c) this.fail(`${prefix}/BatchNorm/${n} has ${t.shape[0]} channels, expected ${c}`);
      return t.data;
    }) as [Float32Array, Float32Array, Float32Array, Float32Array];
    const k = Float64Array.from(gamma, (g, i) => g / Math.sqrt(variance[i]! + FACEAPI_BN_EPSILON));
    const filter = Float32Array.from(f.data, (v, i) => v * k[i % c]!);
    const bias = Float32Array.from(beta, (b, i) => b - mean[i]! * k[i]!);
    const fName = this.b.constant(`${prefix}/depthwise_weights`, [kh, kw, c], filter);
    const bName = this.b.constant(`${prefix}/folded_bias`, [c], bias);
    return this.node({
      op: 'depthwise_conv2d',
      name: prefix,
      inputs: [x],
      outputs: [prefix],
      filter: fName,
      bias: bName,
      strides: [stride, stride],
      padding: 'SAME',
      activation: ACTIVATIONS.relu6,
    });
  }

  /** Adds a node; a shape its op cannot take means the manifest is not face-api's graph. */
  private node(n: GraphNode): string {
    try {
      this.b.node(n);
    } catch (e) {
      if (e instanceof ShapeError) this.fail(`${n.name}: ${e.message}`);
      throw e;
    }
    return n.outputs[0]!;
  }

  /** [1, H, W, A * k] -> [1, H * W * A, k]: the order face-api's reshape gives (cell, then anchor). */
  private flatten(x: string, k: number): string {
    const [, h, w, c] = this.b.shapes[x]! as [number, number, number, number];
    if (c % k !== 0) this.fail(`${x} has ${c} channels, not a multiple of ${k}`);
    const shape = [1, (h * w * c) / k, k];
    const name = `${x}/reshape`;
    return this.node({ op: 'reshape', name, inputs: [x], outputs: [name], shape });
  }

  private concat(name: string, parts: string[]): string {
    return this.node({ op: 'concat', name, inputs: parts, outputs: [name], axis: 1, activation: ACTIVATIONS.none });
  }
}
