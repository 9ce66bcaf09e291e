/**
 * Greedy non-maximum suppression on CPU arrays, with face-api's rule (keep score > threshold,
 * suppress a candidate whose IoU with a kept box exceeds iouThreshold, at most maxResults). Used for
 * every TF.js backend because face-api's own NMS reads boxes with arraySync, which
 * tfjs-backend-webgpu cannot do in Node.
 */
export interface NmsOptions {
  scoreThreshold: number;
  iouThreshold: number;
  maxResults: number;
}

/** boxes: [n, 4] as (ymin, xmin, ymax, xmax); returns kept indices, best first. */
export function greedyNms(boxes: Float32Array, scores: Float32Array, o: NmsOptions): number[] {
  const order: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i]! > o.scoreThreshold) order.push(i);
  order.sort((a, b) => scores[b]! - scores[a]!);
  const area = (i: number) =>
    Math.max(0, boxes[4 * i + 2]! - boxes[4 * i]!) * Math.max(0, boxes[4 * i + 3]! - boxes[4 * i + 1]!);
  const iou = (i: number, j: number) => {
    const h = Math.min(boxes[4 * i + 2]!, boxes[4 * j + 2]!) - Math.max(boxes[4 * i]!, boxes[4 * j]!);
    const w = Math.min(boxes[4 * i + 3]!, boxes[4 * j + 3]!) - Math.max(boxes[4 * i + 1]!, boxes[4 * j + 1]!);
    if (h <= 0 || w <= 0) return 0;
    const inter = h * w;
    return inter / (area(i) + area(j) - inter);
  };
  const kept: number[] = [];
  for (const i of order) {
    if (kept.length >= o.maxResults) break;
    if (kept.every((k) => iou(i, k) <= o.iouThreshold)) kept.push(i);
  }
  return kept;
}
