import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBox, iou, rowScores, ssdHeadRef, type HeadRefConfig } from '../src/ssd/head_ref.ts';
import type { HeadOptions } from '../src/ssd/head_types.ts';
import { InvalidOptionError } from '../src/errors.ts';
import { SCALES, scene, type Scene } from './support/ssd_cases.ts';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

const cfg: HeadRefConfig = {
  spec: { scales: SCALES, scoreFunction: 'sigmoid', backgroundClass: 0 },
  candidateCap: 100,
};
const opts: HeadOptions = { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false };
const L = (p: number) => Math.log(p / (1 - p)); // logit of a probability
const NO = -20; // a logit whose sigmoid is far below any threshold here

function run(s: Scene, o: Partial<HeadOptions> = {}, c: Partial<HeadRefConfig> = {}) {
  return ssdHeadRef(s.boxes, s.logits, s.anchors, s.numClasses, { ...cfg, ...c }, { ...opts, ...o });
}
const ids = (dets: { anchor: number; classId: number }[]) => dets.map((d) => `${d.anchor}:${d.classId}`);

test('decodeBox: worked example with the 10/10/5/5 coder', () => {
  // anchor yc .5 xc .5 h .2 w .4; raw (1, -2, 5 ln 2, 0):
  // yc = 1/10*.2 + .5 = .52, xc = -2/10*.4 + .5 = .42, h = e^(ln 2)*.2 = .4, w = e^0*.4 = .4.
  const [ymin, xmin, ymax, xmax] = decodeBox([1, -2, 5 * Math.LN2, 0], [0.5, 0.5, 0.2, 0.4], 0, SCALES);
  close(ymin, 0.32);
  close(xmin, 0.22);
  close(ymax, 0.72);
  close(xmax, 0.62);
});

test('rowScores: sigmoid per column, softmax over the row, probabilities as they are (at most 1)', () => {
  const sig = rowScores([0, Math.log(3), -Math.log(3)], 0, 3, 'sigmoid');
  [0.5, 0.75, 0.25].forEach((v, i) => close(sig[i]!, v));
  // softmax of (0, ln 3, 0) = (1, 3, 1) / 5
  const soft = rowScores([0, 0, 0, 0, Math.log(3), 0], 1, 3, 'softmax');
  [0.2, 0.6, 0.2].forEach((v, i) => close(soft[i]!, v));
  assert.deepEqual(rowScores([0.25, 0.5, 1.5, 0, 0.75, 1], 1, 3, 'probability'), [0, 0.75, 1]);
});

test('iou: exact fractions and the empty cases', () => {
  close(iou([0.25, 0.25, 0.75, 0.75], [0.25, 0.375, 0.75, 0.875]), 0.1875 / 0.3125);
  assert.equal(iou([0, 0, 0.5, 0.5], [0.5, 0.5, 1, 1]), 0);
  assert.equal(iou([0.5, 0.5, 0.5, 0.5], [0.5, 0.5, 0.5, 0.5]), 0);
});

test('threshold edge: score == threshold is a candidate, just above it is not', () => {
  const s = scene([{ box: [0, 0, 0.5, 0.5], logits: [NO, 0] }]);
  assert.equal(run(s, { scoreThreshold: 0.5 }).length, 1);
  assert.equal(run(s, { scoreThreshold: 0.5000001 }).length, 0);
});

test('background column is never reported, however high it scores', () => {
  const s = scene([{ box: [0, 0, 0.5, 0.5], logits: [10, L(0.6), NO] }]);
  const d = run(s);
  assert.deepEqual(ids(d), ['0:1']);
  close(d[0]!.score, 0.6, 1e-7); // the logit went through float32
  assert.deepEqual(ids(run(s, {}, { spec: { ...cfg.spec, backgroundClass: -1 } })), ['0:0']);
});

test('same class overlapping: the higher score suppresses the other in both modes', () => {
  // IoU of the two boxes is .1875 / .3125 = 0.6
  const s = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, L(0.7)] },
    { box: [0.25, 0.375, 0.75, 0.875], logits: [NO, L(0.9)] },
  ]);
  assert.deepEqual(ids(run(s)), ['1:1']);
  assert.deepEqual(ids(run(s, { perClassNms: true })), ['1:1']);
});

test('IoU edge: suppression needs IoU strictly above the threshold', () => {
  const s = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, L(0.7)] },
    { box: [0.25, 0.375, 0.75, 0.875], logits: [NO, L(0.9)] },
  ]);
  assert.deepEqual(ids(run(s, { iouThreshold: 0.6 })), ['1:1', '0:1']);
  assert.deepEqual(ids(run(s, { iouThreshold: 0.59 })), ['1:1']);
});

test('different classes overlapping: agnostic suppresses across classes, per-class does not', () => {
  const s = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, L(0.9), NO] },
    { box: [0.25, 0.375, 0.75, 0.875], logits: [NO, NO, L(0.8)] },
  ]);
  assert.deepEqual(ids(run(s)), ['0:1']);
  assert.deepEqual(ids(run(s, { perClassNms: true })), ['0:1', '1:2']);
});

test('per-class: one anchor yields a candidate for every class above threshold', () => {
  const s = scene([{ box: [0, 0, 0.5, 0.5], logits: [NO, L(0.6), L(0.8), L(0.4)] }]);
  assert.deepEqual(ids(run(s, { perClassNms: true })), ['0:2', '0:1']);
  assert.deepEqual(ids(run(s)), ['0:2']);
});

test('ties: lower anchor wins, then lower class', () => {
  const p = L(0.8);
  const s = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, NO, p] },
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, p, p] },
  ]);
  // Agnostic: anchor 1's best is class 1 (lower class on the tie); anchor 0 ranks first and suppresses it.
  assert.deepEqual(ids(run(s)), ['0:2']);
  // Per class: 0:2 first, then 1:1 (same score, anchor 1, class 1 < 2), 1:2 suppressed by 0:2.
  assert.deepEqual(ids(run(s, { perClassNms: true })), ['0:2', '1:1']);
  // Output order of equal scores follows the same rule.
  const far = scene([
    { box: [0.5, 0.5, 1, 1], logits: [NO, p, p] },
    { box: [0, 0, 0.25, 0.25], logits: [NO, p, NO] },
  ]);
  assert.deepEqual(ids(run(far, { perClassNms: true })), ['0:1', '0:2', '1:1']);
});

test('maxDetections keeps the best ones; candidateCap cuts before NMS', () => {
  const rows = [0.9, 0.6, 0.8, 0.7, 0.95].map((p, i) => ({
    box: [i * 0.2, 0, i * 0.2 + 0.1, 0.1] as [number, number, number, number],
    logits: [NO, L(p)],
  }));
  const s = scene(rows);
  assert.deepEqual(ids(run(s, { maxDetections: 3 })), ['4:1', '0:1', '2:1']);
  assert.deepEqual(ids(run(s, {}, { candidateCap: 2 })), ['4:1', '0:1']);
  // With the top two overlapping, a cap of 2 leaves one detection: the third is never considered.
  const overlap = scene([
    { box: [0.25, 0.25, 0.75, 0.75], logits: [NO, L(0.9)] },
    { box: [0.25, 0.25, 0.75, 0.76], logits: [NO, L(0.8)] },
    { box: [0, 0, 0.1, 0.1], logits: [NO, L(0.7)] },
  ]);
  assert.deepEqual(ids(run(overlap, {}, { candidateCap: 2 })), ['0:1']);
  assert.deepEqual(ids(run(overlap, {}, { candidateCap: 3 })), ['0:1', '2:1']);
});

test('allow-list and "???" labels: such classes are neither reported nor chosen as best', () => {
  const s = scene([{ box: [0, 0, 0.5, 0.5], logits: [NO, L(0.9), L(0.8), L(0.7)] }]);
  assert.deepEqual(ids(run(s, { allowedClasses: [true, false, true, true] })), ['0:2']);
  assert.deepEqual(ids(run(s, { perClassNms: true, allowedClasses: [true, false, true, true] })), ['0:2', '0:3']);
  assert.deepEqual(ids(run(s, { perClassNms: true }, { labels: ['???', 'a', '???', 'b'] })), ['0:1', '0:3']);
});

test('softmax and sigmoid rank the same logits differently', () => {
  const s = scene([
    { box: [0, 0, 0.25, 0.25], logits: [0, 2, 2] },
    { box: [0.5, 0.5, 1, 1], logits: [-5, 1.5, -5] },
  ]);
  // sigmoid: 0:1 = .881 > 1:1 = .818; softmax: 0:1 = e^2 / (1 + 2 e^2) = .468 < 1:1 = .997.
  assert.deepEqual(ids(run(s, { scoreThreshold: 0.3 })), ['0:1', '1:1']);
  const soft = run(s, { scoreThreshold: 0.3 }, { spec: { ...cfg.spec, scoreFunction: 'softmax' } });
  assert.deepEqual(ids(soft), ['1:1', '0:1']);
  close(soft[1]!.score, Math.exp(2) / (1 + 2 * Math.exp(2)));
});

test('invalid options are rejected with the option named', () => {
  const s = scene([{ box: [0, 0, 0.5, 0.5], logits: [NO, 0] }]);
  assert.throws(() => run(s, { scoreThreshold: Number.NaN }), InvalidOptionError);
  assert.throws(() => run(s, { maxDetections: 0 }), /maxDetections/);
  assert.throws(() => run(s, { allowedClasses: [true] }), /allowedClasses/);
});
