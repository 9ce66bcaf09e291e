/**
 * The models the goldens were made from, as the parity tests load them (through the Node model registry, the way
 * users get them), and the source files behind each, so a test can compare them with the hashes the goldens
 * recorded.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { COCO_SOURCE, resolveModel, type ResolvedModel } from '../../src/node/model_registry.ts';
import { repoRoot, type GoldenModel } from './goldens.ts';

const root = repoRoot();
// The bundled `coco` (weights/sources/coco), as users get it by name.
const COCO_DIR = join(root, COCO_SOURCE, '..');

/** What the parity tests run for each golden model. */
export const GOLDEN_MODEL_LOADERS: Record<GoldenModel, () => Promise<ResolvedModel>> = {
  'oid-ssd-mobilenetv2': () => resolveModel('oid-v4'),
  'coco-ssd-mobilenetv1-quant': () => resolveModel('coco'),
  'face-ssd-mobilenetv1': () => resolveModel('face'),
  'blazeface-short-range': () => resolveModel('blazeface'),
  'blazeface-full-range': () => resolveModel('blazeface-full'),
};

/** The files the registry reads for each model (it hashes them, in this order, as the model's source). */
export const GOLDEN_MODEL_FILES: Record<GoldenModel, string[]> = {
  'oid-ssd-mobilenetv2': [join(root, 'node_modules/@mediapipe/objectron/objectron_solution_packed_assets.data')],
  'coco-ssd-mobilenetv1-quant': [join(COCO_DIR, 'detect.tflite'), join(COCO_DIR, 'labels.txt')],
  'face-ssd-mobilenetv1': [
    join(root, 'node_modules/@vladmandic/face-api/model/ssd_mobilenetv1_model-weights_manifest.json'),
    join(root, 'node_modules/@vladmandic/face-api/model/ssd_mobilenetv1_model.bin'),
  ],
  'blazeface-short-range': [join(root, 'node_modules/@mediapipe/face_detection/face_detection_short_range.tflite')],
  'blazeface-full-range': [join(root, 'node_modules/@mediapipe/face_detection/face_detection_full_range.tflite')],
};

export function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

export function readBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(file));
}
