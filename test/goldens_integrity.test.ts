// The reference outputs in test/fixtures/goldens/ parse, their arrays match their shapes, and our
// preprocessRef rebuilds the exact input tensor (same sha256) from the recorded image and recipe, so parity
// tests can recreate the reference input at test time.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GOLDEN_MODELS, buildGoldenInput, goldenStems, loadGolden } from './support/goldens.ts';

const expectedOutputs: Record<string, Record<string, number[]>> = {
  'oid-ssd-mobilenetv2': { 'raw_outputs/box_encodings': [1, 1917, 4], 'raw_outputs/class_predictions': [1, 1917, 24] },
  'coco-ssd-mobilenetv1-quant': {
    TFLite_Detection_PostProcess: [1, 10, 4],
    'TFLite_Detection_PostProcess:1': [1, 10],
    'TFLite_Detection_PostProcess:2': [1, 10],
    'TFLite_Detection_PostProcess:3': [1],
    Squeeze: [1, 1917, 4],
    concat_1: [1, 1917, 91],
    convert_scores: [1, 1917, 91],
  },
  'face-ssd-mobilenetv1': { box_encodings: [1, 5118, 4], class_logits: [1, 5118, 3], boxes: [5118, 4], scores: [5118] },
  'blazeface-short-range': { regressors: [1, 896, 16], classificators: [1, 896, 1] },
  'blazeface-full-range': { reshaped_regressor_face_4: [1, 2304, 16], reshaped_classifier_face_4: [1, 2304, 1] },
};

/** Goldens of images with nothing the model detects: the face detectors on the darknet dog. */
const EMPTY = new Set(['blazeface-short-range/darknet__dog', 'blazeface-full-range/darknet__dog']);

for (const model of GOLDEN_MODELS) {
  test(`goldens ${model}: at least three images`, () => {
    assert.ok(goldenStems(model).length >= 3, `${model} has ${goldenStems(model).length} goldens`);
  });

  for (const stem of goldenStems(model)) {
    test(`goldens ${model}/${stem}: parses, arrays match shapes`, () => {
      const g = loadGolden(model, stem);
      assert.match(g.inputSha256, /^[0-9a-f]{64}$/);
      assert.equal(g.input.dtype, g.recipe.input.kind);
      assert.deepEqual(g.input.shape, [1, g.recipe.input.spec.height, g.recipe.input.spec.width, 3]);
      assert.deepEqual(
        Object.fromEntries(Object.entries(g.outputs).map(([k, v]) => [k, v.shape])),
        expectedOutputs[model],
      );
      for (const [name, o] of Object.entries(g.outputs)) {
        assert.equal(
          o.data.length,
          o.shape.reduce((a, b) => a * b, 1),
          name,
        );
        assert.ok(o.data.every(Number.isFinite), `${name} has non-finite values`);
        if (o.dtype === 'uint8') assert.equal(o.quantized?.length, o.data.length, name);
      }
      if (EMPTY.has(`${model}/${stem}`)) assert.equal(g.detections.length, 0, 'detections on an image without any');
      else assert.ok(g.detections.length > 0, 'no reference detections');
      for (const d of g.detections) {
        assert.equal(typeof d.label, 'string');
        assert.ok(d.score > 0 && d.score <= 1, `score ${d.score}`);
        assert.ok(d.box.ymax > d.box.ymin && d.box.xmax > d.box.xmin, 'degenerate box');
        assert.ok(d.anchor >= 0, `${d.label} ${d.score}: anchor not matched`);
      }
      for (let i = 1; i < g.detections.length; i++)
        assert.ok(g.detections[i - 1]!.score >= g.detections[i]!.score, 'detections not sorted by score');
    });

    test(`goldens ${model}/${stem}: preprocessRef rebuilds the recorded input`, () => {
      const g = loadGolden(model, stem);
      const input = buildGoldenInput(g);
      assert.equal(input.imageSha256, g.recipe.image.sha256, 'image file changed');
      assert.equal(input.dtype, g.input.dtype);
      assert.deepEqual(input.shape, g.input.shape);
      assert.equal(input.sha256, g.inputSha256, 'input tensor differs from the one fed to the reference runtime');
      assert.equal(input.engine.length, input.data.length);
    });
  }
}
