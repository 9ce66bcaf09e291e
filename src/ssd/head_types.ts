/** Types shared by the SSD head on the GPU (head.ts) and its CPU reference (head_ref.ts). */
import { InvalidOptionError } from '../errors.ts';
import type { NmsAlgorithm, SsdSpec } from '../graph/ir.ts';

/** One detection in model-input coordinates (normalized to [0, 1], not clipped). */
export interface HeadDetection {
  ymin: number;
  xmin: number;
  ymax: number;
  xmax: number;
  score: number;
  classId: number;
  /** Row of the anchor the box was decoded from. */
  anchor: number;
  /** (x, y) per keypoint of the model (ssd.decoding.keypoints), normalized like the box; absent without keypoints. */
  keypoints?: number[];
}

/** Per-call settings: changing them re-creates nothing. */
export interface HeadOptions {
  /** Candidates need score >= this. */
  scoreThreshold: number;
  /** A candidate is dropped when its IoU with an already kept box is strictly greater than this. */
  iouThreshold: number;
  /** At most this many detections per image. */
  maxDetections: number;
  /** true: every class scoring >= threshold is a candidate, suppressed only by boxes of its class.
   *  false: each anchor's best class only, suppression across classes. */
  perClassNms: boolean;
  /** One flag per logits column; absent allows every class. */
  allowedClasses?: readonly boolean[];
  /**
   * 'greedy' (default) keeps the boxes NMS keeps; 'weighted' (MediaPipe's face and palm graphs) replaces each
   * kept box and its keypoints by the score-weighted mean over its cluster: the candidates whose first
   * suppressing kept box (in score order) it is, itself included. Scores stay the kept box's own.
   */
  nms?: NmsAlgorithm;
}

/**
 * What the head needs from the model's SsdSpec. Its scores input holds logits, or with 'probability'
 * scores already computed (an integer network's outputs after the model's own LOGISTIC, dequantized).
 */
export type HeadSpec = Pick<SsdSpec, 'scales' | 'backgroundClass' | 'decoding'> & {
  scoreFunction: SsdSpec['scoreFunction'] | 'probability';
};

/** Keypoints per detection of a model (0 without keypoints). */
export function keypointCount(spec: Pick<SsdSpec, 'decoding'>): number {
  return spec.decoding?.keypoints?.names.length ?? 0;
}

/**
 * The classes that may be reported: allowed, not the background column, and not labelled "???"
 * (the label maps mark unused ids that way).
 */
export function reportableClasses(
  numClasses: number,
  spec: HeadSpec,
  allowed?: readonly boolean[],
  labels?: readonly string[],
): boolean[] {
  return Array.from(
    { length: numClasses },
    (_, c) => c !== spec.backgroundClass && (allowed?.[c] ?? true) && labels?.[c] !== '???',
  );
}

export function validateHeadOptions(o: HeadOptions, numClasses: number, maxDetectionsCap: number): void {
  const unit = (name: string, v: number) => {
    if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw new InvalidOptionError(name, v, 'a number from 0 to 1');
  };
  unit('scoreThreshold', o.scoreThreshold);
  unit('iouThreshold', o.iouThreshold);
  if (!(Number.isInteger(o.maxDetections) && o.maxDetections >= 1 && o.maxDetections <= maxDetectionsCap)) {
    throw new InvalidOptionError('maxDetections', o.maxDetections, `an integer from 1 to ${maxDetectionsCap}`);
  }
  if (o.nms !== undefined && o.nms !== 'greedy' && o.nms !== 'weighted')
    throw new InvalidOptionError('nms', o.nms, "'greedy' or 'weighted'");
  if (o.allowedClasses !== undefined && o.allowedClasses.length !== numClasses) {
    throw new InvalidOptionError(
      'allowedClasses',
      `${o.allowedClasses.length} flags`,
      `one flag per class (${numClasses})`,
    );
  }
}
