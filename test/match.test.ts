/** SSD matching and target encoding on hand-worked cases. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBox } from '../src/ssd/head_ref.ts';
import { MEDIAPIPE_SSD_300, gridAnchors } from '../src/ssd/anchors.ts';
import { anchorCorners, cornerIou, matchAnchors } from '../src/train/match.ts';
import { buildTargets, encodeBox } from '../src/train/targets.ts';

const SCALES = { y: 10, x: 10, h: 5, w: 5 };
const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

test('IoU of corner boxes', () => {
  const a = [0, 0, 2, 2];
  close(cornerIou(a, 0, [1, 1, 3, 3], 0), 1 / 7);
  close(cornerIou(a, 0, [0, 0, 2, 1], 0), 0.5);
  assert.equal(cornerIou(a, 0, [2, 2, 3, 3], 0), 0, 'touching boxes do not overlap');
  anchorCorners([0.5, 0.5, 0.2, 0.4]).forEach((v, i) => close(v, [0.4, 0.3, 0.6, 0.7][i]!));
});

test('each ground truth takes its best default box even below the threshold', () => {
  // Default boxes: two 0.2-squares side by side and one large box. The ground truth overlaps the
  // first square with IoU 0.25 only: still matched, to that square alone.
  const anchors = [0, 0, 0.2, 0.2, 0, 0.2, 0.2, 0.4, 0, 0, 1, 1];
  const gt = [0.05, 0.05, 0.15, 0.15];
  close(cornerIou(anchors, 0, gt, 0), 0.25);
  assert.deepEqual(Array.from(matchAnchors(anchors, gt)), [0, -1, -1]);
});

test('default boxes above 0.5 IoU join their best ground truth; forced matches come first', () => {
  const gt = [0, 0, 0.4, 0.4, 0, 0.1, 0.4, 0.5];
  const anchors = [
    0,
    0,
    0.4,
    0.4, // a0: g0 exactly, g0's best (it would also pass 0.5 with g1: 0.6)
    0,
    0.1,
    0.4,
    0.5, // a1: g1 exactly, g1's best
    0,
    0,
    0.4,
    0.3, // a2: 0.75 with g0, 0.4 with g1 -> g0
    0,
    0.03,
    0.4,
    0.43, // a3: 0.86 with g0, 0.70 with g1 -> g0, the better one
    0,
    0.2,
    0.4,
    0.5, // a4: 0.4 with g0, 0.75 with g1 -> g1
    0,
    0.35,
    0.4,
    0.75, // a5: 0.23 with g1 -> background
    0.5,
    0.5,
    0.9,
    0.9, // a6: no overlap -> background
  ];
  close(cornerIou(anchors, 0, gt, 1), 0.6);
  close(cornerIou(anchors, 3, gt, 0), 0.148 / 0.172);
  close(cornerIou(anchors, 3, gt, 1), 0.132 / 0.188);
  close(cornerIou(anchors, 4, gt, 1), 0.75);
  close(cornerIou(anchors, 5, gt, 1), 0.06 / 0.26);
  assert.deepEqual(Array.from(matchAnchors(anchors, gt)), [0, 1, 0, 0, 1, -1, -1]);
});

test('two ground truths wanting the same default box: the better overlap keeps it, the other takes its next best', () => {
  // Both ground truths overlap a0 best (0.64 and 0.5625); g0 wins a0, g1 falls back to a1 (IoU 0.29).
  const anchors = [0, 0, 1, 1, 0.4, 0, 1, 1];
  const gt = [0, 0, 0.8, 0.8, 0, 0, 0.75, 0.75];
  close(cornerIou(anchors, 0, gt, 0), 0.64);
  close(cornerIou(anchors, 0, gt, 1), 0.5625);
  close(cornerIou(anchors, 1, gt, 1), (0.35 * 0.75) / (0.6 + 0.5625 - 0.35 * 0.75));
  assert.deepEqual(Array.from(matchAnchors(anchors, gt)), [0, 1]);
  assert.deepEqual(Array.from(matchAnchors(anchors, [])), [-1, -1], 'no ground truth: all background');
});

test('box encoding: centre offsets scaled by the default box, log size ratios, scales 10,10,5,5', () => {
  const anchor = [0.5, 0.5, 0.2, 0.2];
  encodeBox([0.4, 0.4, 0.6, 0.6], 0, anchor, 0, SCALES).forEach((v) => close(v, 0));
  const [ty, tx, th, tw] = encodeBox([0.45, 0.4, 0.65, 0.6], 0, anchor, 0, SCALES);
  close(ty, 2.5);
  close(tx, 0);
  close(th, 0);
  close(tw, 0);
  const e = encodeBox([0.3, 0.55, 0.7, 0.65], 0, anchor, 0, SCALES);
  close(e[0], 0);
  close(e[1], (10 * 0.1) / 0.2);
  close(e[2], 5 * Math.log(2));
  close(e[3], 5 * Math.log(0.5));
});

test('targets on the 1917 OID default boxes decode back to their ground truths', () => {
  const anchors = gridAnchors(MEDIAPIPE_SSD_300);
  const gt = {
    boxes: new Float32Array([0.1, 0.2, 0.3, 0.35, 0.5, 0.5, 0.9, 0.8, 0.62, 0.1, 0.68, 0.15]),
    classes: new Int32Array([1, 2, 3]),
  };
  const t = buildTargets(anchors, gt, SCALES);
  assert.equal(t.labels.length, 1917);
  assert.equal(t.positives, t.labels.filter((l) => l > 0).length);
  const seen = new Set<number>();
  for (let a = 0; a < 1917; a++) {
    const label = t.labels[a]!;
    if (label === 0) {
      assert.deepEqual(Array.from(t.boxes.subarray(4 * a, 4 * a + 4)), [0, 0, 0, 0]);
      continue;
    }
    seen.add(label);
    const j = label - 1;
    const decoded = decodeBox(t.boxes, anchors, a, SCALES);
    decoded.forEach((v, m) => close(v, gt.boxes[4 * j + m]!, 1e-6));
  }
  assert.deepEqual([...seen].sort(), [1, 2, 3], 'every ground truth, even the small third one, has a default box');
});
