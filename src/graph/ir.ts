/**
 * mobilessd's model format: `model.json` (this structure) + one little-endian float32 weights file.
 * Converters (TFLite, TF.js) produce it; the graph executor consumes it. Activations are NHWC with
 * batch 1 in the recorded shapes; the executor re-plans for other batch sizes.
 */
import type { GridAnchorOptions, PreprocessSpec } from '../core/model_spec.ts';
import type { ModelQuantization } from '../core/quant.ts';
import type { GraphNode } from '../ops/support/node.ts';

export const MODEL_FORMAT = 'mobilessd-model';
export const MODEL_FORMAT_VERSION = 1;

export interface ConstTensor {
  shape: number[];
  /** Byte offset into the float32 weights (multiple of 4; a float16 file is widened first) and length in elements. */
  offset: number;
  length: number;
}

export interface SsdSpec {
  /** Constant [numAnchors, 4] as (yCenter, xCenter, height, width), normalized to [0, 1]. */
  anchors: string;
  /** Divisors of the raw encodings (ty, tx, th, tw): 10, 10, 5, 5 for these models. */
  scales: { y: number; x: number; h: number; w: number };
  /** How raw class logits become scores. */
  scoreFunction: 'sigmoid' | 'softmax';
  /** Column of the background class in the logits, or -1 when there is none. */
  backgroundClass: number;
  /** What the model's own pipeline uses (shown by `mobilessd models`, used when the caller sets nothing). */
  defaults: {
    scoreThreshold: number;
    iouThreshold: number;
    maxDetections: number;
    perClassNms: boolean;
    /** Greedy NMS (absent: greedy), or MediaPipe's weighted NMS (each kept box the score-weighted mean of its cluster). */
    nms?: NmsAlgorithm;
  };
  /**
   * How the rows of `outputs.boxes` are laid out and decoded, as MediaPipe's TensorsToDetectionsCalculator
   * options say. Absent: rows of (ty, tx, th, tw), sizes through exp (the TF Object Detection API's box coder).
   */
  decoding?: SsdDecoding;
  /**
   * The generator that reproduces `anchors` (to their storage precision), so the model can run at
   * another input size with anchors for its new feature maps (ssd/resize_input.ts). Optional:
   * absent from models converted before it was recorded and from models whose anchors no known
   * generator makes.
   */
  anchorGenerator?: AnchorGeneratorSpec;
}

export type NmsAlgorithm = 'greedy' | 'weighted';

export interface SsdDecoding {
  /** Values per row of `outputs.boxes` (num_coords). */
  numCoords: number;
  /** Column of the first box value (box_coord_offset). */
  boxOffset: number;
  /** 'yxhw' (TF) or 'xywh' (MediaPipe's reverse_output_order); keypoints are (y, x) or (x, y) alike. */
  order: 'yxhw' | 'xywh';
  /** Sizes are exp(t / scale) * anchor (true) or t / scale * anchor (false: BlazeFace). */
  exponentialSize: boolean;
  /** Logits are clamped to [-v, v] before the sigmoid (score_clipping_thresh). */
  scoreClipping?: number;
  /** Points regressed beside the box (num_keypoints, keypoint_coord_offset, num_values_per_keypoint), named. */
  keypoints?: { offset: number; valuesPerKeypoint: number; names: string[] };
}

export interface AnchorGeneratorSpec {
  /** gridAnchors (ssd/anchors.ts): MediaPipe's SsdAnchorsCalculator, TF's multiple grid anchor generator. */
  kind: 'grid';
  /** The options at the converted input size; feature map sizes come from the graph when resizing. */
  options: GridAnchorOptions;
}

export interface ModelJson {
  format: typeof MODEL_FORMAT;
  version: typeof MODEL_FORMAT_VERSION;
  name: string;
  description: string;
  source: { file: string; sha256: string; converter: string };
  /** float16-le: float16 weights (for browsers) and then the constants named in `float32`; widened on load. */
  weights: {
    file: string;
    byteLength: number;
    sha256: string;
    layout: 'float32-le' | 'float16-le';
    float32?: string[];
  };
  preprocess: PreprocessSpec;
  /** Graph input tensor name; shape [1, height, width, 3]. */
  input: string;
  /** Shapes of every activation tensor (batch 1), input included. */
  shapes: Record<string, number[]>;
  constants: Record<string, ConstTensor>;
  nodes: GraphNode[];
  /** boxes: [1, A, 4] raw (ty, tx, th, tw), or [1, A, ssd.decoding.numCoords]; scores: [1, A, numClasses] raw logits. */
  outputs: { boxes: string; scores: string };
  /** One name per logits column; the background column keeps its name from the label map (e.g. "???"). */
  labels: string[];
  ssd: SsdSpec;
  /**
   * Scales and zero points of a model converted from a quantized .tflite: what integer execution
   * (precision 'int8') needs. Absent for float models.
   */
  quantization?: ModelQuantization;
}
