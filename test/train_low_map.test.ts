/**
 * `--low-map`: the stride-8 predictor pair on oid-v4. Its boxes come first in both outputs and in the
 * anchor table, the recorded generator makes that table again (so the folder resizes and loads like any
 * model), the base model's predictions are untouched, and training takes the new map's nodes while
 * the named regions still start at the base model's first predictor.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constData, type LoadedModel } from '../src/graph/weights.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { anchorLayers, regenerateAnchors, resizeModelInput } from '../src/ssd/resize_input.ts';
import { cellShapes } from '../src/train/anchor_fit.ts';
import { LOW_MAP_PREFIX, trainingRegion } from '../src/train/graph.ts';
import { addLowMap, LOW_MAP_SHAPES, lowMapSource } from '../src/train/low_map.ts';
import { newClassHeads } from '../src/train/model_surgery.ts';

const base = await resolveModel('oid-v4');

test('the low map: 38x38 boxes first, anchors the generator reproduces, the base boxes unchanged', () => {
  const src = lowMapSource(base.json);
  assert.equal(src.name, 'FeatureExtractor/MobilenetV2/expanded_conv_6/expand/Relu6');
  const model = addLowMap(base);
  const json = model.json;
  const k = LOW_MAP_SHAPES.length;
  const low = 38 * 38 * k;
  assert.deepEqual(json.shapes[json.outputs.boxes], [1, 1917 + low, 4]);
  assert.deepEqual(json.shapes[json.outputs.scores], [1, 1917 + low, json.labels.length]);
  const layers = anchorLayers(json, json.shapes);
  assert.deepEqual(layers[0], { height: 38, width: 38, perCell: k });
  assert.equal(layers.length, 7);
  const anchors = constData(model, json.ssd.anchors).data;
  const before = constData(base, base.json.ssd.anchors).data;
  assert.deepEqual(anchors.subarray(4 * low), before, 'the base model’s anchors follow, unchanged');
  // Cell (y 1, x 2), box 3: centre ((1 + 0.5) / 38, (2 + 0.5) / 38) and the fourth shape.
  const row = (1 * 38 + 2) * k + 3;
  const want = [1.5 / 38, 2.5 / 38, LOW_MAP_SHAPES[3]!.h, LOW_MAP_SHAPES[3]!.w];
  want.forEach((v, i) => assert.ok(Math.abs(anchors[4 * row + i]! - v) < 1e-7, `anchor ${row}[${i}]`));
  // The generator records every layer's shapes, so it makes this table again (at 300 and, resized, at 512).
  const again = regenerateAnchors(json.ssd.anchorGenerator!, layers, 300, 300, 'relative');
  again.forEach((v, i) => assert.ok(Math.abs(v - anchors[i]!) < 1e-6, `regenerated anchor value ${i}`));
  assert.deepEqual(
    cellShapes(anchors, layers)[0],
    LOW_MAP_SHAPES.map((b) => ({ h: Math.fround(b.h), w: Math.fround(b.w) })),
  );
  // The low map's features start as the backbone's (a copy of the same convolution).
  const copy = json.nodes.find((n) => n.name === `${LOW_MAP_PREFIX}features`)!;
  assert.deepEqual(copy.inputs, src.inputs);
  assert.deepEqual(constData(model, `${LOW_MAP_PREFIX}features/filter`).data, constData(base, src.filter).data);
  // Then a copy of the block's 3x3 depthwise at stride 1 (the backbone's is stride 2), which the predictors read.
  const block = base.json.nodes.find((n) => n.op === 'depthwise_conv2d' && n.inputs[0] === src.outputs[0])!;
  const context = json.nodes.find((n) => n.name === `${LOW_MAP_PREFIX}context`)!;
  assert.equal(context.op, 'depthwise_conv2d');
  assert.deepEqual(context.inputs, [`${LOW_MAP_PREFIX}features`]);
  assert.deepEqual((block as { strides: number[] }).strides, [2, 2]);
  assert.deepEqual((context as { strides: number[] }).strides, [1, 1]);
  assert.deepEqual(json.shapes[`${LOW_MAP_PREFIX}context`], [1, 38, 38, 192]);
  assert.deepEqual(
    constData(model, `${LOW_MAP_PREFIX}context/filter`).data,
    constData(base, (block as { filter: string }).filter).data,
  );
  for (const kind of ['BoxEncodingPredictor', 'ClassPredictor'])
    assert.deepEqual(json.nodes.find((n) => n.name === `${LOW_MAP_PREFIX}${kind}`)!.inputs, [
      `${LOW_MAP_PREFIX}context`,
    ]);
  assert.throws(() => addLowMap(model), /already/);
});

test('the low map resizes with the model: 64x64 at 512', async () => {
  const big = await resizeModelInput(addLowMap(base), 512, 512, 'relative');
  const layers = anchorLayers(big.json, big.json.shapes);
  assert.deepEqual(layers[0], { height: 64, width: 64, perCell: LOW_MAP_SHAPES.length });
  const anchors = constData(big, big.json.ssd.anchors).data;
  assert.equal(anchors.length / 4, big.json.shapes[big.json.outputs.boxes]![1]);
  assert.ok(Math.abs(anchors[2]! - LOW_MAP_SHAPES[0]!.h) < 1e-7, 'relative sizes kept');
});

test('training takes the low map with every region; the named regions start where they did', () => {
  const heads = (m: LoadedModel) => newClassHeads(m, ['a', 'b']);
  const plain = heads(base);
  const low = heads(addLowMap(base));
  for (const from of ['heads', 'features'] as const) {
    const a = trainingRegion(plain.json, from);
    const b = trainingRegion(low.json, from);
    const added = b.trained.filter((n) => n.name.startsWith(LOW_MAP_PREFIX)).map((n) => n.name);
    assert.deepEqual(added.sort(), [
      `${LOW_MAP_PREFIX}BoxEncodingPredictor`,
      `${LOW_MAP_PREFIX}ClassPredictor`,
      `${LOW_MAP_PREFIX}context`,
      `${LOW_MAP_PREFIX}features`,
    ]);
    assert.equal(b.trained.length, a.trained.length + 4, from);
    assert.deepEqual(b.cuts.sort(), [...a.cuts, 'FeatureExtractor/MobilenetV2/expanded_conv_5/add'].sort(), from);
  }
});
