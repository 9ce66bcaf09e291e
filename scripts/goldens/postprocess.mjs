// Reference SSD post-processing for the goldens, in plain JS and independent of the product code (src/):
// MediaPipe's anchors (SsdAnchorsCalculator options as compiled into @mediapipe/objectron, see
// ../shared/docs/models.md, or as its face_detection graphs set them), box decoding (TensorsToDetections),
// greedy non-max suppression and MediaPipe's weighted non-max suppression (NonMaxSuppressionCalculator,
// algorithm WEIGHTED), written after MediaPipe's C++ loops.

/** MediaPipe SSD anchors as [yc, xc, h, w] rows, order layer, y, x, anchor. */
export function mediapipeSsdAnchors({
  numLayers = 6,
  minScale = 0.2,
  maxScale = 0.95,
  inputHeight = 300,
  inputWidth = 300,
  offset = 0.5,
  strides = [16, 32, 64, 128, 256, 512],
  aspectRatios = [1.0, 2.0, 0.5, 3.0, 0.3333],
  reduceBoxesInLowestLayer = true,
  interpolatedScaleAspectRatio = 1.0,
  fixedAnchorSize = false,
} = {}) {
  const scale = (i) =>
    numLayers === 1 ? (minScale + maxScale) / 2 : minScale + ((maxScale - minScale) * i) / (numLayers - 1);
  const rows = [];
  const pending = [];
  for (let layer = 0; layer < numLayers; layer++) {
    const shapes = []; // [h, w]
    if (layer === 0 && reduceBoxesInLowestLayer) {
      for (const [s, ar] of [
        [0.1, 1.0],
        [scale(layer), 2.0],
        [scale(layer), 0.5],
      ])
        shapes.push([s / Math.sqrt(ar), s * Math.sqrt(ar)]);
    } else {
      for (const ar of aspectRatios) shapes.push([scale(layer) / Math.sqrt(ar), scale(layer) * Math.sqrt(ar)]);
      if (interpolatedScaleAspectRatio > 0) {
        const next = layer === numLayers - 1 ? 1.0 : scale(layer + 1);
        const s = Math.sqrt(scale(layer) * next);
        const ar = interpolatedScaleAspectRatio;
        shapes.push([s / Math.sqrt(ar), s * Math.sqrt(ar)]);
      }
    }
    // Consecutive layers of one stride share a grid: MediaPipe gives each cell all their shapes at once.
    if (layer + 1 < numLayers && strides[layer + 1] === strides[layer]) {
      pending.push(...shapes);
      continue;
    }
    shapes.unshift(...pending.splice(0));
    const fh = Math.ceil(inputHeight / strides[layer]);
    const fw = Math.ceil(inputWidth / strides[layer]);
    for (let y = 0; y < fh; y++)
      for (let x = 0; x < fw; x++)
        for (const [h, w] of shapes)
          rows.push([(y + offset) / fh, (x + offset) / fw, ...(fixedAnchorSize ? [1, 1] : [h, w])]);
  }
  return rows;
}

/** Decodes (ty, tx, th, tw) against (yc, xc, h, w) anchors with scales 10, 10, 5, 5 to (ymin, xmin, ymax, xmax). */
export function decodeBox(enc, i, anchor, scales = { y: 10, x: 10, h: 5, w: 5 }) {
  const [ya, xa, ha, wa] = anchor;
  const yc = (enc[4 * i] / scales.y) * ha + ya;
  const xc = (enc[4 * i + 1] / scales.x) * wa + xa;
  const h = Math.exp(enc[4 * i + 2] / scales.h) * ha;
  const w = Math.exp(enc[4 * i + 3] / scales.w) * wa;
  return { ymin: yc - h / 2, xmin: xc - w / 2, ymax: yc + h / 2, xmax: xc + w / 2 };
}

export function iou(a, b) {
  const areaA = (a.ymax - a.ymin) * (a.xmax - a.xmin);
  const areaB = (b.ymax - b.ymin) * (b.xmax - b.xmin);
  if (areaA <= 0 || areaB <= 0) return 0;
  const ih = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const iw = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const inter = ih * iw;
  return inter / (areaA + areaB - inter);
}

/** Greedy NMS: candidates by descending score (ties by anchor index); drop any with IoU > threshold to a kept one. */
export function greedyNms(cands, iouThreshold, maxDetections) {
  const sorted = [...cands].sort((a, b) => b.score - a.score || a.anchor - b.anchor);
  const kept = [];
  for (const c of sorted) {
    if (kept.length >= maxDetections) break;
    if (kept.every((k) => iou(k.box, c.box) <= iouThreshold)) kept.push(c);
  }
  return kept;
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

/**
 * MediaPipe's pipeline for the Open Images model: score = max sigmoid over classes 1..C-1 (column 0 is the
 * background), keep score >= scoreThreshold, class-agnostic greedy NMS, at most maxDetections.
 */
export function mediapipeDetections(
  boxEnc,
  logits,
  numClasses,
  anchors,
  labels,
  { scoreThreshold = 0.5, iouThreshold = 0.5, maxDetections = 100 } = {},
) {
  const cands = [];
  for (let i = 0; i < anchors.length; i++) {
    let best = -Infinity;
    let cls = -1;
    for (let c = 1; c < numClasses; c++) {
      const s = sigmoid(logits[i * numClasses + c]);
      if (s > best) {
        best = s;
        cls = c;
      }
    }
    if (best >= scoreThreshold)
      cands.push({
        anchor: i,
        classIndex: cls,
        label: labels[cls],
        score: best,
        box: decodeBox(boxEnc, i, anchors[i]),
      });
  }
  return greedyNms(cands, iouThreshold, maxDetections);
}

/**
 * MediaPipe's face detection post-processing (mediapipe/modules/face_detection/face_detection.pbtxt):
 * TensorsToDetections with reverse_output_order (x, y, w, h), linear sizes (no exp), scales = input size,
 * 6 keypoints (x, y) from column 4, sigmoid of the logit clipped to +-100, keep score >= minScore, drop
 * boxes of negative size; then NonMaxSuppression WEIGHTED at IoU 0.3. Boxes and keypoints normalized to the
 * model input (the letterboxed canvas).
 */
export function blazefaceDetections(raw, logits, anchors, { scale, minScore, numKeypoints = 6, iouThreshold = 0.3 }) {
  const coords = raw.length / anchors.length;
  const found = [];
  for (let i = 0; i < anchors.length; i++) {
    const [ya, xa, ha, wa] = anchors[i];
    const l = Math.min(100, Math.max(-100, logits[i]));
    const score = 1 / (1 + Math.exp(-l));
    if (score < minScore) continue;
    const r = (j) => raw[i * coords + j];
    const xc = (r(0) / scale) * wa + xa;
    const yc = (r(1) / scale) * ha + ya;
    const w = (r(2) / scale) * wa;
    const h = (r(3) / scale) * ha;
    if (!(w >= 0 && h >= 0)) continue;
    const keypoints = [];
    for (let k = 0; k < numKeypoints; k++)
      keypoints.push({ x: (r(4 + 2 * k) / scale) * wa + xa, y: (r(5 + 2 * k) / scale) * ha + ya });
    found.push({
      anchor: i,
      score,
      box: { ymin: yc - h / 2, xmin: xc - w / 2, ymax: yc + h / 2, xmax: xc + w / 2 },
      keypoints,
    });
  }
  return weightedNms(found, iouThreshold);
}

/**
 * NonMaxSuppressionCalculator's WeightedNonMaxSuppression: take the best remaining detection; every remaining
 * one overlapping it by IoU > threshold (itself included) is removed and averaged into it, weighted by score
 * (box corners and keypoints; the score stays the best one's); stop when nothing was removed. Ties in score
 * are taken in anchor order (MediaPipe's std::sort leaves them unspecified).
 */
export function weightedNms(detections, iouThreshold) {
  let remaining = [...detections].sort((a, b) => b.score - a.score || a.anchor - b.anchor);
  const out = [];
  while (remaining.length) {
    const top = remaining[0];
    const cluster = [];
    const rest = [];
    for (const d of remaining) (iou(d.box, top.box) > iouThreshold ? cluster : rest).push(d);
    let kept = top;
    if (cluster.length) {
      const total = cluster.reduce((s, d) => s + d.score, 0);
      const mean = (f) => cluster.reduce((s, d) => s + f(d) * d.score, 0) / total;
      kept = {
        ...top,
        box: {
          ymin: mean((d) => d.box.ymin),
          xmin: mean((d) => d.box.xmin),
          ymax: mean((d) => d.box.ymax),
          xmax: mean((d) => d.box.xmax),
        },
        keypoints: top.keypoints.map((_, k) => ({
          x: mean((d) => d.keypoints[k].x),
          y: mean((d) => d.keypoints[k].y),
        })),
        clusterSize: cluster.length,
      };
    }
    out.push(kept);
    if (rest.length === remaining.length) break;
    remaining = rest;
  }
  return out;
}
