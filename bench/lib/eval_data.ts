/** What the accuracy benchmarks share: the shared datasets and COCO model, and a detector loaded for evaluation. */
import { join } from 'node:path';
import { EVAL_RECIPE } from '../../src/cli/eval.ts';
import { readDataset } from '../../src/eval/datasets/index.ts';
import type { Dataset } from '../../src/eval/types.ts';
import type { DriverChoice } from '../../src/gpu/provider.ts';
import { load, type AnchorSizing, type ObjectDetector } from '../../src/index.ts';
import { packageRoot } from '../../src/node/paths.ts';
import { flag } from './setup.ts';
import { sharedDir } from '../../scripts/shared_data.ts';

const shared = sharedDir(packageRoot() ?? process.cwd());
export const DATASETS = { coco128: join(shared, 'datasets/coco128-val'), voc: join(shared, 'datasets/voc2012-100') };
export const COCO_MODEL = join(shared, 'models/coco-ssd-mobilenet-v1-quant/detect.tflite');

export function driver(): DriverChoice {
  return (flag('driver') ?? process.env.MOBILESSD_DRIVER ?? 'auto') as DriverChoice;
}

/** --limit N: only the first N images of each dataset (quick runs while developing). */
export function limit(): number | undefined {
  const v = flag('limit');
  return v === undefined ? undefined : Number(v);
}

export async function readLimited(path: string): Promise<Dataset> {
  const d = await readDataset(path);
  const n = limit();
  return n === undefined ? d : { ...d, images: d.images.slice(0, n) };
}

/**
 * A detector whose head caps fit the evaluation recipe (EVAL_RECIPE). Float execution unless asked: the reference
 * figures are of a float re-implementation (the COCO uint8 model would otherwise run in integers, precision 'auto').
 */
export function loadForEval(
  model: string,
  inputSize?: number,
  anchorSizing?: AnchorSizing,
  precision: 'f32' | 'int8' = 'f32',
): Promise<ObjectDetector> {
  return load(model, {
    driver: driver(),
    precision,
    maxDetectionsCap: EVAL_RECIPE.maxDetectionsCap,
    candidateCap: EVAL_RECIPE.candidateCap,
    ...(inputSize ? { inputSize, anchorSizing } : {}),
  });
}
