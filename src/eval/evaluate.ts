/**
 * Scores a detector's output on a labeled dataset: PASCAL VOC mAP (all-point and 11-point) at one IoU
 * threshold and the COCO metrics, over the "shared" classes, those that a model label maps to and
 * that have ground truth in the dataset. Detections whose label maps to no dataset class are left out.
 * Detections are matched by `label`, not `classId`: ids differ between label maps, names can be mapped.
 */
import type { Detection } from '../detect_types.ts';
import { InvalidInputError } from '../errors.ts';
import { buildClassMapping, type UserClassMap } from './class_map.ts';
import {
  cocoEvaluate,
  type CocoClassInput,
  type CocoClassMetrics,
  type CocoMetrics,
  type CocoReferenceBox,
} from './coco_ap.ts';
import type { IouConvention } from './iou.ts';
import type { Dataset, DatasetFormat, DatasetWarning } from './types.ts';
import { vocAveragePrecision, type ReferenceBox, type ScoredBox } from './voc_ap.ts';

export type DetectionsByImage =
  ReadonlyMap<string, readonly Detection[]> | Readonly<Record<string, readonly Detection[]>>;

export interface EvaluateOptions {
  /** Every label the model can emit (its label map): a class the model never detects still counts, with AP 0. */
  modelLabels: readonly string[];
  /** Model label -> dataset class, consulted before the built-in mappings. */
  classMap?: UserClassMap;
  /** Default 'continuous' (see iou.ts). */
  iouConvention?: IouConvention;
  /** VOC IoU threshold, default 0.5. */
  iouThreshold?: number;
  /** COCO's per-image, per-class detection cap, default 100. */
  maxDetections?: number;
}

export interface ClassResult {
  className: string;
  /** The model labels scored as this class. */
  modelLabels: string[];
  /** Ground truths that count: neither difficult nor crowd. */
  groundTruths: number;
  /** Difficult or crowd ground truths, which are ignored. */
  ignoredGroundTruths: number;
  detections: number;
  /** VOC true and false positives at the VOC IoU threshold. */
  truePositives: number;
  falsePositives: number;
  /** VOC all-point AP. */
  ap: number;
  /** VOC 11-point AP. */
  ap11: number;
  coco: CocoClassMetrics;
  /** VOC precision-recall curve, best score first. */
  precision: number[];
  recall: number[];
}

export interface EvaluationResult {
  dataset: { format: DatasetFormat; source: string; images: number; groundTruthBoxes: number };
  iouConvention: IouConvention;
  iouThreshold: number;
  /** Mean VOC all-point AP over the shared classes. */
  mAP: number;
  /** Mean VOC 11-point AP over the shared classes. */
  mAP11: number;
  coco: CocoMetrics;
  /** Dataset classes that are scored, in dataset order. */
  sharedClasses: string[];
  /** Classes a model label maps to but without ground truth here: not scored. */
  mappedClassesWithoutGroundTruth: string[];
  /** Classes with ground truth that no model label maps to: not scored. */
  classesWithoutModelLabel: string[];
  unmappedModelLabels: string[];
  perClass: ClassResult[];
  detections: { scored: number; notScored: number };
  warnings: DatasetWarning[];
}

export function evaluate(
  dataset: Dataset,
  detectionsByImageId: DetectionsByImage,
  options: EvaluateOptions,
): EvaluationResult {
  const iouConvention = options.iouConvention ?? 'continuous';
  const iouThreshold = options.iouThreshold ?? 0.5;
  const mapping = buildClassMapping(options.modelLabels, dataset.classes, options.classMap);
  const withGroundTruth = new Set(
    dataset.images.flatMap((im) => im.boxes.filter((b) => !b.difficult && !b.iscrowd).map((b) => b.className)),
  );
  const shared = mapping.mappedClasses.filter((c) => withGroundTruth.has(c));
  if (!shared.length) {
    throw new InvalidInputError(
      `no class of the model has ground truth in ${dataset.source} (model labels: ${options.modelLabels.filter(Boolean).slice(0, 8).join(', ')}...; dataset classes: ${dataset.classes.slice(0, 8).join(', ')}...)`,
      'pass a class map JSON of "model label": "dataset class"',
    );
  }
  const inputs = new Map<string, { voc: ReferenceBox[]; coco: CocoReferenceBox[]; detections: ScoredBox[] }>(
    shared.map((c) => [c, { voc: [], coco: [], detections: [] }]),
  );
  for (const image of dataset.images) {
    for (const b of image.boxes) {
      const input = inputs.get(b.className);
      if (!input) continue;
      const box = { x: b.x, y: b.y, width: b.width, height: b.height };
      // VOC has no crowd regions; one cannot be matched by a single detection, so it is ignored like a difficult object.
      input.voc.push({ imageId: image.id, box, difficult: b.difficult || !!b.iscrowd });
      input.coco.push({
        imageId: image.id,
        box,
        iscrowd: !!b.iscrowd,
        ignore: b.difficult,
        ...(b.area === undefined ? {} : { area: b.area }),
      });
    }
  }
  const imageIds = dataset.images.map((im) => im.id);
  const known = new Set(imageIds);
  let scored = 0;
  let notScored = 0;
  for (const [imageId, detections] of entries(detectionsByImageId)) {
    if (!known.has(imageId))
      throw new InvalidInputError(`detections given for image id "${imageId}", which is not in ${dataset.source}`);
    for (const d of detections) {
      const className = mapping.datasetClassOf(d.label);
      const input = className === undefined ? undefined : inputs.get(className);
      if (!input) {
        notScored++;
        continue;
      }
      input.detections.push({ imageId, score: d.score, box: d.box });
      scored++;
    }
  }
  const coco = cocoEvaluate(
    new Map<string, CocoClassInput>(
      shared.map((c) => [c, { groundTruths: inputs.get(c)!.coco, detections: inputs.get(c)!.detections }]),
    ),
    imageIds,
    {
      maxDetections: options.maxDetections ?? 100,
    },
  );
  const perClass = shared.map((className): ClassResult => {
    const input = inputs.get(className)!;
    const voc = vocAveragePrecision(input.voc, input.detections, { iouThreshold, iouConvention });
    return {
      className,
      modelLabels: mapping.sources.get(className) ?? [],
      groundTruths: voc.groundTruths,
      ignoredGroundTruths: input.voc.length - voc.groundTruths,
      detections: input.detections.length,
      truePositives: voc.truePositives,
      falsePositives: voc.falsePositives,
      ap: voc.ap,
      ap11: voc.ap11,
      coco: coco.perClass.get(className)!,
      precision: voc.precision,
      recall: voc.recall,
    };
  });
  const { perClass: _, ...cocoMetrics } = coco;
  return {
    dataset: {
      format: dataset.format,
      source: dataset.source,
      images: dataset.images.length,
      groundTruthBoxes: dataset.images.reduce((n, im) => n + im.boxes.length, 0),
    },
    iouConvention,
    iouThreshold,
    mAP: mean(perClass.map((c) => c.ap)),
    mAP11: mean(perClass.map((c) => c.ap11)),
    coco: cocoMetrics,
    sharedClasses: shared,
    mappedClassesWithoutGroundTruth: mapping.mappedClasses.filter((c) => !withGroundTruth.has(c)),
    classesWithoutModelLabel: dataset.classes.filter((c) => withGroundTruth.has(c) && !mapping.sources.has(c)),
    unmappedModelLabels: mapping.unmappedLabels,
    perClass,
    detections: { scored, notScored },
    warnings: dataset.warnings,
  };
}

function entries(byImage: DetectionsByImage): Iterable<[string, readonly Detection[]]> {
  return byImage instanceof Map
    ? byImage.entries()
    : Object.entries(byImage as Readonly<Record<string, readonly Detection[]>>);
}

function mean(values: readonly number[]): number {
  return values.reduce((s, v) => s + v, 0) / values.length;
}
