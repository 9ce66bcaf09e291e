/**
 * Validation during training, from the cached (unaugmented) features of a labeled split: the loss,
 * and the VOC mAP with the recipe of `mobilessd eval` (per-class NMS, score >= 0.01, at most 100
 * detections per class), decoded by the CPU reference of the SSD head.
 */
import type { Detection } from '../detect_types.ts';
import { evaluate, type EvaluationResult } from '../eval/evaluate.ts';
import { constData, type LoadedModel } from '../graph/weights.ts';
import { boxToImage, placement } from '../image/placement.ts';
import { ssdHeadRef } from '../ssd/head_ref.ts';
import type { TrainingSet } from './dataset.ts';
import { unpackSamples, type CachedSample } from './features.ts';
import { totalLoss, type LossParts } from './loss_ref.ts';
import type { TrainStep } from './step.ts';

export const EVAL_SETTINGS = {
  scoreThreshold: 0.01,
  maxPerClass: 100,
  maxDetections: 300,
  candidateCap: 8192,
} as const;

export interface Validation {
  loss: number;
  parts: LossParts[];
  result: EvaluationResult;
}

/** Detections of one image from its raw outputs, in the image's pixels. */
export function decodeDetections(
  model: LoadedModel,
  boxes: Float32Array,
  logits: Float32Array,
  width: number,
  height: number,
  iouThreshold: number,
): Detection[] {
  const json = model.json;
  const C = json.labels.length;
  const anchors = constData(model, json.ssd.anchors).data;
  const found = ssdHeadRef(
    boxes,
    logits,
    anchors,
    C,
    { spec: json.ssd, candidateCap: EVAL_SETTINGS.candidateCap, labels: json.labels },
    {
      scoreThreshold: EVAL_SETTINGS.scoreThreshold,
      iouThreshold,
      maxDetections: EVAL_SETTINGS.maxDetections,
      perClassNms: true,
    },
  );
  const place = placement(json.preprocess, width, height);
  const perClass = new Map<number, number>();
  const out: Detection[] = [];
  for (const d of found) {
    const n = (perClass.get(d.classId) ?? 0) + 1;
    perClass.set(d.classId, n);
    if (n > EVAL_SETTINGS.maxPerClass) continue;
    out.push({
      label: json.labels[d.classId]!,
      classId: d.classId,
      score: d.score,
      box: boxToImage(place, width, height, d.ymin, d.xmin, d.ymax, d.xmax),
    });
  }
  return out;
}

/** `select` picks the region's inputs among the cached tensors; `partsBuffer` holds step.batch loss-part slots. */
export async function validate(
  step: TrainStep,
  model: LoadedModel,
  set: TrainingSet,
  samples: readonly CachedSample[],
  select: readonly number[],
  partsBuffer: GPUBuffer,
): Promise<Validation> {
  const A = step.numAnchors;
  const positives = samples.reduce((s, x) => s + x.anchors.length, 0);
  step.setNormalizer(1 / Math.max(1, positives));
  const detections = new Map<string, Detection[]>();
  const parts: LossParts[] = [];
  const iou = model.json.ssd.defaults.iouThreshold;
  for (let at = 0; at < samples.length; at += step.batch) {
    const chunk = samples.slice(at, at + step.batch);
    const mb = unpackSamples(chunk, select, A);
    step.run({ images: chunk.length, ...mb }, partsBuffer, 0, false);
    const out = await step.readOutputs(chunk.length);
    const C = out.logits.length / (chunk.length * A);
    chunk.forEach((_, i) => {
      const im = set.dataset.images[at + i]!;
      detections.set(
        im.id,
        decodeDetections(
          model,
          out.boxes.subarray(i * A * 4, (i + 1) * A * 4),
          out.logits.subarray(i * A * C, (i + 1) * A * C),
          im.width,
          im.height,
          iou,
        ),
      );
    });
    parts.push(...(await step.readParts(partsBuffer, chunk.length)));
  }
  const result = evaluate(set.dataset, detections, { modelLabels: model.json.labels });
  return { loss: totalLoss(parts, step.lossConfig), parts, result };
}
