/**
 * The SSD head's two score passes on the goldens' raw tensors (what TFLite / face-api computed for the
 * golden images): the subgroup pass, forced, must write the plain pass's output word for word, and both must
 * give the CPU reference's detections. Skipped, with the reason, where the device has no usable subgroups;
 * test/ssd_head.test.ts runs both passes over its shape grids the same way.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { GpuContext } from '../src/gpu/context.ts';
import { encodeDispatches } from '../src/gpu/dispatch.ts';
import { constData } from '../src/graph/weights.ts';
import { parseDetections, SsdHead } from '../src/ssd/head.ts';
import { ssdHeadRef } from '../src/ssd/head_ref.ts';
import { keypointCount, type HeadOptions } from '../src/ssd/head_types.ts';
import { gpu, releaseGpu, storage } from './support/gpu.ts';
import { goldenStems, loadGolden, type Golden, type GoldenModel } from './support/goldens.ts';
import { GOLDEN_MODEL_LOADERS } from './support/golden_models.ts';

after(releaseGpu);

/** Each golden model's raw box and score tensors, and the head options of its reference pipeline (parity.test.ts). */
const MODELS: Record<GoldenModel, { tensors: (g: Golden) => [Float32Array, Float32Array]; options: HeadOptions }> = {
  'oid-ssd-mobilenetv2': {
    tensors: (g) => [g.outputs['raw_outputs/box_encodings']!.data, g.outputs['raw_outputs/class_predictions']!.data],
    options: { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false },
  },
  'face-ssd-mobilenetv1': {
    tensors: (g) => [g.outputs['box_encodings']!.data, g.outputs['class_logits']!.data],
    options: { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false },
  },
  // TFLite's post-process op scores with the uint8 sigmoid output: its exact logits. Per-class NMS at a low
  // threshold makes thousands of candidates, the subgroup pass's ballot-aggregated appends.
  'coco-ssd-mobilenetv1-quant': {
    tensors: (g) => [
      g.outputs['Squeeze']!.data,
      g.outputs['convert_scores']!.data.map((q) => (q <= 0 ? -1e4 : q >= 1 ? 1e4 : Math.log(q / (1 - q)))),
    ],
    options: { scoreThreshold: 0.01, iouThreshold: 0.6, maxDetections: 100, perClassNms: true },
  },
  'blazeface-short-range': {
    tensors: (g) => blazefaceTensors(g),
    options: { scoreThreshold: 0.5, iouThreshold: 0.3, maxDetections: 100, perClassNms: false, nms: 'weighted' },
  },
  'blazeface-full-range': {
    tensors: (g) => blazefaceTensors(g),
    options: { scoreThreshold: 0.6, iouThreshold: 0.3, maxDetections: 100, perClassNms: false, nms: 'weighted' },
  },
};

function blazefaceTensors(g: Golden): [Float32Array, Float32Array] {
  const [boxName, scoreName] = g.json.modelOutputOrder as [string, string];
  return [g.outputs[boxName]!.data, g.outputs[scoreName]!.data];
}

function skipReason(ctx: GpuContext): string | undefined {
  if (!ctx.subgroups) return `${ctx.describe()} offers no subgroups (or states no subgroup sizes)`;
  if (ctx.subgroups.max > 64) return `${ctx.describe()}: subgroups up to ${ctx.subgroups.max} lanes`;
  return undefined;
}

for (const model of Object.keys(MODELS) as GoldenModel[])
  test(`ssd head subgroup pass on the ${model} goldens: the plain pass's output word for word, the reference's detections`, async (t) => {
    const ctx = await gpu();
    const skip = skipReason(ctx);
    if (skip) {
      t.skip(`subgroup score pass not tested: ${skip}`);
      return;
    }
    const m = await GOLDEN_MODEL_LOADERS[model]();
    const shape = m.json.shapes[m.json.outputs.scores]!;
    const anchors = constData(m, m.json.ssd.anchors).data;
    const keypoints = keypointCount(m.json.ssd);
    const { tensors, options } = MODELS[model];
    const heads = await Promise.all(
      [false, true].map((subgroups) =>
        SsdHead.create(ctx, {
          batch: 1,
          numAnchors: shape[1]!,
          numClasses: shape[2]!,
          anchors,
          spec: m.json.ssd,
          maxDetectionsCap: 100,
          candidateCap: 1024,
          labels: m.json.labels,
          subgroups,
        }),
      ),
    );
    let compared = 0;
    try {
      for (const stem of goldenStems(model)) {
        const [boxes, logits] = tensors(loadGolden(model, stem));
        const bBoxes = storage(ctx, boxes);
        const bLogits = storage(ctx, logits);
        const outs: Uint32Array[] = [];
        for (const head of heads) {
          head.setOptions(options);
          const list = head.dispatches({ buffer: bBoxes }, { buffer: bLogits });
          await ctx.checked('ssd head', () => {
            const enc = ctx.device.createCommandEncoder();
            const pass = enc.beginComputePass();
            encodeDispatches(pass, list);
            pass.end();
            ctx.queue.submit([enc.finish()]);
          });
          outs.push(new Uint32Array(await ctx.readBuffer(head.output, 0, head.outputBytes)));
        }
        bBoxes.destroy();
        bLogits.destroy();
        ctx.throwUncaptured(`${model} / ${stem}`);
        assert.deepEqual(outs[1], outs[0], `${model} / ${stem}: subgroup pass output differs from the plain pass`);
        const got = parseDetections(outs[0]!.slice().buffer, 1, 100, keypoints)[0]!;
        const ref = ssdHeadRef(boxes, logits, anchors, shape[2]!, { spec: m.json.ssd, candidateCap: 1024 }, options);
        compared += got.length;
        assert.deepEqual(
          got.map((d) => `${d.anchor}:${d.classId}`),
          ref.map((d) => `${d.anchor}:${d.classId}`),
          `${model} / ${stem}: detections (anchor:class, in order)`,
        );
        got.forEach((d, i) => assert.ok(Math.abs(d.score - ref[i]!.score) <= 1e-5, `${model} / ${stem}: score ${i}`));
      }
      // Images without the model's objects (a face model on a dog) have none: the goldens as a whole must.
      assert.ok(compared > 0, `${model}: no detections on any golden to compare`);
    } finally {
      for (const h of heads) h.destroy();
    }
  });
