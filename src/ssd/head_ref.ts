/**
 * CPU reference of the SSD post-processing for one image, in float64: decode, score, threshold,
 * top-k, greedy NMS, final cut, and optionally MediaPipe's weighted NMS. It defines the semantics the
 * GPU head must reproduce, ties included: candidates are ordered by score (desc), then anchor (asc),
 * then class (asc).
 */
import {
  reportableClasses,
  validateHeadOptions,
  type HeadDetection,
  type HeadOptions,
  type HeadSpec,
} from './head_types.ts';

export interface HeadRefConfig {
  spec: HeadSpec;
  /** Most candidates that enter NMS (the top-k by the order above). */
  candidateCap: number;
  labels?: readonly string[];
}

/** Row `a` of raw encodings (ty, tx, th, tw) against anchor (yc, xc, h, w) -> [ymin, xmin, ymax, xmax]. */
export function decodeBox(
  boxes: ArrayLike<number>,
  anchors: ArrayLike<number>,
  a: number,
  scales: HeadSpec['scales'],
): [number, number, number, number] {
  const [ty, tx, th, tw] = [boxes[4 * a]!, boxes[4 * a + 1]!, boxes[4 * a + 2]!, boxes[4 * a + 3]!];
  const [ya, xa, ha, wa] = [anchors[4 * a]!, anchors[4 * a + 1]!, anchors[4 * a + 2]!, anchors[4 * a + 3]!];
  const yc = (ty / scales.y) * ha + ya;
  const xc = (tx / scales.x) * wa + xa;
  const h = Math.exp(th / scales.h) * ha;
  const w = Math.exp(tw / scales.w) * wa;
  return [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2];
}

/** A decoded row: the box (ymin, xmin, ymax, xmax), its keypoints (x, y, ...), and whether it is a box at all. */
export interface DecodedRow {
  box: [number, number, number, number];
  keypoints: number[];
  /** False when linear sizes came out negative or NaN: MediaPipe drops such rows before NMS. */
  valid: boolean;
}

/** Row `a` of the boxes output decoded as the spec says (ssd.decoding; absent: decodeBox). */
export function decodeRow(
  boxes: ArrayLike<number>,
  anchors: ArrayLike<number>,
  a: number,
  spec: Pick<HeadSpec, 'scales' | 'decoding'>,
): DecodedRow {
  const d = spec.decoding;
  if (!d) return { box: decodeBox(boxes, anchors, a, spec.scales), keypoints: [], valid: true };
  const v = (j: number) => boxes[a * d.numCoords + j]!;
  const o = d.boxOffset;
  const xy = d.order === 'xywh';
  const [ty, tx, th, tw] = xy ? [v(o + 1), v(o), v(o + 3), v(o + 2)] : [v(o), v(o + 1), v(o + 2), v(o + 3)];
  const [ya, xa, ha, wa] = [anchors[4 * a]!, anchors[4 * a + 1]!, anchors[4 * a + 2]!, anchors[4 * a + 3]!];
  const s = spec.scales;
  const yc = (ty / s.y) * ha + ya;
  const xc = (tx / s.x) * wa + xa;
  const h = d.exponentialSize ? Math.exp(th / s.h) * ha : (th / s.h) * ha;
  const w = d.exponentialSize ? Math.exp(tw / s.w) * wa : (tw / s.w) * wa;
  const keypoints: number[] = [];
  const kp = d.keypoints;
  for (let k = 0; kp && k < kp.names.length; k++) {
    const at = kp.offset + k * kp.valuesPerKeypoint;
    const [kx, ky] = xy ? [v(at), v(at + 1)] : [v(at + 1), v(at)];
    keypoints.push((kx / s.x) * wa + xa, (ky / s.y) * ha + ya);
  }
  return {
    box: [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2],
    keypoints,
    valid: d.exponentialSize || (h >= 0 && w >= 0),
  };
}

/**
 * Scores of one anchor's row of logits: sigmoid per column (logits clamped to [-clip, clip] first when
 * clip is given), softmax over all columns, or the row itself.
 */
export function rowScores(
  logits: ArrayLike<number>,
  a: number,
  numClasses: number,
  fn: HeadSpec['scoreFunction'],
  clip?: number,
): number[] {
  const row = Array.from({ length: numClasses }, (_, c) => logits[a * numClasses + c]!);
  if (fn === 'sigmoid') {
    const c = clip ?? Infinity;
    return row.map((l) => 1 / (1 + Math.exp(-Math.min(Math.max(l, -c), c))));
  }
  if (fn === 'probability') return row.map((p) => Math.min(p, 1));
  const m = Math.max(...row);
  const e = row.map((l) => Math.exp(l - m));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

type Box = readonly [number, number, number, number];

/** Intersection over union; 0 when the union is empty. */
export function iou(a: Box, b: Box): number {
  const ih = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const iw = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = ih * iw;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

interface Candidate {
  anchor: number;
  classId: number;
  score: number;
}

const byRank = (p: Candidate, q: Candidate) => q.score - p.score || p.anchor - q.anchor || p.classId - q.classId;

/**
 * boxes [A, 4] raw (ty, tx, th, tw) or [A, numCoords] (spec.decoding), logits [A, C], anchors [A, 4]
 * (yc, xc, h, w). Returns the kept detections, highest score first.
 */
export function ssdHeadRef(
  boxes: Float32Array,
  logits: Float32Array,
  anchors: Float32Array,
  numClasses: number,
  cfg: HeadRefConfig,
  opts: HeadOptions,
): HeadDetection[] {
  validateHeadOptions(opts, numClasses, Infinity);
  const numAnchors = anchors.length / 4;
  const reportable = reportableClasses(numClasses, cfg.spec, opts.allowedClasses, cfg.labels);
  const candidates: Candidate[] = [];
  const decoded = (a: number) => decodeRow(boxes, anchors, a, cfg.spec);
  for (let a = 0; a < numAnchors; a++) {
    if (!decoded(a).valid) continue;
    const scores = rowScores(logits, a, numClasses, cfg.spec.scoreFunction, cfg.spec.decoding?.scoreClipping);
    if (opts.perClassNms) {
      scores.forEach(
        (score, classId) =>
          reportable[classId] && score >= opts.scoreThreshold && candidates.push({ anchor: a, classId, score }),
      );
    } else {
      let best: Candidate | undefined;
      scores.forEach((score, classId) => {
        // Strictly greater keeps the lower class on ties; NaN never wins.
        if (reportable[classId] && score > (best?.score ?? -1)) best = { anchor: a, classId, score };
      });
      if (best && best.score >= opts.scoreThreshold) candidates.push(best);
    }
  }
  candidates.sort(byRank);

  const considered = candidates.slice(0, cfg.candidateCap).map((c) => ({ c, ...decoded(c.anchor) }));
  const suppresses = (k: Row, c: Candidate, box: Box) =>
    (!opts.perClassNms || k.c.classId === c.classId) && iou(k.box, box) > opts.iouThreshold;
  const kept: Row[] = [];
  for (const d of considered) {
    if (kept.length >= opts.maxDetections) break;
    if (!kept.some((k) => suppresses(k, d.c, d.box))) kept.push(d);
  }
  const out = opts.nms === 'weighted' ? weighted(kept, considered, suppresses) : kept;
  return out.map(({ c, box, keypoints }) => ({
    ymin: box[0],
    xmin: box[1],
    ymax: box[2],
    xmax: box[3],
    score: c.score,
    classId: c.classId,
    anchor: c.anchor,
    ...(cfg.spec.decoding?.keypoints ? { keypoints } : {}),
  }));
}

interface Row {
  c: Candidate;
  box: Box;
  keypoints: number[];
}

/**
 * Weighted NMS over greedy NMS's result: each candidate joins the cluster of the first kept box (in score
 * order) that suppresses it, which is how MediaPipe's loop removes it; each kept box and its keypoints become
 * the score-weighted mean of their cluster (the kept box itself included). An empty cluster (a box of zero
 * area overlaps nothing, not even itself) leaves the box as it is.
 */
function weighted(kept: Row[], considered: Row[], suppresses: (k: Row, c: Candidate, box: Box) => boolean): Row[] {
  const sums = kept.map((k) => ({ total: 0, box: [0, 0, 0, 0], keypoints: k.keypoints.map(() => 0) }));
  for (const d of considered) {
    const k = kept.findIndex((k) => suppresses(k, d.c, d.box));
    if (k < 0) continue;
    const s = sums[k]!;
    s.total += d.c.score;
    d.box.forEach((v, i) => (s.box[i]! += v * d.c.score));
    d.keypoints.forEach((v, i) => (s.keypoints[i]! += v * d.c.score));
  }
  return kept.map((k, i) => {
    const s = sums[i]!;
    if (!(s.total > 0)) return k;
    const [y0, x0, y1, x1] = s.box.map((v) => v / s.total) as [number, number, number, number];
    return { c: k.c, box: [y0, x0, y1, x1], keypoints: s.keypoints.map((v) => v / s.total) };
  });
}
