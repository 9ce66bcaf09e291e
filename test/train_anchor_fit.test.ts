/**
 * Anchors fitted to a dataset: k-means under the IoU distance recovers known clusters, each box goes
 * to the feature map whose shapes fit it best, and on a synthetic box set placed on the grid the
 * fitted anchors match every box at IoU >= 0.5 where the pretrained ones matched none of the small ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constData } from '../src/graph/weights.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { gridAnchors, MEDIAPIPE_SSD_300 } from '../src/ssd/anchors.ts';
import { anchorLayers, resizeModelInput } from '../src/ssd/resize_input.ts';
import {
  anchorCoverage,
  cellShapes,
  fitAnchors,
  fitCellShapes,
  kmeansShapes,
  shapeIou,
  withCellShapes,
  type Shape,
} from '../src/train/anchor_fit.ts';
import type { GroundTruth } from '../src/train/targets.ts';

/** Around each centre, four shapes whose mean is the centre: the known k-means answer. */
function clusters(centres: Shape[]): Shape[] {
  return centres.flatMap((c) => [
    { h: c.h * 1.08, w: c.w },
    { h: c.h * 0.92, w: c.w },
    { h: c.h, w: c.w * 1.06 },
    { h: c.h, w: c.w * 0.94 },
  ]);
}

const PLATELET = { h: 0.06, w: 0.045 };
const RBC_TALL = { h: 0.2, w: 0.15 };
const RBC_WIDE = { h: 0.12, w: 0.14 };

test('shape IoU: centred boxes', () => {
  assert.equal(shapeIou({ h: 0.2, w: 0.2 }, { h: 0.2, w: 0.2 }), 1);
  assert.equal(shapeIou({ h: 0.1, w: 0.1 }, { h: 0.2, w: 0.2 }), 0.25);
  assert.ok(Math.abs(shapeIou({ h: 0.1, w: 0.4 }, { h: 0.4, w: 0.1 }) - 0.01 / 0.07) < 1e-12);
});

test('k-means under 1 - IoU recovers three clusters, ordered by area, from any input order', () => {
  const shapes = clusters([RBC_WIDE, PLATELET, RBC_TALL]);
  for (const order of [shapes, [...shapes].reverse()]) {
    const c = kmeansShapes(order, 3);
    [PLATELET, RBC_WIDE, RBC_TALL].forEach((want, i) => {
      assert.ok(Math.abs(c[i]!.h - want.h) < 1e-12 && Math.abs(c[i]!.w - want.w) < 1e-12, JSON.stringify(c));
    });
  }
  assert.throws(() => kmeansShapes(shapes.slice(0, 2), 3), /2 shapes for 3 clusters/);
  assert.throws(() => kmeansShapes(shapes, 0), /positive integer/);
});

test('each box goes to the feature map whose shapes fit it best; a map with too few boxes keeps its shapes', () => {
  const current = [
    [
      { h: 0.1, w: 0.1 },
      { h: 0.14, w: 0.28 },
    ],
    [{ h: 0.35, w: 0.35 }],
    [
      { h: 0.8, w: 0.8 },
      { h: 0.9, w: 0.6 },
    ],
  ];
  const big = { h: 0.4, w: 0.3 };
  const fitted = fitCellShapes(clusters([PLATELET, RBC_WIDE, big]), current);
  // Platelets and red cells fit map 0 best, the large boxes map 1; map 2 gets none.
  const close = (a: Shape, b: Shape) => Math.abs(a.h - b.h) < 1e-12 && Math.abs(a.w - b.w) < 1e-12;
  assert.equal(fitted[0]!.length, 2);
  assert.ok(close(fitted[0]![0]!, PLATELET) && close(fitted[0]![1]!, RBC_WIDE), JSON.stringify(fitted));
  assert.equal(fitted[1]!.length, 1);
  assert.ok(close(fitted[1]![0]!, big), JSON.stringify(fitted));
  assert.deepEqual(fitted[2], current[2]);
});

test('cell shapes read from and written into an anchor table; the grid generator makes the same table', () => {
  const anchors = gridAnchors(MEDIAPIPE_SSD_300);
  const layers = [19, 10, 5, 3, 2, 1].map((f, i) => ({ height: f, width: f, perCell: i ? 6 : 3 }));
  const shapes = cellShapes(anchors, layers);
  assert.deepEqual(
    shapes.map((s) => s.length),
    [3, 6, 6, 6, 6, 6],
  );
  assert.ok(Math.abs(shapes[0]![0]!.h - 0.1) < 1e-6);
  const fitted = shapes.map((l, i) => l.map((s) => ({ h: s.h / (i + 2), w: s.w / (i + 3) })));
  const table = withCellShapes(anchors, layers, fitted);
  const regenerated = gridAnchors({
    ...MEDIAPIPE_SSD_300,
    cellShapes: fitted.map((l) => ({ h: l.map((s) => s.h), w: l.map((s) => s.w) })),
  });
  assert.equal(regenerated.length, table.length);
  for (let i = 0; i < table.length; i++) assert.ok(Math.abs(regenerated[i]! - table[i]!) < 1e-7, `row ${i >> 2}`);
  assert.throws(() => cellShapes(anchors.subarray(4), layers), /anchors for feature maps/);
});

/** One box of `shape` centred on every `step`-th cell of a `grid` x `grid` map. */
function boxesOnGrid(grid: number, step: number, shape: Shape, cls: number): GroundTruth {
  const rows: number[] = [];
  for (let y = 0; y < grid; y += step)
    for (let x = 0; x < grid; x += step) {
      const [yc, xc] = [(y + 0.5) / grid, (x + 0.5) / grid];
      rows.push(yc - shape.h / 2, xc - shape.w / 2, yc + shape.h / 2, xc + shape.w / 2);
    }
  return { boxes: new Float32Array(rows), classes: new Int32Array(rows.length / 4).fill(cls) };
}

test('fitAnchors on oid-v4: synthetic platelets on the 19x19 grid go from 0% to 100% matched at IoU >= 0.5', async () => {
  const model = await resolveModel('oid-v4');
  // A 0.06 x 0.045 box has IoU 0.27 with the smallest default box (0.1 x 0.1): no match at 0.5.
  const small = boxesOnGrid(19, 3, PLATELET, 1);
  const cells = boxesOnGrid(19, 4, RBC_TALL, 2);
  const truths = [small, cells];
  const before = constData(model, model.json.ssd.anchors).data;
  assert.equal(anchorCoverage(before, [small]), 0);
  const fit = fitAnchors(model, truths);
  assert.ok(fit.before < 1 && fit.after === 1, `${fit.before} -> ${fit.after}`);
  const layer0 = fit.shapes[0]!;
  assert.ok(layer0.some((s) => Math.abs(s.h - PLATELET.h) < 1e-6 && Math.abs(s.w - PLATELET.w) < 1e-6));
  assert.ok(layer0.some((s) => Math.abs(s.h - RBC_TALL.h) < 1e-6 && Math.abs(s.w - RBC_TALL.w) < 1e-6));
  // The maps that got no boxes keep their shapes; the centres never move.
  const after = constData(fit.model, fit.model.json.ssd.anchors).data;
  const layers = anchorLayers(model.json, model.json.shapes);
  assert.deepEqual(cellShapes(after, layers).slice(1), cellShapes(before, layers).slice(1));
  for (let i = 0; i < after.length; i += 4) assert.deepEqual([after[i], after[i + 1]], [before[i], before[i + 1]]);
  // The recorded generator reproduces the fitted table, and regenerates it for another input size.
  const gen = fit.model.json.ssd.anchorGenerator;
  assert.equal(gen?.kind, 'grid');
  const again = gridAnchors(gen.options);
  for (let i = 0; i < after.length; i++) assert.ok(Math.abs(again[i]! - after[i]!) < 1e-6);
  const at512 = await resizeModelInput(fit.model, 512, 512, 'relative');
  const layers512 = anchorLayers(at512.json, at512.json.shapes);
  assert.equal(layers512[0]!.height, 32);
  const shapes512 = cellShapes(constData(at512, at512.json.ssd.anchors).data, layers512);
  assert.ok(Math.abs(shapes512[0]![0]!.h - layer0[0]!.h) < 1e-6);
});
