/**
 * Default boxes fitted to a dataset (`mobilessd train --anchors fit`). The graph fixes how many boxes
 * each cell of each predictor feature map has, and where the cells are; only the boxes' heights and
 * widths are free. Each training box goes to the feature map whose current default shapes fit it
 * best (shape IoU, centres aligned), and each map's shapes are then k-means centroids of its boxes
 * under the IoU distance d = 1 - IoU (YOLOv2's dimension clusters), so a shape's scale sqrt(h w) and
 * aspect ratio w / h come from the data. A map with fewer boxes than shapes keeps its shapes.
 */
import type { ModelJson } from '../graph/ir.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { anchorLayers, type AnchorLayer } from '../ssd/resize_input.ts';
import { anchorCorners, cornerIou } from './match.ts';
import { withConstants } from './model_surgery.ts';
import type { GroundTruth } from './targets.ts';

/** A box's height and width, normalized to the input. */
export interface Shape {
  h: number;
  w: number;
}

/** IoU of two boxes with the same centre. */
export function shapeIou(a: Shape, b: Shape): number {
  const inter = Math.min(a.h, b.h) * Math.min(a.w, b.w);
  return inter / (a.h * a.w + b.h * b.w - inter);
}

function nearest(s: Shape, centroids: readonly Shape[]): number {
  let best = -1,
    at = 0;
  centroids.forEach((c, i) => {
    const v = shapeIou(s, c);
    if (v > best) [best, at] = [v, i];
  });
  return at;
}

/**
 * k-means under d = 1 - IoU. Deterministic: the initial centroids are the shapes at the area
 * quantiles (i + 0.5) / k; a centroid is the mean height and width of its members, and one that
 * loses every member stays where it is. Returns the centroids by increasing area.
 */
export function kmeansShapes(shapes: readonly Shape[], k: number, maxIterations = 100): Shape[] {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`kmeansShapes: k must be a positive integer, got ${k}`);
  if (shapes.length < k) throw new RangeError(`kmeansShapes: ${shapes.length} shapes for ${k} clusters`);
  const byArea = [...shapes].sort((a, b) => a.h * a.w - b.h * b.w);
  let centroids = Array.from({ length: k }, (_, i) => ({ ...byArea[Math.floor(((i + 0.5) * shapes.length) / k)]! }));
  let assignment = new Int32Array(shapes.length).fill(-1);
  for (let it = 0; it < maxIterations; it++) {
    const next = Int32Array.from(shapes, (s) => nearest(s, centroids));
    if (next.every((c, i) => c === assignment[i])) break;
    assignment = next;
    const sum = centroids.map(() => ({ h: 0, w: 0, n: 0 }));
    shapes.forEach((s, i) => {
      const c = sum[assignment[i]!]!;
      c.h += s.h;
      c.w += s.w;
      c.n++;
    });
    centroids = centroids.map((c, i) => (sum[i]!.n ? { h: sum[i]!.h / sum[i]!.n, w: sum[i]!.w / sum[i]!.n } : c));
  }
  return centroids.sort((a, b) => a.h * a.w - b.h * b.w);
}

/** The shapes of one cell of each feature map, read from an anchor table in predictor order. */
export function cellShapes(anchors: ArrayLike<number>, layers: readonly AnchorLayer[]): Shape[][] {
  const out: Shape[][] = [];
  let row = 0;
  for (const l of layers) {
    out.push(
      Array.from({ length: l.perCell }, (_, a) => ({ h: anchors[4 * (row + a) + 2]!, w: anchors[4 * (row + a) + 3]! })),
    );
    row += l.height * l.width * l.perCell;
  }
  if (4 * row !== anchors.length) throw new RangeError(`${anchors.length / 4} anchors for feature maps of ${row}`);
  return out;
}

/** The anchor table with every cell of layer l given the shapes `shapes[l]` (centres kept). */
export function withCellShapes(
  anchors: ArrayLike<number>,
  layers: readonly AnchorLayer[],
  shapes: readonly Shape[][],
): Float32Array {
  const out = Float32Array.from(anchors);
  let row = 0;
  layers.forEach((l, li) => {
    for (let cell = 0; cell < l.height * l.width; cell++)
      for (let a = 0; a < l.perCell; a++, row++) {
        out[4 * row + 2] = shapes[li]![a]!.h;
        out[4 * row + 3] = shapes[li]![a]!.w;
      }
  });
  return out;
}

/** New shapes per layer for these box shapes (see the file comment). */
export function fitCellShapes(boxes: readonly Shape[], current: readonly Shape[][]): Shape[][] {
  const flat = current.flatMap((shapes, l) => shapes.map((s) => ({ s, l })));
  const members = current.map((): Shape[] => []);
  for (const b of boxes)
    members[
      flat[
        nearest(
          b,
          flat.map((f) => f.s),
        )
      ]!.l
    ]!.push(b);
  return current.map((shapes, l) =>
    members[l]!.length >= shapes.length ? kmeansShapes(members[l]!, shapes.length) : [...shapes],
  );
}

/** Height and width of every ground-truth box. */
export function boxShapes(truths: readonly GroundTruth[]): Shape[] {
  return truths.flatMap((t) =>
    Array.from({ length: t.boxes.length / 4 }, (_, j) => ({
      h: t.boxes[4 * j + 2]! - t.boxes[4 * j]!,
      w: t.boxes[4 * j + 3]! - t.boxes[4 * j + 1]!,
    })),
  );
}

/** The fraction of ground-truth boxes whose best default box (placed, not only shaped) has IoU >= threshold. */
export function anchorCoverage(anchors: ArrayLike<number>, truths: readonly GroundTruth[], threshold = 0.5): number {
  const corners = anchorCorners(anchors);
  const A = anchors.length / 4;
  let boxes = 0,
    covered = 0;
  for (const t of truths) {
    for (let j = 0; j < t.boxes.length / 4; j++) {
      boxes++;
      let best = 0;
      for (let i = 0; i < A && best < threshold; i++) best = Math.max(best, cornerIou(corners, i, t.boxes, j));
      if (best >= threshold) covered++;
    }
  }
  return boxes ? covered / boxes : 0;
}

export interface AnchorFit {
  model: LoadedModel;
  /** Per feature map: the fitted shapes. */
  shapes: Shape[][];
  /** Fraction of the training boxes whose best default box has IoU >= 0.5, before and after. */
  before: number;
  after: number;
}

/**
 * `model` with its anchors' shapes fitted to `truths`. When the model records a grid generator, the
 * fitted shapes go into its options (cellShapes, at this input size), so a later resize regenerates them.
 */
export function fitAnchors(model: LoadedModel, truths: readonly GroundTruth[], threshold = 0.5): AnchorFit {
  const json = model.json;
  const layers = anchorLayers(json, json.shapes);
  const anchors = constData(model, json.ssd.anchors).data;
  const shapes = fitCellShapes(boxShapes(truths), cellShapes(anchors, layers));
  const fitted = withCellShapes(anchors, layers, shapes);
  const out = withConstants(model, new Map([[json.ssd.anchors, { shape: [fitted.length / 4, 4], data: fitted }]]));
  out.json.ssd.anchorGenerator = fittedGenerator(json, shapes);
  return {
    model: out,
    shapes,
    before: anchorCoverage(anchors, truths, threshold),
    after: anchorCoverage(fitted, truths, threshold),
  };
}

function fittedGenerator(json: ModelJson, shapes: Shape[][]): ModelJson['ssd']['anchorGenerator'] {
  const g = json.ssd.anchorGenerator;
  if (g?.kind !== 'grid') return undefined;
  const { featureMapSizes: _, ...options } = g.options;
  return {
    kind: 'grid',
    options: {
      ...options,
      inputHeight: json.preprocess.height,
      inputWidth: json.preprocess.width,
      cellShapes: shapes.map((s) => ({ h: s.map((x) => x.h), w: s.map((x) => x.w) })),
    },
  };
}
