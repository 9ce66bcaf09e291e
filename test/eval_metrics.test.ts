import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Detection } from '../src/detect_types.ts';
import { buildClassMapping, COCO_TO_VOC, OPEN_IMAGES_TO_COCO, parseClassMap } from '../src/eval/class_map.ts';
import { cocoEvaluate } from '../src/eval/coco_ap.ts';
import { readDataset } from '../src/eval/datasets/index.ts';
import { parseXml } from '../src/eval/datasets/xml.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { iou } from '../src/eval/iou.ts';
import { evaluationPrChart, prChartSvg } from '../src/eval/pr_chart.ts';
import { evaluationToJson, formatEvaluationReport } from '../src/eval/report.ts';
import type { Dataset } from '../src/eval/types.ts';
import { vocAveragePrecision, type ReferenceBox, type ScoredBox } from '../src/eval/voc_ap.ts';
import { InvalidInputError, InvalidOptionError } from '../src/errors.ts';
import { sharedPath } from '../scripts/shared_data.ts';

const datasets = sharedPath(process.env.MOBILESSD_ROOT ?? process.cwd(), 'datasets');
const close = (actual: number, expected: number, tol = 1e-10) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${actual} is not within ${tol} of ${expected}`);
const box = (x: number, y: number, width: number, height: number) => ({ x, y, width, height });
const gt = (imageId: string, x: number, y: number, w: number, h: number, difficult = false): ReferenceBox => ({
  imageId,
  box: box(x, y, w, h),
  difficult,
});
const det = (imageId: string, score: number, x: number, y: number, w: number, h: number): ScoredBox => ({
  imageId,
  score,
  box: box(x, y, w, h),
});

test('iou: continuous and pixel-inclusive conventions', () => {
  // 10x10 boxes shifted by 1: intersection 9*10 = 90, union 110.
  close(iou(box(0, 0, 10, 10), box(1, 0, 10, 10)), 90 / 110);
  // +1 on every extent: intersection 10*11 = 110, areas 121 each, union 132.
  close(iou(box(0, 0, 10, 10), box(1, 0, 10, 10), 'pixel-inclusive'), 110 / 132);
  assert.equal(iou(box(0, 0, 10, 10), box(10, 0, 10, 10)), 0, 'touching boxes do not overlap');
  close(iou(box(0, 0, 10, 10), box(10, 0, 10, 10), 'pixel-inclusive'), 11 / (121 + 121 - 11), 1e-12);
});

test('VOC AP by hand: 3 ground truths, 5 detections with a duplicate and a miss', () => {
  const gts = [gt('A', 0, 0, 10, 10), gt('A', 20, 0, 10, 10), gt('B', 0, 0, 10, 10)];
  const dets = [
    det('A', 0.9, 0, 0, 10, 10), //  IoU 1 with A/1: TP
    det('A', 0.8, 1, 0, 10, 10), //  IoU 90/110 with A/1, already taken: FP (duplicate)
    det('B', 0.7, 5, 5, 10, 10), //  IoU 25/175 = 0.14 with B/1: FP
    det('A', 0.6, 20, 0, 10, 10), // IoU 1 with A/2: TP
    det('B', 0.5, 0, 1, 10, 10), //  IoU 90/110 with B/1: TP
  ];
  const r = vocAveragePrecision(gts, dets);
  // Ranked TP FP FP TP TP: precision 1, 1/2, 1/3, 2/4, 3/5; recall 1/3, 1/3, 1/3, 2/3, 1.
  assert.deepEqual([r.truePositives, r.falsePositives, r.groundTruths], [3, 2, 3]);
  assert.deepEqual(r.precision, [1, 1 / 2, 1 / 3, 2 / 4, 3 / 5]);
  assert.deepEqual(r.recall, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1]);
  // All-point: envelope 1 up to recall 1/3, then 0.6: 1/3 * 1 + 1/3 * 0.6 + 1/3 * 0.6 = 11/15.
  close(r.ap, 11 / 15);
  // 11-point: levels 0..0.3 reach precision 1 (4 levels); levels 0.4..1.0 only 0.6 (7 levels): (4 + 4.2) / 11.
  close(r.ap11, 8.2 / 11);
});

test('VOC AP: difficult ground truths are neither hits nor misses', () => {
  const gts = [gt('C', 0, 0, 10, 10, true), gt('C', 50, 50, 10, 10)];
  const dets = [
    det('C', 0.9, 0, 0, 10, 10), //   on the difficult object: ignored
    det('C', 0.8, 0, 0, 10, 10), //   again on it: still ignored, not a duplicate FP
    det('C', 0.7, 50, 50, 10, 10), // TP
    det('C', 0.6, 100, 100, 10, 10), // FP
  ];
  const r = vocAveragePrecision(gts, dets);
  // Counted: TP, FP with 1 positive: precision 1, 1/2 at recall 1, 1: AP 1 both ways.
  assert.deepEqual([r.truePositives, r.falsePositives, r.ignored, r.groundTruths], [1, 1, 2, 1]);
  assert.equal(r.ap, 1);
  assert.equal(r.ap11, 1);
  // The same data without the flag: TP FP TP FP over 2 positives: 1/2 * 1 + 1/2 * 2/3 = 5/6.
  const plain = vocAveragePrecision(
    gts.map((g) => ({ ...g, difficult: false })),
    dets,
  );
  close(plain.ap, 5 / 6);
});

test('VOC AP: a duplicate ranked before the next hit costs precision', () => {
  const gts = [gt('D', 0, 0, 10, 10), gt('D', 30, 0, 10, 10)];
  const dets = [det('D', 0.9, 0, 0, 10, 10), det('D', 0.8, 0, 0, 10, 10), det('D', 0.7, 30, 0, 10, 10)];
  const r = vocAveragePrecision(gts, dets);
  // TP FP TP: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
  // All-point: 1/2 * 1 + 1/2 * 2/3 = 5/6. 11-point: levels 0..0.5 give 1 (6), 0.6..1 give 2/3 (5): (6 + 10/3) / 11 = 28/33.
  close(r.ap, 5 / 6);
  close(r.ap11, 28 / 33);
  // Identical scores keep their input order: the duplicate listed first becomes the TP, the result is the same.
  const tied = vocAveragePrecision(gts, [
    det('D', 0.9, 0, 0, 10, 10),
    det('D', 0.9, 0, 0, 10, 10),
    det('D', 0.7, 30, 0, 10, 10),
  ]);
  close(tied.ap, 5 / 6);
});

test('VOC AP: no detections and no ground truth', () => {
  const none = vocAveragePrecision([gt('E', 0, 0, 10, 10)], []);
  assert.deepEqual([none.ap, none.ap11, none.precision.length], [0, 0, 0]);
  const noGt = vocAveragePrecision([], [det('E', 0.9, 0, 0, 10, 10)]);
  assert.ok(Number.isNaN(noGt.ap) && Number.isNaN(noGt.ap11), 'a class without ground truth has no AP');
  assert.equal(noGt.falsePositives, 1);
});

// The worked example of rafaelpadilla/Object-Detection-Metrics (README "An illustrated example": 7 images,
// 15 ground truths, 24 detections A..Y of "person", boxes as left top width height), which
// rafaelpadilla/review_object_detection_metrics reuses as tests/test_case_1 with published APs at four IoU
// thresholds. Both projects' PASCAL evaluators add +1 to every extent (bounding_box.py get_area and
// get_intersection_area), so the published figures are reproduced with the 'pixel-inclusive' convention.
const SAMPLE_GROUND_TRUTHS: Record<string, [number, number, number, number][]> = {
  '1': [
    [25, 16, 38, 56],
    [129, 123, 41, 62],
  ],
  '2': [
    [123, 11, 43, 55],
    [38, 132, 59, 45],
  ],
  '3': [
    [16, 14, 35, 48],
    [123, 30, 49, 44],
    [99, 139, 47, 47],
  ],
  '4': [
    [53, 42, 40, 52],
    [154, 43, 31, 34],
  ],
  '5': [
    [59, 31, 44, 51],
    [48, 128, 34, 52],
  ],
  '6': [
    [36, 89, 52, 76],
    [62, 58, 44, 67],
  ],
  '7': [
    [28, 31, 55, 63],
    [58, 67, 50, 58],
  ],
};
// [letter, confidence, left, top, width, height], in the order of the sample's files (ties: R before Y).
const SAMPLE_DETECTIONS: Record<string, [string, number, number, number, number, number][]> = {
  '1': [
    ['A', 0.88, 5, 67, 31, 48],
    ['B', 0.7, 119, 111, 40, 67],
    ['C', 0.8, 124, 9, 49, 67],
  ],
  '2': [
    ['D', 0.71, 64, 111, 64, 58],
    ['E', 0.54, 26, 140, 60, 47],
    ['F', 0.74, 19, 18, 43, 35],
  ],
  '3': [
    ['G', 0.18, 109, 15, 77, 39],
    ['H', 0.67, 86, 63, 46, 45],
    ['I', 0.38, 160, 62, 36, 53],
    ['J', 0.91, 105, 131, 47, 47],
    ['K', 0.44, 18, 148, 40, 44],
  ],
  '4': [
    ['L', 0.35, 83, 28, 28, 26],
    ['M', 0.78, 28, 68, 42, 67],
    ['N', 0.45, 87, 89, 25, 39],
    ['O', 0.14, 10, 155, 60, 26],
  ],
  '5': [
    ['P', 0.62, 50, 38, 28, 46],
    ['Q', 0.44, 95, 11, 53, 28],
    ['R', 0.95, 29, 131, 72, 29],
    ['S', 0.23, 29, 163, 72, 29],
  ],
  '6': [
    ['T', 0.45, 43, 48, 74, 38],
    ['U', 0.84, 17, 155, 29, 35],
    ['V', 0.43, 95, 110, 25, 42],
  ],
  '7': [
    ['X', 0.48, 16, 20, 101, 88],
    ['Y', 0.95, 33, 116, 37, 49],
  ],
};
const sampleGts = Object.entries(SAMPLE_GROUND_TRUTHS).flatMap(([id, boxes]) =>
  boxes.map(([x, y, w, h]) => gt(id, x, y, w, h)),
);
const sampleDets = Object.entries(SAMPLE_DETECTIONS).flatMap(([id, dets]) =>
  dets.map(([, s, x, y, w, h]) => det(id, s, x, y, w, h)),
);

test('worked example: Object-Detection-Metrics / review_object_detection_metrics published APs', () => {
  assert.equal(sampleGts.length, 15);
  assert.equal(sampleDets.length, 24);
  // review_object_detection_metrics tests/test_case_1.py: expected AP by IoU threshold.
  const published = {
    0.1: { ap: 0.3371980676, ap11: 0.3333333333 },
    0.3: { ap: 0.2456866804, ap11: 0.2683982683 },
    0.5: { ap: 0.0222222222, ap11: 0.0303030303 },
    0.75: { ap: 0, ap11: 0 },
  };
  for (const [threshold, expected] of Object.entries(published)) {
    const r = vocAveragePrecision(sampleGts, sampleDets, {
      iouThreshold: Number(threshold),
      iouConvention: 'pixel-inclusive',
    });
    close(r.ap, expected.ap, 1e-10);
    close(r.ap11, expected.ap11, 1e-10);
  }
  // README at IoU 0.3: 7 TP / 17 FP, last point precision 7/23 (0.3043) at recall 7/15 (0.4666);
  // AP = 1/15 * 1 + 1/15 * 2/3 + 4/15 * 3/7 + 1/15 * 7/23 = 24.57% ("24.56%" truncated), 11-point
  // (1 + 2/3 + 3 * 3/7) / 11 = 26.84%. At 0.1 the 11-point figure is 0.3333, not 0.3689: recall reaches
  // 9/15 = 0.6 exactly, just below numpy's level 6 * 0.1 = 0.6000000000000001.
  const r = vocAveragePrecision(sampleGts, sampleDets, { iouThreshold: 0.3, iouConvention: 'pixel-inclusive' });
  assert.deepEqual([r.truePositives, r.falsePositives], [7, 17]);
  close(r.precision[22]!, 7 / 23);
  close(r.recall[22]!, 7 / 15);
  close(r.ap, 1 / 15 + (1 / 15) * (2 / 3) + (4 / 15) * (3 / 7) + (1 / 15) * (7 / 23));
  close(r.ap11, (1 + 2 / 3 + 3 * (3 / 7)) / 11);
});

test('worked example under the continuous convention', () => {
  // Without +1, detection G (0.18, image 3) overlaps [123,30,49,44] by 49*24 = 1176 over a union of
  // 3003 + 2156 - 1176 = 3983: IoU 0.2952 < 0.3 (0.3034 with +1), so it turns from TP into FP and the
  // last term of the all-point sum drops: AP = 1/15 + 1/15 * 2/3 + 4/15 * 3/7 = 0.2253968254. The 11-point
  // levels stop at recall 0.4 either way: 0.2683982684.
  const r = vocAveragePrecision(sampleGts, sampleDets, { iouThreshold: 0.3 });
  assert.deepEqual([r.truePositives, r.falsePositives], [6, 18]);
  close(r.ap, 1 / 15 + (1 / 15) * (2 / 3) + (4 / 15) * (3 / 7));
  close(r.ap11, (1 + 2 / 3 + 3 * (3 / 7)) / 11);
  close(vocAveragePrecision(sampleGts, sampleDets).ap, 0.0222222222, 1e-10);
});

test('COCO metrics by hand: IoU sweep, crowd region, area ranges', () => {
  // Image 1: A = [0,0,10,10] (area 100, small) and a crowd region [50,0,40,40]. Image 2: B = [0,0,100,100] (large).
  // d1 0.9 on B with IoU 0.9; d2 0.8 on A with IoU 0.8; d3 0.7 inside the crowd (IoU = inter / own area = 1); d4 0.6 on nothing.
  const classes = new Map([
    [
      'x',
      {
        groundTruths: [
          { imageId: '1', box: box(0, 0, 10, 10) },
          { imageId: '1', box: box(50, 0, 40, 40), iscrowd: true },
          { imageId: '2', box: box(0, 0, 100, 100) },
        ],
        detections: [
          det('2', 0.9, 0, 0, 100, 90),
          det('1', 0.8, 0, 0, 10, 8),
          det('1', 0.7, 60, 10, 10, 10),
          det('1', 0.6, 200, 200, 10, 10),
        ],
      },
    ],
  ]);
  const r = cocoEvaluate(classes, ['1', '2']);
  // All areas, 2 positives. IoU 0.50..0.80 (7 thresholds): TP TP (crowd-ignored) FP: every recall level
  // reached at precision 1: AP 1. IoU 0.85, 0.90: TP FP - FP: recall 0.5 at precision 1: levels 0..0.50
  // (51 of 101) give 1. IoU 0.95: nothing matches: 0. AP = (7 + 2 * 51/101) / 10 = 809/1010.
  close(r.ap, 809 / 1010, 1e-12);
  close(r.ap50, 1, 1e-12);
  close(r.ap75, 1, 1e-12);
  // Small (area <= 32^2): only A counts; d1 sits on the out-of-range B (ignored), d2 is TP up to 0.80 and
  // FP beyond, d4 is a small FP: AP 1 at 7 thresholds, 0 at 3: 0.7.
  close(r.apSmall, 0.7, 1e-12);
  // Medium: no ground truth in range: undefined (pycocotools prints -1).
  assert.ok(Number.isNaN(r.apMedium));
  // Large (area >= 96^2): only B counts; d1 is TP up to 0.90, and at 0.95 unmatched with area 9000 < 96^2,
  // hence ignored; every other detection is small or on an ignored box: 9/10.
  close(r.apLarge, 0.9, 1e-12);
  const x = r.perClass.get('x')!;
  close(x.ap, 809 / 1010, 1e-12);
  // Cross-checked: pycocotools 2.0.11 COCOeval prints 0.801, 1.000, 1.000, 0.700, -1.000, 0.900 for this case.
});

test('COCO metrics: maxDetections keeps the best-scoring detections of each image', () => {
  const classes = new Map([
    [
      'x',
      {
        groundTruths: [{ imageId: '1', box: box(0, 0, 10, 10) }],
        detections: [det('1', 0.9, 50, 50, 10, 10), det('1', 0.5, 0, 0, 10, 10)],
      },
    ],
  ]);
  // FP then TP: the precision envelope is 1/2 at every recall level: 0.5. With one detection per image only the FP survives: 0.
  close(cocoEvaluate(classes, ['1']).ap50, 0.5, 1e-12);
  assert.equal(cocoEvaluate(classes, ['1'], { maxDetections: 1 }).ap50, 0);
});

test('class mapping: built-in tables, identity, user overrides, case-insensitive', () => {
  const oi = [
    '???',
    'Bicycle',
    'Boot',
    'Laptop',
    'Person',
    'Chair',
    'Cattle',
    'Desk',
    'Cat',
    'Computer mouse',
    'Computer monitor',
    'Box',
    'Mug',
    'Coffee cup',
    'Stationary bicycle',
    'Table',
    'Bottle',
    'High heels',
    'Vehicle',
    'Footwear',
    'Dog',
    'Book',
    'Camera',
    'Car',
  ];
  assert.equal(oi.length, 24);
  const cocoNames = [...new Set(Object.values(OPEN_IMAGES_TO_COCO))].concat([
    'airplane',
    'couch',
    'potted plant',
    'motorcycle',
    'bus',
  ]);
  const toCoco = buildClassMapping(oi, cocoNames);
  assert.equal(toCoco.datasetClassOf('computer MONITOR'), 'tv');
  assert.equal(toCoco.datasetClassOf('Mug'), 'cup');
  assert.equal(toCoco.datasetClassOf('Vehicle'), undefined);
  assert.deepEqual(toCoco.sources.get('cup'), ['Mug', 'Coffee cup']);
  assert.equal(toCoco.mappedClasses.length, 14);
  assert.deepEqual(toCoco.unmappedLabels, [
    'Boot',
    'Desk',
    'Box',
    'Stationary bicycle',
    'High heels',
    'Vehicle',
    'Footwear',
    'Camera',
  ]);
  const voc = [
    'aeroplane',
    'bicycle',
    'bird',
    'boat',
    'bottle',
    'bus',
    'car',
    'cat',
    'chair',
    'cow',
    'diningtable',
    'dog',
    'horse',
    'motorbike',
    'person',
    'pottedplant',
    'sheep',
    'sofa',
    'train',
    'tvmonitor',
  ];
  assert.equal(buildClassMapping(oi, voc).mappedClasses.length, 10);
  const cocoModel = [
    'person',
    'bicycle',
    'car',
    'motorcycle',
    'airplane',
    'bus',
    'train',
    'truck',
    'boat',
    'bird',
    'cat',
    'dog',
    'horse',
    'sheep',
    'cow',
    'bottle',
    'chair',
    'couch',
    'potted plant',
    'dining table',
    'tv',
  ];
  const cocoToVoc = buildClassMapping(cocoModel, voc);
  assert.equal(cocoToVoc.mappedClasses.length, 20);
  for (const [from, to] of Object.entries(COCO_TO_VOC)) assert.equal(cocoToVoc.datasetClassOf(from), to);
  assert.equal(cocoToVoc.datasetClassOf('truck'), undefined);
  const user = buildClassMapping(
    oi,
    cocoNames,
    parseClassMap({ vehicle: 'BUS', Mug: null, constructor: 'person' }, 'inline'),
  );
  assert.equal(user.datasetClassOf('Vehicle'), 'bus');
  assert.equal(user.datasetClassOf('Mug'), undefined);
  assert.equal(user.datasetClassOf('Coffee cup'), 'cup');
  assert.throws(() => parseClassMap({ Mug: 3 }, 'map.json'), InvalidOptionError);
  assert.throws(() => parseClassMap(['Mug'], 'map.json'), InvalidOptionError);
});

function syntheticDataset(): Dataset {
  const img = (id: string, boxes: Dataset['images'][number]['boxes']) => ({
    id,
    file: `/nowhere/${id}.jpg`,
    width: 200,
    height: 200,
    boxes,
  });
  return {
    format: 'voc',
    source: 'synthetic',
    classes: ['cat', 'dog', 'cow'],
    warnings: [{ file: 'x.xml', reason: 'skipped degenerate box' }],
    images: [
      img('1', [
        { className: 'cat', ...box(0, 0, 50, 50), difficult: false },
        { className: 'dog', ...box(100, 100, 50, 50), difficult: false },
      ]),
      img('2', [
        { className: 'cat', ...box(10, 10, 50, 50), difficult: false },
        { className: 'cat', ...box(100, 0, 20, 20), difficult: true },
      ]),
    ],
  };
}

const detection = (label: string, score: number, x: number, y: number, w: number, h: number): Detection => ({
  label,
  classId: 0,
  score,
  box: box(x, y, w, h),
});

test('evaluate: shared classes, class with no ground truth, unmapped labels, report and JSON', () => {
  const dets = new Map<string, Detection[]>([
    [
      '1',
      [
        detection('Cat', 0.9, 0, 0, 50, 50),
        detection('Cattle', 0.8, 0, 0, 50, 50),
        detection('Vehicle', 0.7, 0, 0, 10, 10),
      ],
    ],
    ['2', [detection('Cat', 0.6, 100, 0, 20, 20), detection('Cat', 0.5, 10, 10, 50, 50)]],
  ]);
  const r = evaluate(syntheticDataset(), dets, { modelLabels: ['???', 'Cat', 'Dog', 'Cattle', 'Vehicle'] });
  assert.deepEqual(r.sharedClasses, ['cat', 'dog']);
  assert.deepEqual(r.mappedClassesWithoutGroundTruth, ['cow']);
  assert.deepEqual(r.unmappedModelLabels, ['Vehicle']);
  assert.deepEqual(r.detections, { scored: 3, notScored: 2 });
  const cat = r.perClass.find((c) => c.className === 'cat')!;
  // cat: 0.9 TP, 0.6 on the difficult box (ignored), 0.5 TP: AP 1. dog: no detections: AP 0.
  assert.deepEqual([cat.groundTruths, cat.ignoredGroundTruths, cat.truePositives, cat.falsePositives], [2, 1, 2, 0]);
  assert.equal(cat.ap, 1);
  assert.equal(r.perClass.find((c) => c.className === 'dog')!.ap, 0);
  assert.equal(r.mAP, 0.5);
  assert.equal(r.mAP11, 0.5);
  close(r.coco.ap, 0.5, 1e-12);
  const text = formatEvaluationReport(r);
  assert.match(text, /shared classes \(2\): cat, dog/);
  assert.match(text, /^cat\s+Cat\s+2\s+1\s+3\s+2\s+0\s+100\.0%/m);
  assert.match(text, /all-point 50\.0%, 11-point 50\.0%/);
  assert.match(text, /1 annotation\(s\) skipped/);
  // Every counted box is 50x50 (medium): no small or large ground truth.
  close(r.coco.apMedium, 0.5, 1e-12);
  const json = evaluationToJson(r) as { perClass: Record<string, unknown>[]; coco: { apSmall: unknown } };
  assert.equal(json.coco.apSmall, null, 'NaN metrics become null');
  assert.ok(!('precision' in json.perClass[0]!));
  assert.ok('precision' in (evaluationToJson(r, { curves: true }) as typeof json).perClass[0]!);
  assert.throws(() => evaluate(syntheticDataset(), { '9': [] }, { modelLabels: ['Cat'] }), InvalidInputError);
  assert.throws(() => evaluate(syntheticDataset(), {}, { modelLabels: ['Horse'] }), InvalidInputError);
});

test('PR chart: self-contained SVG with one curve and legend entry per class', () => {
  const r = evaluate(
    syntheticDataset(),
    { '1': [detection('cat', 0.9, 0, 0, 50, 50)] },
    { modelLabels: ['cat', 'dog'] },
  );
  const svg = evaluationPrChart(r);
  const root = parseXml(svg, 'chart.svg');
  assert.equal(root.name, 'svg');
  assert.equal(
    root.children.filter((c) => c.name === 'polyline').length,
    1,
    'dog has no detections, hence no curve points',
  );
  assert.match(svg, /mAP 25\.0% over 2 classes/);
  assert.match(svg, /cat \(AP 50\.0%\)/);
  assert.ok(!/<script|href=/.test(svg));
  const escaped = prChartSvg([{ label: 'a<b & "c"', recall: [0.5, 1], precision: [1, 0.5] }], { title: 'T&T' });
  assert.doesNotThrow(() => parseXml(escaped, 'chart.svg'));
  assert.match(escaped, /a&lt;b &amp; &quot;c&quot;/);
  // Points along one recall or one precision, and repeats, collapse to the corners of the line.
  const run = prChartSvg(
    [{ label: 'run', recall: [0, 0.5, 0.5, 0.5, 0.5, 0.75, 1, 1], precision: [1, 1, 0.8, 0.6, 0.6, 0.6, 0.6, 0.6] }],
    { plotSize: 100 },
  );
  assert.match(run, /points="56,44 106,44 106,84 156,84"/);
});

test('evaluate on voc2012-100 with its own boxes as COCO-model detections scores 1 on all 20 classes', async () => {
  const dataset = await readDataset(join(datasets, 'voc2012-100'));
  const vocToCoco = Object.fromEntries(Object.entries(COCO_TO_VOC).map(([c, v]) => [v, c]));
  const dets = new Map(
    dataset.images.map((im) => [
      im.id,
      im.boxes.map((b) => detection(vocToCoco[b.className] ?? b.className, 0.9, b.x, b.y, b.width, b.height)),
    ]),
  );
  const cocoLabels = [
    'person',
    'bicycle',
    'car',
    'motorcycle',
    'airplane',
    'bus',
    'train',
    'truck',
    'boat',
    'bird',
    'cat',
    'dog',
    'horse',
    'sheep',
    'cow',
    'bottle',
    'chair',
    'couch',
    'potted plant',
    'dining table',
    'tv',
    'laptop',
  ];
  const r = evaluate(dataset, dets, { modelLabels: cocoLabels });
  assert.equal(r.sharedClasses.length, 20);
  assert.deepEqual([r.mAP, r.mAP11, r.coco.ap, r.coco.ap50], [1, 1, 1, 1]);
  assert.equal(
    r.perClass.reduce((n, c) => n + c.ignoredGroundTruths, 0),
    38,
    'the difficult boxes',
  );
  assert.deepEqual(r.unmappedModelLabels, ['truck', 'laptop']);
});

test('evaluate on coco128-val with the Open Images labels: 13 shared classes (cow has no ground truth)', async () => {
  const dataset = await readDataset(join(datasets, 'coco128-val'));
  const oi = [
    'Bicycle',
    'Laptop',
    'Person',
    'Chair',
    'Cattle',
    'Cat',
    'Computer mouse',
    'Computer monitor',
    'Mug',
    'Coffee cup',
    'Table',
    'Bottle',
    'Dog',
    'Book',
    'Car',
    'Vehicle',
  ];
  const r = evaluate(dataset, new Map(), { modelLabels: oi });
  assert.equal(r.sharedClasses.length, 13);
  assert.deepEqual(r.mappedClassesWithoutGroundTruth, ['cow']);
  assert.deepEqual([r.mAP, r.coco.ap], [0, 0]);
});
