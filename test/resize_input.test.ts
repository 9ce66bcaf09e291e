/**
 * Running a model at another input size: shapes re-inferred through the graph, anchors regenerated
 * by the generator recorded at conversion (and equal to the stored ones at the native size), and the
 * GPU executor at the new size equal to the CPU reference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { InvalidOptionError, load } from '../src/index.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { validateModel } from '../src/graph/model_format.ts';
import { runRawOutputs } from '../src/graph/raw.ts';
import { runReference } from '../src/graph/reference.ts';
import { inferShapes } from '../src/graph/shapes.ts';
import { anchorLayers, regenerateAnchors, resizeModelInput } from '../src/ssd/resize_input.ts';
import { constData, type LoadedModel } from '../src/graph/weights.ts';
import { decodeImage } from '../src/image/decode.ts';
import { preprocessRef } from '../src/kernels/preprocess_ref.ts';
import { parseTflite, tensorData } from '../src/convert/tflite.ts';
import { assertClose, gpu, releaseGpu } from './support/gpu.ts';
import { cocoBytes, convertedCoco, convertedFace, convertedOid } from './support/model_sources.ts';

after(releaseGpu);

/** The COCO model stores its anchors as uint8: the generator matches them within half a step. */
function cocoAnchorStep(): number {
  const m = parseTflite(cocoBytes(), 'coco');
  const t = m.tensors.find((x) => x.name === 'anchors')!;
  assert.ok(tensorData(m, t));
  return t.quantization!.scale[0]!;
}

const MODELS: [string, () => Promise<LoadedModel>, () => number][] = [
  ['oid-v4', convertedOid, () => 0],
  ['coco (uint8 anchors)', convertedCoco, () => cocoAnchorStep() / 2 + 1e-6],
  // face-api's anchors were computed in float32 by TF: a couple of ulps from ours.
  ['face', convertedFace, () => 3e-7],
];

for (const [name, convert, tolerance] of MODELS) {
  test(`${name}: at its own size, re-inferred shapes equal the conversion's and the recorded generator reproduces the stored anchors`, async () => {
    const m = await convert();
    const { height, width } = m.json.preprocess;
    const { shapes, nodes } = inferShapes(m.json, height, width);
    assert.deepEqual(shapes, m.json.shapes);
    assert.deepEqual(nodes, m.json.nodes);
    const generator = m.json.ssd.anchorGenerator;
    assert.ok(generator, 'the converter records the anchor generator');
    const regenerated = regenerateAnchors(generator, anchorLayers(m.json, shapes), height, width);
    assertClose(regenerated, constData(m, m.json.ssd.anchors).data, tolerance(), 0, 'anchors');
    assert.equal(await resizeModelInput(m, height, width), m, 'the native size keeps the model as it is');
  });
}

test('oid-v4 at 224: feature maps 14/7/4/2/1/1, 1014 anchors for 1014 predictions, a valid model', async () => {
  const m = await resizeModelInput(await convertedOid(), 224, 224);
  validateModel(m.json, m.weights, 'oid@224');
  const layers = anchorLayers(m.json, m.json.shapes);
  assert.deepEqual(
    layers.map((l) => [l.height, l.width, l.perCell]),
    [
      [14, 14, 3],
      [7, 7, 6],
      [4, 4, 6],
      [2, 2, 6],
      [1, 1, 6],
      [1, 1, 6],
    ],
  );
  const count = layers.reduce((n, l) => n + l.height * l.width * l.perCell, 0);
  assert.equal(count, 1014);
  assert.deepEqual(m.json.shapes[m.json.outputs.boxes], [1, count, 4]);
  assert.deepEqual(m.json.shapes[m.json.outputs.scores], [1, count, 24]);
  assert.deepEqual(m.json.shapes[m.json.input], [1, 224, 224, 3]);
  const anchors = constData(m, m.json.ssd.anchors).data;
  assert.equal(anchors.length, count * 4);
  // Centres on the new grids; sizes kept in pixels of the trained 300x300 input: the first cell of the
  // 14x14 map (scale 0.1) and the first box of the 7x7 map (scale 0.35).
  const k = 300 / 224;
  assertClose(anchors.subarray(0, 4), [0.5 / 14, 0.5 / 14, 0.1 * k, 0.1 * k], 1e-6, 0, 'anchor 0');
  assertClose(anchors.subarray(4 * 588, 4 * 588 + 4), [0.5 / 7, 0.5 / 7, 0.35 * k, 0.35 * k], 1e-6, 0, 'anchor 588');
  // Relative sizing: the generator's own anchors for a 224x224 input.
  const relative = constData(
    await resizeModelInput(await convertedOid(), 224, 224, 'relative'),
    m.json.ssd.anchors,
  ).data;
  assertClose(relative.subarray(0, 4), [0.5 / 14, 0.5 / 14, 0.1, 0.1], 1e-7, 0, 'relative anchor 0');
  assertClose(relative.subarray(4 * 588, 4 * 588 + 4), [0.5 / 7, 0.5 / 7, 0.35, 0.35], 1e-7, 0, 'relative anchor 588');
});

test('non-square sizes and the face model (its 2017 TF anchor order) resize too', async () => {
  const oid = await resizeModelInput(await convertedOid(), 256, 192);
  validateModel(oid.json, oid.weights, 'oid@256x192');
  assert.deepEqual(
    anchorLayers(oid.json, oid.json.shapes).map((l) => [l.height, l.width]),
    [
      [16, 12],
      [8, 6],
      [4, 3],
      [2, 2],
      [1, 1],
      [1, 1],
    ],
  );
  const face = await resizeModelInput(await convertedFace(), 320, 320);
  validateModel(face.json, face.weights, 'face@320');
  assert.deepEqual(
    anchorLayers(face.json, face.json.shapes).map((l) => l.height),
    [20, 10, 5, 3, 2, 1],
  );
  assert.equal(face.json.shapes[face.json.outputs.boxes]![1], 20 * 20 * 3 + (100 + 25 + 9 + 4 + 1) * 6);
});

test('a model without a recorded generator can only run at its own size', async () => {
  const m = await convertedOid();
  const { anchorGenerator: _, ...ssd } = m.json.ssd;
  const old = { ...m, json: { ...m.json, ssd } };
  await assert.rejects(
    resizeModelInput(old, 224, 224),
    (e: unknown) => e instanceof InvalidOptionError && /no anchor generator/.test((e as Error).message),
  );
  await assert.rejects(resizeModelInput(m, 0, 224), InvalidOptionError);
  // An absurd size is refused before any shape or anchor table is sized by it.
  await assert.rejects(
    resizeModelInput(m, 40000, 40000),
    (e: unknown) => e instanceof InvalidOptionError && /4096/.test((e as Error).message),
  );
});

test('the GPU executor at 224 equals the CPU reference executor on a real photo', async () => {
  const ctx = await gpu();
  const m = await resizeModelInput(await convertedOid(), 224, 224);
  const img = decodeImage(new Uint8Array(readFileSync('samples/dog.jpg')), 'dog.jpg');
  const input = preprocessRef(m.json.preprocess, img);
  assert.equal(input.length, 224 * 224 * 3);
  const packed = packModelWeights(ctx, m);
  const ex = await GraphExecutor.create(ctx, m, packed, 1);
  const got = await runRawOutputs(ctx, ex, input);
  const ref = runReference(m, input);
  // The parity tolerance of the fp32 models (test/parity.test.ts).
  assertClose(got.get(m.json.outputs.boxes)!, ref.get(m.json.outputs.boxes)!, 2e-4, 1e-4, 'box encodings');
  assertClose(got.get(m.json.outputs.scores)!, ref.get(m.json.outputs.scores)!, 2e-4, 1e-4, 'class logits');
  ex.destroy();
  packed.buffer?.destroy();
});

test('load({ inputSize: 224 }) still finds the dog, the bicycle and the car, boxes about their size at 300', async () => {
  const det = await load('oid-v4', { inputSize: 224 });
  const full = await load('oid-v4');
  try {
    assert.deepEqual(det.info.input, { width: 224, height: 224, resize: 'stretch' });
    const found = await det.detect('samples/dog.jpg', { scoreThreshold: 0.5 });
    const ref = await full.detect('samples/dog.jpg');
    for (const r of ref) {
      const d = found.find((x) => x.label === r.label);
      assert.ok(d, `${r.label} in ${found.map((x) => `${x.label} ${x.score.toFixed(2)}`).join(', ')}`);
      // Anchors that kept their trained pixel size keep the boxes' scale (relative ones shrink them by 224/300).
      for (const k of ['width', 'height'] as const)
        assert.ok(Math.abs(d.box[k] / r.box[k] - 1) < 0.15, `${r.label} ${k}: ${d.box[k]} vs ${r.box[k]} at 300`);
    }
  } finally {
    det.dispose();
    full.dispose();
  }
  await assert.rejects(load('oid-v4', { inputSize: [224] as unknown as [number, number] }), InvalidOptionError);
});
