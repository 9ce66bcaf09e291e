/**
 * PASCAL VOC average precision for one class: detections are taken best score first (ties keep their
 * input order); each one matches the ground truth it overlaps most in its image (first on ties); with
 * IoU >= the threshold it is a true positive if that ground truth is still free, a false positive if
 * it was already taken. Matching a `difficult` ground truth makes the detection count as nothing, and
 * difficult objects are not in the recall denominator.
 */
import type { Box } from '../detect_types.ts';
import { iou, type IouConvention } from './iou.ts';

export interface ScoredBox {
  imageId: string;
  score: number;
  box: Box;
}

export interface ReferenceBox {
  imageId: string;
  box: Box;
  difficult?: boolean;
}

export interface VocApOptions {
  /** Default 0.5. */
  iouThreshold?: number;
  /** Default 'continuous'. */
  iouConvention?: IouConvention;
}

export interface VocClassAp {
  /** Area under the precision envelope over every recall step (VOC2010 and later). NaN without ground truth. */
  ap: number;
  /** Mean envelope precision at recall 0, 0.1, ..., 1 (VOC2007). NaN without ground truth. */
  ap11: number;
  /** Ground truths that count (not difficult). */
  groundTruths: number;
  truePositives: number;
  falsePositives: number;
  /** Detections that matched a difficult object and were left out. */
  ignored: number;
  /** Precision and recall after each counted detection, best score first: the PR curve. */
  precision: number[];
  recall: number[];
}

export function vocAveragePrecision(
  groundTruths: readonly ReferenceBox[],
  detections: readonly ScoredBox[],
  options: VocApOptions = {},
): VocClassAp {
  const threshold = options.iouThreshold ?? 0.5;
  const convention = options.iouConvention ?? 'continuous';
  const byImage = new Map<string, { box: Box; difficult: boolean; taken: boolean }[]>();
  for (const g of groundTruths) {
    const list = byImage.get(g.imageId) ?? [];
    list.push({ box: g.box, difficult: g.difficult ?? false, taken: false });
    byImage.set(g.imageId, list);
  }
  const positives = groundTruths.filter((g) => !g.difficult).length;
  const order = detections.map((_, i) => i).sort((a, b) => detections[b]!.score - detections[a]!.score || a - b);
  let tp = 0;
  let fp = 0;
  let ignored = 0;
  const precision: number[] = [];
  const recall: number[] = [];
  for (const k of order) {
    const d = detections[k]!;
    let best = -Infinity;
    let match: { difficult: boolean; taken: boolean } | undefined;
    for (const g of byImage.get(d.imageId) ?? []) {
      const overlap = iou(d.box, g.box, convention);
      if (overlap > best) {
        best = overlap;
        match = g;
      }
    }
    if (match && best >= threshold && match.difficult) {
      ignored++;
      continue;
    }
    if (match && best >= threshold && !match.taken) {
      match.taken = true;
      tp++;
    } else fp++;
    precision.push(tp / (tp + fp));
    recall.push(tp / positives);
  }
  const ap = positives ? allPointAp(recall, precision) : NaN;
  const ap11 = positives ? elevenPointAp(recall, precision) : NaN;
  return { ap, ap11, groundTruths: positives, truePositives: tp, falsePositives: fp, ignored, precision, recall };
}

/**
 * Area under the precision envelope: each recall step times the best precision reached at that recall
 * or beyond. Summed from low to high recall, as the devkit does, so the rounding matches it.
 */
export function allPointAp(recall: readonly number[], precision: readonly number[]): number {
  const envelope = precision.slice();
  for (let i = envelope.length - 2; i >= 0; i--) envelope[i] = Math.max(envelope[i]!, envelope[i + 1]!);
  let ap = 0;
  for (let i = 0; i < recall.length; i++) {
    const step = recall[i]! - (i > 0 ? recall[i - 1]! : 0);
    if (step !== 0) ap += step * envelope[i]!;
  }
  return ap;
}

/**
 * Mean over the 11 recall levels of the best precision at recall >= level. The levels are i * 0.1 as
 * numpy's arange/linspace produce them (the devkit's Python port and review_object_detection_metrics),
 * so levels 0.3, 0.6 and 0.7 sit one ulp above the decimal and a recall of exactly 0.3, 0.6 or 0.7 does
 * not reach them; this keeps published figures reproducible.
 */
export function elevenPointAp(recall: readonly number[], precision: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i <= 10; i++) {
    const level = i * 0.1;
    let best = 0;
    for (let j = 0; j < recall.length; j++) if (recall[j]! >= level) best = Math.max(best, precision[j]!);
    sum += best;
  }
  return sum / 11;
}
