/** Types shared by the SSD head on the GPU (head.ts) and its CPU reference (head_ref.ts). */
import { InvalidOptionError } from '../errors.ts';
import type { SsdSpec } from '../graph/ir.ts';

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
}

/**
 * What the head needs from the model's SsdSpec. Its scores input holds logits, or with 'probability'
 * scores already computed (an integer network's outputs after the model's own LOGISTIC, dequantized).
 */
export type HeadSpec = Pick<SsdSpec, 'scales' | 'backgroundClass'> & {
  scoreFunction: SsdSpec['scoreFunction'] | 'probability';
};

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
  if (o.allowedClasses !== undefined && o.allowedClasses.length !== numClasses) {
    throw new InvalidOptionError(
      'allowedClasses',
      `${o.allowedClasses.length} flags`,
      `one flag per class (${numClasses})`,
    );
  }
}
