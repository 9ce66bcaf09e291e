/**
 * COCO detection metrics as pycocotools' COCOeval computes them for bounding boxes: AP averaged over
 * IoU 0.50:0.05:0.95 and over classes, AP50, AP75 and AP for small / medium / large objects, each from
 * 101-point interpolated precision with at most `maxDetections` per image and class.
 *
 * Ground truths are "ignored" when crowd, flagged `ignore` (we pass VOC's difficult objects this way),
 * or outside the area range. A detection matched to an ignored ground truth is ignored (neither TP nor
 * FP); a crowd region may absorb any number of detections and its IoU is intersection / detection area.
 * Unmatched detections outside the area range are ignored too. Metrics with nothing to average are NaN
 * (pycocotools prints -1).
 */
import type { Box } from '../detect_types.ts';
import type { ScoredBox } from './voc_ap.ts';

export interface CocoReferenceBox {
  imageId: string;
  box: Box;
  iscrowd?: boolean;
  ignore?: boolean;
  /** Area for the small/medium/large split; default width * height. */
  area?: number;
}

export interface CocoClassInput {
  groundTruths: readonly CocoReferenceBox[];
  detections: readonly ScoredBox[];
}

export interface CocoMetrics {
  /** AP averaged over IoU 0.50, 0.55, ..., 0.95. */
  ap: number;
  ap50: number;
  ap75: number;
  apSmall: number;
  apMedium: number;
  apLarge: number;
}

export interface CocoClassMetrics {
  ap: number;
  ap50: number;
  ap75: number;
}

export interface CocoResult extends CocoMetrics {
  perClass: Map<string, CocoClassMetrics>;
}

// Spelled as numpy.linspace computes them, so thresholds and recall levels equal pycocotools' bit for bit:
// 0.5 + i * 0.05 (0.8999999999999999 for 0.9) and i * 0.01 (0.35000000000000003 for 0.35, so a recall of exactly
// 0.35 does not reach that level there either).
const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => (i === 9 ? 0.95 : i * ((0.95 - 0.5) / 9) + 0.5));
const RECALL_LEVELS = Array.from({ length: 101 }, (_, i) => (i === 100 ? 1 : i * 0.01));
const AREA_RANGES = {
  all: [0, 1e10],
  small: [0, 32 ** 2],
  medium: [32 ** 2, 96 ** 2],
  large: [96 ** 2, 1e10],
} as const;
type AreaRange = keyof typeof AREA_RANGES;

/**
 * `imageIds` fixes the order in which images are concatenated, which breaks score ties across images
 * (pycocotools uses sorted image ids).
 */
export function cocoEvaluate(
  classes: ReadonlyMap<string, CocoClassInput>,
  imageIds: readonly string[],
  options: { maxDetections?: number } = {},
): CocoResult {
  const maxDets = options.maxDetections ?? 100;
  const perClass = new Map<string, CocoClassMetrics>();
  const byRange: Record<AreaRange, number[][]> = { all: [], small: [], medium: [], large: [] };
  for (const [name, input] of classes) {
    const grouped = groupByImage(input);
    for (const range of Object.keys(AREA_RANGES) as AreaRange[]) {
      const precision = classPrecision(grouped, imageIds, AREA_RANGES[range], maxDets);
      if (!precision) continue;
      const perThreshold = precision.map(mean);
      byRange[range].push(perThreshold);
      if (range === 'all')
        perClass.set(name, { ap: mean(perThreshold), ap50: perThreshold[0]!, ap75: perThreshold[5]! });
    }
    if (!perClass.has(name)) perClass.set(name, { ap: NaN, ap50: NaN, ap75: NaN });
  }
  const over = (rows: number[][], pick: (r: number[]) => number) => mean(rows.map(pick));
  return {
    ap: over(byRange.all, mean),
    ap50: over(byRange.all, (r) => r[0]!),
    ap75: over(byRange.all, (r) => r[5]!),
    apSmall: over(byRange.small, mean),
    apMedium: over(byRange.medium, mean),
    apLarge: over(byRange.large, mean),
    perClass,
  };
}

interface ImageBoxes {
  groundTruths: CocoReferenceBox[];
  detections: ScoredBox[];
}

function groupByImage(input: CocoClassInput): Map<string, ImageBoxes> {
  const images = new Map<string, ImageBoxes>();
  const entry = (id: string) => images.get(id) ?? images.set(id, { groundTruths: [], detections: [] }).get(id)!;
  for (const g of input.groundTruths) entry(g.imageId).groundTruths.push(g);
  for (const d of input.detections) entry(d.imageId).detections.push(d);
  return images;
}

/** Matched / ignored flags of one image's kept detections at every IoU threshold. */
interface ImageMatches {
  scores: number[];
  matched: boolean[][];
  ignored: boolean[][];
  positives: number;
}

/** Interpolated precision [threshold][recall level] of one class in one area range; undefined without counted ground truth. */
function classPrecision(
  images: Map<string, ImageBoxes>,
  imageIds: readonly string[],
  range: readonly [number, number],
  maxDets: number,
): number[][] | undefined {
  const perImage: ImageMatches[] = [];
  let positives = 0;
  for (const id of imageIds) {
    const boxes = images.get(id);
    if (!boxes) continue;
    const m = matchImage(boxes, range, maxDets);
    positives += m.positives;
    perImage.push(m);
  }
  if (positives === 0) return undefined;
  const scores = perImage.flatMap((m) => m.scores);
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return IOU_THRESHOLDS.map((_, t) => {
    const matched = perImage.flatMap((m) => m.matched[t]!);
    const ignored = perImage.flatMap((m) => m.ignored[t]!);
    const recall: number[] = [];
    const precision: number[] = [];
    let tp = 0;
    let fp = 0;
    for (const k of order) {
      // An ignored detection keeps its place in the ranking but changes no count, as in pycocotools.
      if (!ignored[k]) {
        if (matched[k]) tp++;
        else fp++;
      }
      recall.push(tp / positives);
      precision.push(tp + fp ? tp / (tp + fp) : 0);
    }
    for (let i = precision.length - 2; i >= 0; i--) precision[i] = Math.max(precision[i]!, precision[i + 1]!);
    // First point whose recall reaches each level (numpy searchsorted, side 'left'); none reached: 0.
    const q: number[] = [];
    let p = 0;
    for (const level of RECALL_LEVELS) {
      while (p < recall.length && recall[p]! < level) p++;
      q.push(p < recall.length ? precision[p]! : 0);
    }
    return q;
  });
}

function matchImage(boxes: ImageBoxes, [lo, hi]: readonly [number, number], maxDets: number): ImageMatches {
  const area = (g: CocoReferenceBox) => g.area ?? g.box.width * g.box.height;
  const gtIgnored = (g: CocoReferenceBox) => !!g.iscrowd || !!g.ignore || area(g) < lo || area(g) > hi;
  // Counted ground truths first: once a detection holds one, it does not move to an ignored one.
  const gts = boxes.groundTruths
    .map((g) => ({ g, ignored: gtIgnored(g) }))
    .sort((a, b) => Number(a.ignored) - Number(b.ignored));
  const dets = boxes.detections
    .map((d, i) => ({ d, i }))
    .sort((a, b) => b.d.score - a.d.score || a.i - b.i)
    .slice(0, maxDets)
    .map((x) => x.d);
  const overlaps = dets.map((d) => gts.map(({ g }) => cocoIou(d.box, g.box, !!g.iscrowd)));
  const matched: boolean[][] = [];
  const ignored: boolean[][] = [];
  for (const threshold of IOU_THRESHOLDS) {
    const taken = gts.map(() => false);
    const dMatched = dets.map(() => false);
    const dIgnored = dets.map(() => false);
    dets.forEach((d, di) => {
      let best = Math.min(threshold, 1 - 1e-10);
      let m = -1;
      for (let gi = 0; gi < gts.length; gi++) {
        if (taken[gi] && !gts[gi]!.g.iscrowd) continue;
        if (m > -1 && !gts[m]!.ignored && gts[gi]!.ignored) break;
        if (overlaps[di]![gi]! < best) continue;
        best = overlaps[di]![gi]!;
        m = gi;
      }
      if (m > -1) {
        dMatched[di] = true;
        dIgnored[di] = gts[m]!.ignored;
        taken[m] = true;
      } else {
        const a = d.box.width * d.box.height;
        dIgnored[di] = a < lo || a > hi;
      }
    });
    matched.push(dMatched);
    ignored.push(dIgnored);
  }
  return { scores: dets.map((d) => d.score), matched, ignored, positives: gts.filter((g) => !g.ignored).length };
}

/** pycocotools' box IoU; for a crowd region the union is the detection's own area. */
function cocoIou(d: Box, g: Box, crowd: boolean): number {
  const iw = Math.min(d.x + d.width, g.x + g.width) - Math.max(d.x, g.x);
  const ih = Math.min(d.y + d.height, g.y + g.height) - Math.max(d.y, g.y);
  if (iw <= 0 || ih <= 0) return 0;
  const inter = iw * ih;
  const dArea = d.width * d.height;
  return inter / (crowd ? dArea : dArea + g.width * g.height - inter);
}

function mean(values: readonly number[]): number {
  return values.length ? values.reduce((s, v) => s + v, 0) / values.length : NaN;
}
