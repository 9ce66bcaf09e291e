/**
 * The SSD head with MediaPipe's row layouts (x, y, w, h then keypoints, linear sizes: BlazeFace's) and weighted
 * NMS: the GPU head against its CPU reference (ssd/head_ref.ts) on random scenes, the CPU reference against an
 * independent one written after MediaPipe's C++ loop (scripts/goldens/postprocess.mjs), and a scene small
 * enough to work out by hand. Scores and boxes come from palettes with gaps, and the IoU threshold sits in the
 * middle of a gap, so no decision hangs on float32 rounding.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { encodeDispatches, type Dispatch } from '../src/gpu/dispatch.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import type { SsdDecoding } from '../src/graph/ir.ts';
import { SsdHead, parseDetections } from '../src/ssd/head.ts';
import { iou, ssdHeadRef } from '../src/ssd/head_ref.ts';
import type { HeadDetection, HeadOptions, HeadSpec } from '../src/ssd/head_types.ts';
import { blazefaceDetections } from '../scripts/goldens/postprocess.mjs';
import { gpu, releaseGpu, storage } from './support/gpu.ts';
import { rng, safeThreshold } from './support/ssd_cases.ts';

after(releaseGpu);

const SCALE = 128;
const KEYPOINTS = 6;
const DECODING: SsdDecoding = {
  numCoords: 4 + 2 * KEYPOINTS,
  boxOffset: 0,
  order: 'xywh',
  exponentialSize: false,
  scoreClipping: 100,
  keypoints: { offset: 4, valuesPerKeypoint: 2, names: ['a', 'b', 'c', 'd', 'e', 'f'] },
};
const SPEC: HeadSpec = {
  scales: { y: SCALE, x: SCALE, h: SCALE, w: SCALE },
  scoreFunction: 'sigmoid',
  backgroundClass: -1,
  decoding: DECODING,
};

interface Scene {
  numAnchors: number;
  numClasses: number;
  /** [A, 4] (yc, xc, h, w): BlazeFace's grid centres with fixed size 1. */
  anchors: Float32Array;
  /** [N, A, 16] raw rows; [N, A, C] logits. */
  raw: Float32Array;
  logits: Float32Array;
  ious: number[];
}

/**
 * Faces: a few centres, each anchor near one of them regressing a jittered box of a palette plus keypoints;
 * logits on a 1/64 grid in [-4, 4]. One row in 17 has a negative width (MediaPipe drops it, whatever its score).
 */
function scene(batch: number, numAnchors: number, numClasses: number, seed: number): Scene {
  const rand = rng(seed);
  const side = Math.ceil(Math.sqrt(numAnchors));
  const anchors = new Float32Array(numAnchors * 4);
  for (let a = 0; a < numAnchors; a++)
    anchors.set([(Math.floor(a / side) + 0.5) / side, ((a % side) + 0.5) / side, 1, 1], a * 4);
  const palette = Array.from({ length: 40 }, (_, i) => {
    const c = [0.25 + (i % 4) * 0.15, 0.3 + Math.floor(i / 10) * 0.12];
    const [h, w] = [0.12 + 0.1 * rand(), 0.12 + 0.1 * rand()];
    const [y, x] = [c[0]! + (rand() - 0.5) * 0.06, c[1]! + (rand() - 0.5) * 0.06];
    return [y - h / 2, x - w / 2, y + h / 2, x + w / 2] as const;
  });
  const raw = new Float32Array(batch * numAnchors * DECODING.numCoords);
  const logits = new Float32Array(batch * numAnchors * numClasses);
  for (let r = 0; r < batch * numAnchors; r++) {
    const a = r % numAnchors;
    const [ya, xa] = [anchors[4 * a]!, anchors[4 * a + 1]!];
    const [y0, x0, y1, x1] = palette[Math.floor(rand() * palette.length)]!;
    const w = r % 17 === 5 ? -(x1 - x0) : x1 - x0;
    const row = [((x0 + x1) / 2 - xa) * SCALE, ((y0 + y1) / 2 - ya) * SCALE, w * SCALE, (y1 - y0) * SCALE];
    for (let k = 0; k < KEYPOINTS; k++)
      row.push((x0 + (x1 - x0) * rand() - xa) * SCALE, (y0 + (y1 - y0) * rand() - ya) * SCALE);
    raw.set(row, r * DECODING.numCoords);
    for (let c = 0; c < numClasses; c++) logits[r * numClasses + c] = Math.round((rand() * 8 - 4) * 64) / 64;
  }
  const ious = palette.flatMap((p, i) => palette.slice(i + 1).map((q) => iou(p, q)));
  return { numAnchors, numClasses, anchors, raw, logits, ious };
}

async function execute(ctx: GpuContext, list: readonly Dispatch[], head: SsdHead): Promise<ArrayBuffer> {
  await ctx.checked('ssd head', () => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, list);
    pass.end();
    ctx.queue.submit([enc.finish()]);
  });
  return ctx.readBuffer(head.output, 0, head.outputBytes);
}

/** Runs the GPU head once per options set on one head (options are per call), images in a batch. */
async function runGpu(s: Scene, batch: number, cap: number, options: HeadOptions[]): Promise<HeadDetection[][][]> {
  const ctx = await gpu();
  const head = await SsdHead.create(ctx, {
    batch,
    numAnchors: s.numAnchors,
    numClasses: s.numClasses,
    anchors: s.anchors,
    spec: SPEC,
    maxDetectionsCap: cap,
    candidateCap: 1024,
  });
  const raw = storage(ctx, s.raw);
  const logits = storage(ctx, s.logits);
  try {
    const list = head.dispatches({ buffer: raw }, { buffer: logits });
    const out: HeadDetection[][][] = [];
    for (const o of options) {
      head.setOptions(o);
      out.push(parseDetections(await execute(ctx, list, head), batch, cap, KEYPOINTS));
    }
    return out;
  } finally {
    head.destroy();
    raw.destroy();
    logits.destroy();
  }
}

function image(s: Scene, n: number): { raw: Float32Array; logits: Float32Array } {
  const rows = s.numAnchors * DECODING.numCoords;
  const cols = s.numAnchors * s.numClasses;
  return { raw: s.raw.subarray(n * rows, (n + 1) * rows), logits: s.logits.subarray(n * cols, (n + 1) * cols) };
}

/** Same detections in order: anchor and class exactly, score, corners and keypoints within tol. */
function assertSame(got: HeadDetection[], ref: HeadDetection[], tol: number, what: string): void {
  assert.equal(got.length, ref.length, `${what}: ${got.length} detections, reference ${ref.length}`);
  ref.forEach((r, i) => {
    const g = got[i]!;
    assert.equal(g.anchor, r.anchor, `${what} #${i}: anchor`);
    assert.equal(g.classId, r.classId, `${what} #${i}: class`);
    assert.ok(Math.abs(g.score - r.score) <= 1e-6, `${what} #${i}: score ${g.score} vs ${r.score}`);
    for (const k of ['ymin', 'xmin', 'ymax', 'xmax'] as const)
      assert.ok(Math.abs(g[k] - r[k]) <= tol, `${what} #${i}: ${k} ${g[k]} vs ${r[k]}`);
    assert.equal(g.keypoints?.length, 2 * KEYPOINTS, `${what} #${i}: keypoints`);
    r.keypoints!.forEach((v, j) =>
      assert.ok(Math.abs(g.keypoints![j]! - v) <= tol, `${what} #${i}: keypoint value ${j} ${g.keypoints![j]} vs ${v}`),
    );
  });
}

// float32 decoding of values up to ~60 (x 1/128) and float32 weighted sums of up to ~40 boxes: a few 1e-7.
const TOL = 2e-6;

test('weighted NMS: the GPU head equals its CPU reference (batch 2, 1 and 3 classes, cut or not, per class or not)', async () => {
  for (const [numClasses, perClassNms] of [
    [1, false],
    [3, false],
    [3, true],
  ] as const) {
    const s = scene(2, 400, numClasses, 11 + numClasses);
    const iouThreshold = safeThreshold(0.3, s.ious);
    const base = { scoreThreshold: safeThreshold(0.6, [0.6]), iouThreshold, perClassNms };
    const options: HeadOptions[] = [
      { ...base, maxDetections: 50, nms: 'weighted' },
      { ...base, maxDetections: 3, nms: 'weighted' },
      { ...base, maxDetections: 50, nms: 'greedy' },
    ];
    const runs = await runGpu(s, 2, 50, options);
    options.forEach((o, r) => {
      for (let n = 0; n < 2; n++) {
        const img = image(s, n);
        const ref = ssdHeadRef(img.raw, img.logits, s.anchors, numClasses, { spec: SPEC, candidateCap: 1024 }, o);
        const what = `${numClasses} classes, per class ${perClassNms}, ${o.nms} max ${o.maxDetections}, image ${n}`;
        assert.ok(ref.length >= 3, `${what}: the scene makes only ${ref.length} detections`);
        assertSame(runs[r]![n]!, ref, TOL, what);
      }
    });
    // Weighted NMS moves the boxes greedy NMS keeps (the clusters hold several boxes), and keeps their scores.
    const [weighted, , greedy] = runs.map((r) => r[0]!);
    assert.deepEqual(
      weighted!.map((d) => [d.anchor, d.score]),
      greedy!.map((d) => [d.anchor, d.score]),
    );
    assert.ok(
      weighted!.some((d, i) => Math.abs(d.xmin - greedy![i]!.xmin) > 1e-3),
      'weighting changed nothing',
    );
  }
});

test("weighted NMS: the CPU reference equals MediaPipe's loop (scripts/goldens/postprocess.mjs) on BlazeFace rows", () => {
  for (const seed of [1, 2, 3, 4]) {
    const s = scene(1, 500, 1, seed);
    const iouThreshold = safeThreshold(0.3, s.ious);
    const minScore = safeThreshold(0.5, [0.5]);
    const rows = Array.from({ length: s.numAnchors }, (_, a) => Array.from(s.anchors.subarray(4 * a, 4 * a + 4)));
    const mp = blazefaceDetections(s.raw, s.logits, rows, { scale: SCALE, minScore, iouThreshold });
    const ours = ssdHeadRef(
      s.raw,
      s.logits,
      s.anchors,
      1,
      { spec: SPEC, candidateCap: 1024 },
      { scoreThreshold: minScore, iouThreshold, maxDetections: 1000, perClassNms: false, nms: 'weighted' },
    );
    assert.ok(mp.length >= 3 && mp.some((d) => (d.clusterSize ?? 0) > 3), `seed ${seed}: too simple a scene`);
    const expected: HeadDetection[] = mp.map((d) => ({
      ...d.box,
      score: d.score,
      classId: 0,
      anchor: d.anchor,
      keypoints: d.keypoints.flatMap((p) => [p.x, p.y]),
    }));
    assertSame(ours, expected, 1e-12, `seed ${seed}`);
  }
});

test('weighted NMS by hand: two overlapping faces scoring 0.75 and 0.25 average 3:1, a third face stays as it is', async () => {
  // Three anchors, all (0.5, 0.5) of size 1; logits give sigmoid scores 0.75, 0.25 (ln 3, -ln 3) and 0.6.
  const boxes = [
    [0.2, 0.2, 0.4, 0.4], // ymin, xmin, ymax, xmax
    [0.24, 0.2, 0.44, 0.4], // IoU 0.16 / 0.24 = 2/3 with the first
    [0.7, 0.7, 0.8, 0.8],
  ];
  const raw = new Float32Array(3 * 16);
  boxes.forEach(([y0, x0, y1, x1], a) => {
    const row = [
      ((x0! + x1!) / 2 - 0.5) * SCALE,
      ((y0! + y1!) / 2 - 0.5) * SCALE,
      (x1! - x0!) * SCALE,
      (y1! - y0!) * SCALE,
    ];
    for (let k = 0; k < KEYPOINTS; k++) row.push((a + k / 10 - 0.5) * SCALE, (k / 10 - 0.5) * SCALE);
    raw.set(row, a * 16);
  });
  const logits = Float32Array.of(Math.log(3), -Math.log(3), Math.log(1.5));
  const s: Scene = {
    numAnchors: 3,
    numClasses: 1,
    anchors: Float32Array.from([0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1]),
    raw,
    logits,
    ious: [],
  };
  const o: HeadOptions = {
    scoreThreshold: 0.2,
    iouThreshold: 0.3,
    maxDetections: 10,
    perClassNms: false,
    nms: 'weighted',
  };
  const got = (await runGpu(s, 1, 10, [o]))[0]![0]!;
  const mean = (i: number) => 0.75 * boxes[0]![i]! + 0.25 * boxes[1]![i]!;
  const expected: HeadDetection[] = [
    {
      ymin: mean(0),
      xmin: mean(1),
      ymax: mean(2),
      xmax: mean(3),
      score: 0.75,
      classId: 0,
      anchor: 0,
      keypoints: Array.from({ length: 12 }, (_, j) => (j % 2 ? (j >> 1) / 10 : 0.25 + (j >> 1) / 10)),
    },
    {
      ymin: 0.7,
      xmin: 0.7,
      ymax: 0.8,
      xmax: 0.8,
      score: 0.6,
      classId: 0,
      anchor: 2,
      keypoints: Array.from({ length: 12 }, (_, j) => (j % 2 ? (j >> 1) / 10 : 2 + (j >> 1) / 10)),
    },
  ];
  assertSame(got, expected, 1e-6, 'hand-made scene');
});

test('MediaPipe rows: a box of negative size is no candidate, however high its score', async () => {
  const raw = new Float32Array(2 * 16);
  raw.set([0, 0, -0.2 * SCALE, 0.2 * SCALE], 0);
  raw.set([0, 0, 0.2 * SCALE, 0.2 * SCALE], 16);
  const s: Scene = {
    numAnchors: 2,
    numClasses: 1,
    anchors: Float32Array.of(0.5, 0.5, 1, 1, 0.5, 0.5, 1, 1),
    raw,
    logits: Float32Array.of(8, 1),
    ious: [],
  };
  const o: HeadOptions = { scoreThreshold: 0.5, iouThreshold: 0.3, maxDetections: 10, perClassNms: false };
  const got = (await runGpu(s, 1, 10, [o]))[0]![0]!;
  assert.deepEqual(
    got.map((d) => d.anchor),
    [1],
  );
  const ref = ssdHeadRef(raw, s.logits, s.anchors, 1, { spec: SPEC, candidateCap: 10 }, o);
  assert.deepEqual(
    ref.map((d) => d.anchor),
    [1],
  );
});
