/**
 * Inputs for SSD head tests. The GPU computes in float32 and the reference in float64, so a case
 * only tests the algorithm if no decision sits within rounding of an edge: scores come from a
 * palette whose distinct values are at least `gap` apart (many exact ties, some near ones),
 * boxes from a palette of clustered boxes, and thresholds are moved to the middle of a gap.
 */
import { iou, rowScores } from '../../src/ssd/head_ref.ts';
import type { HeadSpec } from '../../src/ssd/head_types.ts';

export const SCALES = { y: 10, x: 10, h: 5, w: 5 };

type Box = [number, number, number, number];

/** Deterministic uniform numbers in [0, 1) (mulberry32, as randomFloats, one value at a time). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random anchors (yc, xc, h, w) inside the unit square. */
export function randomAnchors(count: number, rand: () => number): Float32Array {
  const a = new Float32Array(count * 4);
  for (let i = 0; i < count; i++)
    a.set([0.1 + 0.8 * rand(), 0.1 + 0.8 * rand(), 0.05 + 0.5 * rand(), 0.05 + 0.5 * rand()], i * 4);
  return a;
}

/** The raw encoding (ty, tx, th, tw) that decodes to `box` from `anchor` (yc, xc, h, w). */
export function encodeBox(
  box: readonly number[],
  anchor: ArrayLike<number>,
  s = SCALES,
): [number, number, number, number] {
  const [ymin, xmin, ymax, xmax] = box as Box;
  const [ya, xa, ha, wa] = [anchor[0]!, anchor[1]!, anchor[2]!, anchor[3]!];
  return [
    (((ymin + ymax) / 2 - ya) / ha) * s.y,
    (((xmin + xmax) / 2 - xa) / wa) * s.x,
    Math.log((ymax - ymin) / ha) * s.h,
    Math.log((xmax - xmin) / wa) * s.w,
  ];
}

/** Boxes jittered around a few centres, so IoUs spread over (0, 1) and suppression is common. */
function boxPalette(size: number, rand: () => number): Box[] {
  const centres = Array.from({ length: Math.max(1, Math.round(size / 8)) }, () => [
    0.2 + 0.6 * rand(),
    0.2 + 0.6 * rand(),
    0.1 + 0.3 * rand(),
    0.1 + 0.3 * rand(),
  ]);
  return Array.from({ length: size }, (_, i) => {
    const [yc, xc, h, w] = centres[i % centres.length]!;
    const j = (v: number, r: number) => v + (rand() - 0.5) * r;
    const hh = j(h!, 0.15),
      ww = j(w!, 0.15),
      y = j(yc!, 0.15),
      x = j(xc!, 0.15);
    return [y - hh / 2, x - ww / 2, y + hh / 2, x + ww / 2];
  });
}

/** Sorted distinct values; throws when two of them are closer than `gap`. */
function checkedDistinct(values: number[], gap: number, what: string): number[] {
  const d = [...new Set(values)].sort((a, b) => a - b);
  for (let i = 1; i < d.length; i++)
    if (d[i]! - d[i - 1]! < gap) throw new Error(`${what}: ${d[i - 1]} and ${d[i]} closer than ${gap}`);
  return d;
}

/** Moves `want` to the middle of the widest gap between distinct `values` within +-window. */
export function safeThreshold(want: number, values: readonly number[], window = 0.05): number {
  const pts = [...values.filter((v) => Math.abs(v - want) < window), want - window, want + window].sort(
    (a, b) => a - b,
  );
  let best = want;
  let width = -1;
  for (let i = 1; i < pts.length; i++) {
    const g = pts[i]! - pts[i - 1]!;
    if (g > width) [width, best] = [g, (pts[i]! + pts[i - 1]!) / 2];
  }
  return Math.min(1, Math.max(0, best));
}

export interface HeadCase {
  batch: number;
  numAnchors: number;
  numClasses: number;
  anchors: Float32Array;
  /** [N, A, 4] and [N, A, C]. */
  boxes: Float32Array;
  logits: Float32Array;
  spec: HeadSpec;
  /** Every distinct score and every IoU between palette boxes the case can produce. */
  scores: number[];
  ious: number[];
}

export interface CaseShape {
  batch: number;
  numAnchors: number;
  numClasses: number;
  scoreFunction: HeadSpec['scoreFunction'];
  backgroundClass?: number;
  seed: number;
}

/**
 * Sigmoid: logits on a 1/512 grid, half of them from a few values (ties); softmax: every
 * anchor's row is one of a few palette rows with one or two peaks; probability: scores on a 1/256 grid.
 */
export function makeCase(shape: CaseShape): HeadCase {
  const { batch: n, numAnchors: a, numClasses: c } = shape;
  const rand = rng(shape.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const spec: HeadSpec = {
    scales: SCALES,
    scoreFunction: shape.scoreFunction,
    backgroundClass: shape.backgroundClass ?? 0,
  };
  const anchors = randomAnchors(a, rand);
  const palette = boxPalette(48, rand);
  const boxes = new Float32Array(n * a * 4);
  for (let i = 0; i < n * a; i++)
    boxes.set(encodeBox(pick(palette), anchors.subarray((i % a) * 4, (i % a) * 4 + 4)), i * 4);
  const ious = palette.flatMap((p, i) => palette.slice(i + 1).map((q) => iou(p, q)));

  const logits = new Float32Array(n * a * c);
  let scores: number[];
  if (shape.scoreFunction === 'probability') {
    // Dequantized uint8 scores (an integer network's): multiples of 1/256, many exact ties.
    scores = Array.from({ length: 256 }, (_, i) => i / 256);
    for (let i = 0; i < logits.length; i++) logits[i] = pick(scores);
  } else if (shape.scoreFunction === 'sigmoid') {
    // Half the logits from a few values on a 1/8 grid (exact ties), half anywhere on a 1/512 grid
    // in [-6, 6] (neighbours' sigmoids differ by >= 4.8e-6: near ties the GPU still resolves).
    const grid = Array.from({ length: 6145 }, (_, i) => (i - 3072) / 512);
    const few = Array.from({ length: 24 }, () => Math.round((rand() * 12 - 6) * 8) / 8);
    scores = checkedDistinct(
      grid.map((v) => 1 / (1 + Math.exp(-v))),
      1e-6,
      'sigmoid palette',
    );
    for (let i = 0; i < logits.length; i++) logits[i] = rand() < 0.5 ? pick(few) : pick(grid);
  } else {
    // Equal scores from different rows could round differently on the GPU (other summation
    // order), so a new row must keep its scores 1e-5 away from every other row's.
    const rows: Float32Array[] = [];
    let all: number[] = [];
    while (rows.length < 16) {
      const row = Float32Array.from({ length: c }, () => Math.round((rand() * 8 - 4) * 8) / 8);
      for (let p = 0; p < 1 + Math.floor(rand() * 2); p++)
        row[Math.floor(rand() * c)] = 2 + Math.round(rand() * 32) / 8;
      const mine = rowScores(row, 0, c, 'softmax');
      const relevant = mine.filter((v) => v >= 1e-3);
      if (relevant.some((v) => all.some((u) => Math.abs(u - v) < 1e-5))) continue;
      try {
        checkedDistinct(relevant, 1e-5, 'softmax row');
      } catch {
        continue;
      }
      rows.push(row);
      all = [...all, ...mine];
    }
    scores = [...new Set(all)].sort((x, y) => x - y);
    for (let i = 0; i < n * a; i++) logits.set(pick(rows), i * c);
  }
  return { batch: n, numAnchors: a, numClasses: c, anchors, boxes, logits, spec, scores, ious };
}

/** Image `i` of a batched case, as the reference takes it. */
export function imageOf(k: HeadCase, i: number): { boxes: Float32Array; logits: Float32Array } {
  const a = k.numAnchors;
  return {
    boxes: k.boxes.subarray(i * a * 4, (i + 1) * a * 4),
    logits: k.logits.subarray(i * a * k.numClasses, (i + 1) * a * k.numClasses),
  };
}

export interface Scene {
  boxes: Float32Array;
  logits: Float32Array;
  anchors: Float32Array;
  numClasses: number;
}

/**
 * A hand-made image: each row's anchor is its box and its raw encoding is zero, so the box
 * decodes exactly (exp(0) = 1; pick dyadic coordinates) and IoUs are exact fractions.
 */
export function scene(rows: { box: [number, number, number, number]; logits: number[] }[]): Scene {
  const anchors = new Float32Array(rows.length * 4);
  rows.forEach((r, i) => {
    const [ymin, xmin, ymax, xmax] = r.box;
    anchors.set([(ymin + ymax) / 2, (xmin + xmax) / 2, ymax - ymin, xmax - xmin], i * 4);
  });
  return {
    boxes: new Float32Array(rows.length * 4),
    logits: Float32Array.from(rows.flatMap((r) => r.logits)),
    anchors,
    numClasses: rows[0]!.logits.length,
  };
}
