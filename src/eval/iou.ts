/**
 * Intersection over union of two boxes given as (x, y, width, height).
 *
 * 'continuous' (the default) treats coordinates as points on a continuous plane: area = width * height.
 * It is what pycocotools does, what a detector's floating-point output means, and the convention of
 * the reference figures in the shared datasets README.
 * 'pixel-inclusive' is the original VOC devkit's (and Object-Detection-Metrics' / review_object_detection_metrics'
 * PASCAL evaluator's): corners are inclusive pixel indices, so every extent gains +1.
 */
import type { Box } from '../detect_types.ts';

export type IouConvention = 'continuous' | 'pixel-inclusive';

export function iou(a: Box, b: Box, convention: IouConvention = 'continuous'): number {
  const one = convention === 'pixel-inclusive' ? 1 : 0;
  const iw = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x) + one;
  const ih = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y) + one;
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  return inter / ((a.width + one) * (a.height + one) + (b.width + one) * (b.height + one) - inter);
}
