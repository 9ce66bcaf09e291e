/**
 * The GPU SSD head against an outside oracle for what the parity goldens do not cover (their pipelines are
 * sigmoid scores with class-agnostic NMS): softmax scores with per-class NMS, and softmax with class-agnostic NMS.
 * The oracle is tfjs-core: tf.softmax for the scores and tf.image.nonMaxSuppressionWithScore run per class (or once
 * over each anchor's best class), merged by score and cut to maxDetections. Scores and boxes are continuous random
 * values, so no decision sits on an edge, and every candidate enters NMS (the cap is above their count).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { encodeDispatches } from '../src/gpu/dispatch.ts';
import { SsdHead, parseCandidateCounts, parseDetections } from '../src/ssd/head.ts';
import type { HeadDetection, HeadOptions } from '../src/ssd/head_types.ts';
import { gpu, releaseGpu, storage } from './support/gpu.ts';
import { randomAnchors, rng, SCALES } from './support/ssd_cases.ts';

after(releaseGpu);

const A = 600;
const C = 6; // column 0 is the background
const CAP = 4096;

function makeInputs(seed: number) {
  const rand = rng(seed);
  const anchors = randomAnchors(A, rand);
  const boxes = Float32Array.from({ length: A * 4 }, () => (rand() - 0.5) * 4);
  // Logits spread enough that softmax scores cover (0, 1).
  const logits = Float32Array.from({ length: A * C }, () => (rand() - 0.5) * 8);
  return { anchors, boxes, logits };
}

/** TF's box decoding (centre-size, scales 10/10/5/5), written out here; (ymin, xmin, ymax, xmax) per anchor. */
function decode(boxes: Float32Array, anchors: Float32Array): Float32Array {
  const out = new Float32Array(A * 4);
  for (let a = 0; a < A; a++) {
    const [ya, xa, ha, wa] = anchors.subarray(4 * a, 4 * a + 4) as unknown as number[];
    const yc = (boxes[4 * a]! / SCALES.y) * ha! + ya!;
    const xc = (boxes[4 * a + 1]! / SCALES.x) * wa! + xa!;
    const h = Math.exp(boxes[4 * a + 2]! / SCALES.h) * ha!;
    const w = Math.exp(boxes[4 * a + 3]! / SCALES.w) * wa!;
    out.set([yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2], 4 * a);
  }
  return out;
}

interface Found {
  anchor: number;
  classId: number;
  score: number;
}

function oracle(k: ReturnType<typeof makeInputs>, o: HeadOptions): Found[] {
  const probs = tf.tidy(() => tf.softmax(tf.tensor2d(k.logits, [A, C])).arraySync());
  const decoded = decode(k.boxes, k.anchors);
  const nms = (scores: number[]) =>
    tf.tidy(() => {
      const r = tf.image.nonMaxSuppressionWithScore(
        tf.tensor2d(decoded, [A, 4]),
        tf.tensor1d(scores),
        A,
        o.iouThreshold,
        o.scoreThreshold,
      );
      const { selectedIndices, selectedScores } = r;
      assert.ok(selectedIndices && selectedScores);
      const scoresOut = selectedScores.arraySync() as number[];
      return (selectedIndices.arraySync() as number[]).map((a, i) => ({ anchor: a, score: scoresOut[i]! }));
    });
  let found: Found[] = [];
  if (o.perClassNms) {
    for (let c = 1; c < C; c++) found.push(...nms(probs.map((p) => p[c]!)).map((f) => ({ ...f, classId: c })));
  } else {
    const best = probs.map((p) => p.slice(1).reduce((b, v, i) => (v > p[b + 1]! ? i : b), 0) + 1);
    found = nms(probs.map((p, a) => p[best[a]!]!)).map((f) => ({ ...f, classId: best[f.anchor]! }));
  }
  return found.sort((x, y) => y.score - x.score).slice(0, o.maxDetections);
}

async function runHead(k: ReturnType<typeof makeInputs>, o: HeadOptions): Promise<HeadDetection[]> {
  const ctx = await gpu();
  const spec = { scales: SCALES, scoreFunction: 'softmax' as const, backgroundClass: 0 };
  const head = await SsdHead.create(ctx, {
    batch: 1,
    numAnchors: A,
    numClasses: C,
    anchors: k.anchors,
    spec,
    maxDetectionsCap: 100,
    candidateCap: CAP,
  });
  const boxes = storage(ctx, k.boxes);
  const logits = storage(ctx, k.logits);
  try {
    head.setOptions(o);
    await ctx.checked('ssd head', () => {
      const enc = ctx.device.createCommandEncoder();
      const pass = enc.beginComputePass();
      encodeDispatches(pass, head.dispatches({ buffer: boxes }, { buffer: logits }));
      pass.end();
      ctx.queue.submit([enc.finish()]);
    });
    const out = await ctx.readBuffer(head.output, 0, head.outputBytes);
    const [counts] = parseCandidateCounts(out, 1, 100);
    assert.ok(counts!.candidates < CAP, `${counts!.candidates} candidates: some would not enter NMS`);
    return parseDetections(out, 1, 100)[0]!;
  } finally {
    head.destroy();
    boxes.destroy();
    logits.destroy();
  }
}

for (const [perClassNms, scoreThreshold, iouThreshold, maxDetections, seed] of [
  [true, 0.3, 0.5, 100, 1],
  [true, 0.2, 0.3, 40, 2],
  [false, 0.3, 0.5, 100, 3],
] as const) {
  test(`softmax scores, ${perClassNms ? 'per-class' : 'class-agnostic'} NMS (score ${scoreThreshold}, IoU ${iouThreshold}, max ${maxDetections}) equal tfjs-core's softmax and NMS`, async (t) => {
    const k = makeInputs(seed);
    const o: HeadOptions = { scoreThreshold, iouThreshold, maxDetections, perClassNms };
    const want = oracle(k, o);
    const got = await runHead(k, o);
    t.diagnostic(`${got.length} detections, ${new Set(got.map((d) => d.classId)).size} classes`);
    assert.ok(want.length >= 20, `only ${want.length} detections: the case is too easy`);
    assert.deepEqual(
      got.map((d) => `${d.anchor}:${d.classId}`),
      want.map((d) => `${d.anchor}:${d.classId}`),
    );
    // Both compute softmax in float32, in different orders.
    got.forEach((d, i) =>
      assert.ok(Math.abs(d.score - want[i]!.score) <= 1e-6, `${i}: ${d.score} vs ${want[i]!.score}`),
    );
  });
}
