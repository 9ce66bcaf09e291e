/**
 * precision 'f16' against 'f32' on every golden of the five float models (the goldens' exact input tensors,
 * each model's own detection settings): the same detections in the same order, with the same labels, IoU >= 0.99
 * and scores within 5e-3 of f32's (the accuracy budget stated in the README). Runs where the adapter offers
 * shader-f16 (lavapipe does); elsewhere (SwiftShader) it skips and says why.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { HeadDetection, HeadOptions } from '../src/ssd/head_types.ts';
import type { LoadedModel } from '../src/graph/weights.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { buildGoldenInput, GOLDEN_MODELS, goldenStems, loadGolden } from './support/goldens.ts';
import { GOLDEN_MODEL_LOADERS } from './support/golden_models.ts';
import { TensorPipeline } from './support/pipeline.ts';

after(releaseGpu);

/** The accuracy budget for f16 against f32. */
const MIN_IOU = 0.99;
const MAX_SCORE_DIFF = 5e-3;

function iou(a: HeadDetection, b: HeadDetection): number {
  const ih = Math.max(0, Math.min(a.ymax, b.ymax) - Math.max(a.ymin, b.ymin));
  const iw = Math.max(0, Math.min(a.xmax, b.xmax) - Math.max(a.xmin, b.xmin));
  const inter = ih * iw;
  const area = (r: HeadDetection) => (r.ymax - r.ymin) * (r.xmax - r.xmin);
  return inter / (area(a) + area(b) - inter);
}

/** The model's own post-processing settings (what detect() uses when a call leaves them out). */
function defaults(model: LoadedModel): HeadOptions {
  const d = model.json.ssd.defaults;
  return { ...d, nms: d.nms ?? 'greedy' };
}

for (const name of GOLDEN_MODELS) {
  test(`f16 vs f32 on the ${name} goldens: same labels, IoU >= ${MIN_IOU}, scores within ${MAX_SCORE_DIFF}`, async (t) => {
    const ctx = await gpu();
    if (!ctx.hasF16) {
      t.skip(`${ctx.describe()} does not offer shader-f16: precision 'f16' cannot run here`);
      return;
    }
    const model = await GOLDEN_MODEL_LOADERS[name]();
    const f32 = await TensorPipeline.create(ctx, model, 100, 'f32');
    const f16 = await TensorPipeline.create(ctx, model, 100, 'f16');
    const options = defaults(model);
    for (const stem of goldenStems(name)) {
      const input = buildGoldenInput(loadGolden(name, stem)).engine;
      const ref = (await f32.run(input, options)).detections;
      const half = (await f16.run(input, options)).detections;
      const list = (ds: HeadDetection[]) => ds.map((d) => `${d.classId}:${d.score.toFixed(4)}`).join(' ');
      assert.equal(half.length, ref.length, `${stem}: f16 ${list(half)} vs f32 ${list(ref)}`);
      let worstIou = 1;
      let worstScore = 0;
      ref.forEach((r, i) => {
        const h = half[i]!;
        assert.equal(h.classId, r.classId, `${stem} detection ${i}: class ${h.classId} vs f32's ${r.classId}`);
        const o = iou(h, r);
        const ds = Math.abs(h.score - r.score);
        assert.ok(o >= MIN_IOU, `${stem} detection ${i}: IoU ${o} with f32's box`);
        assert.ok(ds <= MAX_SCORE_DIFF, `${stem} detection ${i}: score ${h.score} vs f32's ${r.score}`);
        worstIou = Math.min(worstIou, o);
        worstScore = Math.max(worstScore, ds);
      });
      t.diagnostic(
        `${stem}: ${ref.length} detections, worst IoU ${worstIou.toFixed(4)}, worst score diff ${worstScore.toExponential(1)}`,
      );
    }
  });
}
