/**
 * MediaPipe's SSD options -> what the converter needs for a raw SSD .tflite (no post-process op): the
 * options of the four calculators MediaPipe's detection graphs run around such a model (ImageToTensor,
 * SsdAnchors, TensorsToDetections, NonMaxSuppression), written as JSON with MediaPipe's field names
 * (a `<model>.ssd.json` sidecar or the `ssdOptions` load option; docs/ssd_options.md). Untrusted input:
 * every field is checked, unknown fields are refused (a misspelt option would otherwise be silently ignored),
 * and what mobilessd cannot reproduce is refused by name.
 */
import type { GridAnchorOptions, PreprocessSpec } from '../core/model_spec.ts';
import { SsdOptionsError } from '../errors.ts';
import type { SsdDecoding, SsdSpec } from '../graph/ir.ts';

/** What a raw SSD .tflite becomes with MediaPipe's options. */
export interface MediaPipeSsd {
  preprocess: PreprocessSpec;
  anchors: GridAnchorOptions;
  numBoxes: number;
  numClasses: number;
  decoding: SsdDecoding;
  scales: SsdSpec['scales'];
  defaults: SsdSpec['defaults'];
  /** One per class, when the options name them. */
  labels?: string[];
}

type Json = Record<string, unknown>;

const SECTIONS = {
  ImageToTensorCalculator: [
    'output_tensor_width',
    'output_tensor_height',
    'keep_aspect_ratio',
    'output_tensor_float_range',
    'border_mode',
  ],
  SsdAnchorsCalculator: [
    'num_layers',
    'min_scale',
    'max_scale',
    'input_size_height',
    'input_size_width',
    'anchor_offset_x',
    'anchor_offset_y',
    'strides',
    'aspect_ratios',
    'feature_map_height',
    'feature_map_width',
    'reduce_boxes_in_lowest_layer',
    'interpolated_scale_aspect_ratio',
    'fixed_anchor_size',
  ],
  TensorsToDetectionsCalculator: [
    'num_classes',
    'num_boxes',
    'num_coords',
    'box_coord_offset',
    'keypoint_coord_offset',
    'num_keypoints',
    'num_values_per_keypoint',
    'sigmoid_score',
    'score_clipping_thresh',
    'reverse_output_order',
    'apply_exponential_on_box_size',
    'x_scale',
    'y_scale',
    'w_scale',
    'h_scale',
    'min_score_thresh',
  ],
  NonMaxSuppressionCalculator: ['min_suppression_threshold', 'overlap_type', 'algorithm', 'max_num_detections'],
} as const;
const TOP = [...Object.keys(SECTIONS), 'labels', 'keypoint_names'];

/** Largest max_num_detections kept as the model's default (the detectors' maxDetectionsCap default). */
const MAX_DEFAULT_DETECTIONS = 100;

class Reader {
  constructor(private readonly where: string) {}

  fail(problem: string): never {
    throw new SsdOptionsError(this.where, problem);
  }

  section(top: Json, name: keyof typeof SECTIONS): Json {
    const v = top[name];
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      this.fail(`${name} is ${v === undefined ? 'missing' : 'not an object'}`);
    const s = v as Json;
    const known: readonly string[] = SECTIONS[name];
    for (const k of Object.keys(s))
      if (!known.includes(k)) this.fail(`${name}.${k} is not an option mobilessd reads (it reads ${known.join(', ')})`);
    return s;
  }

  num(s: Json, section: string, key: string, def?: number): number {
    const v = s[key] ?? def;
    if (typeof v !== 'number' || !Number.isFinite(v))
      this.fail(`${section}.${key} is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a number`);
    return v;
  }

  int(s: Json, section: string, key: string, min: number, def?: number): number {
    const v = this.num(s, section, key, def);
    if (!Number.isInteger(v) || v < min) this.fail(`${section}.${key} is ${v}, expected an integer >= ${min}`);
    return v;
  }

  positive(s: Json, section: string, key: string): number {
    const v = this.num(s, section, key);
    if (!(v > 0)) this.fail(`${section}.${key} is ${v}, expected a positive number`);
    return v;
  }

  bool(s: Json, section: string, key: string, def: boolean): boolean {
    const v = s[key] ?? def;
    if (typeof v !== 'boolean') this.fail(`${section}.${key} is ${JSON.stringify(v)}, expected true or false`);
    return v;
  }

  nums(s: Json, section: string, key: string, def?: number[]): number[] {
    const v = s[key] ?? def;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
      this.fail(`${section}.${key} is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a list of numbers`);
    return v as number[];
  }

  strings(top: Json, key: string): string[] | undefined {
    const v = top[key];
    if (v === undefined) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(`${key} must be a list of strings`);
    return v as string[];
  }

  oneOf<T extends string>(s: Json, section: string, key: string, allowed: readonly T[], def: T): T {
    const v = s[key] ?? def;
    if (!allowed.includes(v as T))
      this.fail(`${section}.${key} is ${JSON.stringify(v)}; mobilessd runs ${allowed.join(' or ')}`);
    return v as T;
  }
}

/** Checks MediaPipe SSD options (parsed JSON) and turns them into the converter's terms; `where` names them in errors. */
export function readMediaPipeSsd(json: unknown, where: string): MediaPipeSsd {
  const r = new Reader(where);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) r.fail('the options are not a JSON object');
  const top = json as Json;
  for (const k of Object.keys(top))
    if (!TOP.includes(k)) r.fail(`${k} is not a section mobilessd reads (it reads ${TOP.join(', ')})`);
  return {
    ...imageToTensor(r, r.section(top, 'ImageToTensorCalculator')),
    anchors: ssdAnchors(r, r.section(top, 'SsdAnchorsCalculator')),
    ...tensorsToDetections(r, r.section(top, 'TensorsToDetectionsCalculator'), top),
    defaults: nonMaxSuppression(r, r.section(top, 'NonMaxSuppressionCalculator'), top),
  };
}

function imageToTensor(r: Reader, s: Json): { preprocess: PreprocessSpec } {
  const S = 'ImageToTensorCalculator';
  const width = r.int(s, S, 'output_tensor_width', 1);
  const height = r.int(s, S, 'output_tensor_height', 1);
  const keep = r.bool(s, S, 'keep_aspect_ratio', false);
  // MediaPipe's default border is BORDER_REPLICATE; mobilessd letterboxes with zeros only.
  const border = r.oneOf(s, S, 'border_mode', ['BORDER_ZERO', 'BORDER_REPLICATE'], 'BORDER_REPLICATE');
  if (keep && border !== 'BORDER_ZERO')
    r.fail(`${S}: keep_aspect_ratio with border_mode ${border}: mobilessd pads with zeros only (BORDER_ZERO)`);
  const range = s.output_tensor_float_range;
  if (range === null || typeof range !== 'object' || Array.isArray(range))
    r.fail(`${S}.output_tensor_float_range is missing or not an object {min, max}`);
  const min = r.num(range as Json, `${S}.output_tensor_float_range`, 'min');
  const max = r.num(range as Json, `${S}.output_tensor_float_range`, 'max');
  if (!(max > min)) r.fail(`${S}.output_tensor_float_range max ${max} is not above min ${min}`);
  // value = min + pixel / 255 * (max - min) = (pixel - mean) / std.
  const std = 255 / (max - min);
  return {
    preprocess: {
      width,
      height,
      resize: keep ? 'letterbox' : 'stretch',
      halfPixelCenters: true,
      mean: -min * std,
      std,
    },
  };
}

function ssdAnchors(r: Reader, s: Json): GridAnchorOptions {
  const S = 'SsdAnchorsCalculator';
  const numLayers = r.int(s, S, 'num_layers', 1);
  const strides = r.nums(s, S, 'strides');
  if (strides.length !== numLayers || strides.some((v) => !Number.isInteger(v) || v < 1))
    r.fail(`${S}.strides must be ${numLayers} positive integers (one per layer), found ${JSON.stringify(strides)}`);
  const fh = r.nums(s, S, 'feature_map_height', []);
  const fw = r.nums(s, S, 'feature_map_width', []);
  if (fh.length !== fw.length || (fh.length !== 0 && fh.length !== numLayers))
    r.fail(`${S}.feature_map_height and feature_map_width must both be absent or give ${numLayers} sizes`);
  const aspectRatios = r.nums(s, S, 'aspect_ratios');
  if (aspectRatios.length === 0 || aspectRatios.some((v) => !(v > 0)))
    r.fail(`${S}.aspect_ratios must be positive numbers, found ${JSON.stringify(aspectRatios)}`);
  const interpolated = r.num(s, S, 'interpolated_scale_aspect_ratio', 1);
  if (interpolated < 0) r.fail(`${S}.interpolated_scale_aspect_ratio is ${interpolated}, expected >= 0`);
  return {
    numLayers,
    minScale: r.positive(s, S, 'min_scale'),
    maxScale: r.positive(s, S, 'max_scale'),
    inputHeight: r.int(s, S, 'input_size_height', 1),
    inputWidth: r.int(s, S, 'input_size_width', 1),
    strides,
    ...(fh.length ? { featureMapSizes: fh.map((h, i): [number, number] => [h, fw[i]!]) } : {}),
    aspectRatios,
    anchorOffsetX: r.num(s, S, 'anchor_offset_x', 0.5),
    anchorOffsetY: r.num(s, S, 'anchor_offset_y', 0.5),
    reduceBoxesInLowestLayer: r.bool(s, S, 'reduce_boxes_in_lowest_layer', false),
    interpolatedScaleAspectRatio: interpolated,
    fixedAnchorSize: r.bool(s, S, 'fixed_anchor_size', false),
  };
}

function tensorsToDetections(
  r: Reader,
  s: Json,
  top: Json,
): Pick<MediaPipeSsd, 'numBoxes' | 'numClasses' | 'decoding' | 'scales' | 'labels'> {
  const S = 'TensorsToDetectionsCalculator';
  const numClasses = r.int(s, S, 'num_classes', 1);
  const numCoords = r.int(s, S, 'num_coords', 4);
  const boxOffset = r.int(s, S, 'box_coord_offset', 0, 0);
  if (boxOffset + 4 > numCoords)
    r.fail(`${S}: the box at box_coord_offset ${boxOffset} does not fit num_coords ${numCoords}`);
  const numKeypoints = r.int(s, S, 'num_keypoints', 0, 0);
  const kpOffset = r.int(s, S, 'keypoint_coord_offset', 0, 0);
  const perKeypoint = r.int(s, S, 'num_values_per_keypoint', 2, 2);
  if (kpOffset + numKeypoints * perKeypoint > numCoords)
    r.fail(
      `${S}: ${numKeypoints} keypoints of ${perKeypoint} values from ${kpOffset} do not fit num_coords ${numCoords}`,
    );
  if (!r.bool(s, S, 'sigmoid_score', false))
    r.fail(`${S}.sigmoid_score is false: mobilessd runs models whose class outputs are logits (sigmoid_score: true)`);
  const clip = s.score_clipping_thresh === undefined ? undefined : r.positive(s, S, 'score_clipping_thresh');
  const names = r.strings(top, 'keypoint_names') ?? Array.from({ length: numKeypoints }, (_, k) => `keypoint ${k}`);
  if (names.length !== numKeypoints) r.fail(`keypoint_names has ${names.length} names for ${numKeypoints} keypoints`);
  const labels = r.strings(top, 'labels');
  if (labels && labels.length !== numClasses) r.fail(`labels has ${labels.length} names for ${numClasses} classes`);
  return {
    numBoxes: r.int(s, S, 'num_boxes', 1),
    numClasses,
    decoding: {
      numCoords,
      boxOffset,
      order: r.bool(s, S, 'reverse_output_order', false) ? 'xywh' : 'yxhw',
      exponentialSize: r.bool(s, S, 'apply_exponential_on_box_size', false),
      ...(clip === undefined ? {} : { scoreClipping: clip }),
      ...(numKeypoints ? { keypoints: { offset: kpOffset, valuesPerKeypoint: perKeypoint, names } } : {}),
    },
    scales: {
      y: r.positive(s, S, 'y_scale'),
      x: r.positive(s, S, 'x_scale'),
      h: r.positive(s, S, 'h_scale'),
      w: r.positive(s, S, 'w_scale'),
    },
    ...(labels ? { labels } : {}),
  };
}

function nonMaxSuppression(r: Reader, s: Json, top: Json): SsdSpec['defaults'] {
  const S = 'NonMaxSuppressionCalculator';
  const iou = r.num(s, S, 'min_suppression_threshold');
  if (!(iou > 0 && iou <= 1)) r.fail(`${S}.min_suppression_threshold is ${iou}, expected a number in (0, 1]`);
  r.oneOf(s, S, 'overlap_type', ['INTERSECTION_OVER_UNION', 'JACCARD'], 'JACCARD');
  const algorithm = r.oneOf(s, S, 'algorithm', ['DEFAULT', 'WEIGHTED'], 'DEFAULT');
  const max = r.int(s, S, 'max_num_detections', -1, -1);
  const t = top.TensorsToDetectionsCalculator as Json;
  const score = t.min_score_thresh === undefined ? 0 : r.num(t, 'TensorsToDetectionsCalculator', 'min_score_thresh');
  if (!(score >= 0 && score <= 1)) r.fail(`TensorsToDetectionsCalculator.min_score_thresh ${score} is not in [0, 1]`);
  if (max === 0) r.fail(`${S}.max_num_detections is 0`);
  return {
    scoreThreshold: score,
    iouThreshold: iou,
    maxDetections: max < 0 ? MAX_DEFAULT_DETECTIONS : Math.min(max, MAX_DEFAULT_DETECTIONS),
    perClassNms: false,
    nms: algorithm === 'WEIGHTED' ? 'weighted' : 'greedy',
  };
}
