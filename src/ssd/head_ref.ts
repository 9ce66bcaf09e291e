/**
 * CPU reference of the SSD post-processing for one image, in float64: decode, score, threshold,
 * top-k, greedy NMS, final cut. It defines the semantics the GPU head must reproduce, ties included:
 * candidates are ordered by score (desc), then anchor (asc), then class (asc).
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

/** Scores of one anchor's row of logits: sigmoid per column, softmax over all columns, or the row itself. */
export function rowScores(
  logits: ArrayLike<number>,
  a: number,
  numClasses: number,
  fn: HeadSpec['scoreFunction'],
): number[] {
  const row = Array.from({ length: numClasses }, (_, c) => logits[a * numClasses + c]!);
  if (fn === 'sigmoid') return row.map((l) => 1 / (1 + Math.exp(-l)));
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
 * boxes [A, 4] raw (ty, tx, th, tw), logits [A, C], anchors [A, 4] (yc, xc, h, w).
 * Returns the kept detections, highest score first.
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
  for (let a = 0; a < numAnchors; a++) {
    const scores = rowScores(logits, a, numClasses, cfg.spec.scoreFunction);
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

  const kept: { c: Candidate; box: Box }[] = [];
  for (const c of candidates.slice(0, cfg.candidateCap)) {
    if (kept.length >= opts.maxDetections) break;
    const box = decodeBox(boxes, anchors, c.anchor, cfg.spec.scales);
    const suppressed = kept.some(
      (k) => (!opts.perClassNms || k.c.classId === c.classId) && iou(k.box, box) > opts.iouThreshold,
    );
    if (!suppressed) kept.push({ c, box });
  }
  return kept.map(({ c, box }) => ({
    ymin: box[0],
    xmin: box[1],
    ymax: box[2],
    xmax: box[3],
    score: c.score,
    classId: c.classId,
    anchor: c.anchor,
  }));
}
