/**
 * SSD matching (Liu et al. 2016, section 2.2, "Matching strategy"), as in the reference Caffe
 * implementation: first every ground-truth box takes the default box it overlaps best, in order of
 * overlap (a bipartite greedy match, so two boxes never share one default box); then every default
 * box still free takes the ground truth it overlaps best if that IoU exceeds the threshold (0.5).
 * Boxes are normalized corners (ymin, xmin, ymax, xmax).
 */

/** Default boxes (yCenter, xCenter, height, width) rows to corner rows. */
export function anchorCorners(anchors: ArrayLike<number>): Float64Array {
  const out = new Float64Array(anchors.length);
  for (let i = 0; i < anchors.length; i += 4) {
    const [yc, xc, h, w] = [anchors[i]!, anchors[i + 1]!, anchors[i + 2]!, anchors[i + 3]!];
    out[i] = yc - h / 2;
    out[i + 1] = xc - w / 2;
    out[i + 2] = yc + h / 2;
    out[i + 3] = xc + w / 2;
  }
  return out;
}

/** IoU of corner row i of `a` with corner row j of `b`; 0 when the union is empty. */
export function cornerIou(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number): number {
  const ih = Math.min(a[4 * i + 2]!, b[4 * j + 2]!) - Math.max(a[4 * i]!, b[4 * j]!);
  const iw = Math.min(a[4 * i + 3]!, b[4 * j + 3]!) - Math.max(a[4 * i + 1]!, b[4 * j + 1]!);
  if (ih <= 0 || iw <= 0) return 0;
  const inter = ih * iw;
  const areaA = (a[4 * i + 2]! - a[4 * i]!) * (a[4 * i + 3]! - a[4 * i + 1]!);
  const areaB = (b[4 * j + 2]! - b[4 * j]!) * (b[4 * j + 3]! - b[4 * j + 1]!);
  return inter / (areaA + areaB - inter);
}

/**
 * For every default box, the index of the ground truth it is matched to, or -1 (background).
 * Ties go to the lower index (default box in the first step, ground truth in the second).
 */
export function matchAnchors(anchorBoxes: ArrayLike<number>, gtBoxes: ArrayLike<number>, threshold = 0.5): Int32Array {
  const A = anchorBoxes.length / 4;
  const G = gtBoxes.length / 4;
  const match = new Int32Array(A).fill(-1);
  if (G === 0) return match;
  const iou = new Float64Array(G * A);
  for (let j = 0; j < G; j++) for (let i = 0; i < A; i++) iou[j * A + i] = cornerIou(anchorBoxes, i, gtBoxes, j);

  // Each ground truth's best default box, best overlaps first.
  const done = new Uint8Array(G);
  for (let round = 0; round < G; round++) {
    let best = 0,
      bi = -1,
      bj = -1;
    for (let j = 0; j < G; j++) {
      if (done[j]) continue;
      for (let i = 0; i < A; i++) {
        const v = iou[j * A + i]!;
        if (v > best && match[i] === -1) {
          best = v;
          bi = i;
          bj = j;
        }
      }
    }
    if (bj < 0) break; // the rest overlap no free default box
    match[bi] = bj;
    done[bj] = 1;
  }

  // Every free default box whose best overlap exceeds the threshold.
  for (let i = 0; i < A; i++) {
    if (match[i] !== -1) continue;
    let best = threshold,
      bj = -1;
    for (let j = 0; j < G; j++) {
      if (iou[j * A + i]! > best) {
        best = iou[j * A + i]!;
        bj = j;
      }
    }
    match[i] = bj;
  }
  return match;
}
