/**
 * Training targets for one image: a class per default box (0 = background) and, for the matched
 * ones, the box encoded with the model's box coder, the inverse of its decoding (ssd/head_ref.ts):
 * ty = sy (yc - ya) / ha, tx = sx (xc - xa) / wa, th = sh log(h / ha), tw = sw log(w / wa), with
 * the scales (10, 10, 5, 5) of these models. These are the SSD paper's g-hat, scaled.
 */
import type { SsdSpec } from '../graph/ir.ts';
import { anchorCorners, matchAnchors } from './match.ts';

export interface GroundTruth {
  /** Normalized corners (ymin, xmin, ymax, xmax) per box. */
  boxes: Float32Array;
  /** Class column per box (1 .. classes; 0 is the background). */
  classes: Int32Array;
}

export interface Targets {
  /** Per default box: its class column, 0 for background. */
  labels: Uint32Array;
  /** Per default box: the encoded box (ty, tx, th, tw); zero for background. */
  boxes: Float32Array;
  positives: number;
}

export type BoxScales = SsdSpec['scales'];

/** Encodes corner box `j` of `gt` against default box `i` (yc, xc, h, w) of `anchors`. */
export function encodeBox(
  gt: ArrayLike<number>,
  j: number,
  anchors: ArrayLike<number>,
  i: number,
  s: BoxScales,
): [number, number, number, number] {
  const [y0, x0, y1, x1] = [gt[4 * j]!, gt[4 * j + 1]!, gt[4 * j + 2]!, gt[4 * j + 3]!];
  const [ya, xa, ha, wa] = [anchors[4 * i]!, anchors[4 * i + 1]!, anchors[4 * i + 2]!, anchors[4 * i + 3]!];
  return [
    (s.y * ((y0 + y1) / 2 - ya)) / ha,
    (s.x * ((x0 + x1) / 2 - xa)) / wa,
    s.h * Math.log((y1 - y0) / ha),
    s.w * Math.log((x1 - x0) / wa),
  ];
}

/** Matches `gt` to the default boxes (anchorCorners of `anchors` may be passed precomputed) and encodes the matches. */
export function buildTargets(
  anchors: Float32Array,
  gt: GroundTruth,
  scales: BoxScales,
  threshold = 0.5,
  corners = anchorCorners(anchors),
): Targets {
  const A = anchors.length / 4;
  const match = matchAnchors(corners, gt.boxes, threshold);
  const labels = new Uint32Array(A);
  const boxes = new Float32Array(4 * A);
  let positives = 0;
  for (let i = 0; i < A; i++) {
    const j = match[i]!;
    if (j < 0) continue;
    labels[i] = gt.classes[j]!;
    boxes.set(encodeBox(gt.boxes, j, anchors, i, scales), 4 * i);
    positives++;
  }
  return { labels, boxes, positives };
}
