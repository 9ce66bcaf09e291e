/** The real model files the converter tests read, and one conversion of each per test process. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertFaceApi } from '../../src/convert/faceapi_to_ir.ts';
import { convertTflite } from '../../src/convert/tflite_to_ir.ts';
import type { LoadedModel } from '../../src/graph/weights.ts';
import { packageRoot } from '../../src/node/paths.ts';
import { sharedPath } from '../../scripts/shared_data.ts';

export const ROOT = packageRoot()!;
export const OID_PACKED = join(ROOT, 'node_modules/@mediapipe/objectron/objectron_solution_packed_assets.data');
/** Byte ranges inside the packed assets (objectron_solution_packed_assets_loader.js). */
export const OID_LABELS_RANGE = [0, 184] as const;
export const OID_TFLITE_RANGE = [184, 9987912] as const;
export const COCO_TFLITE = sharedPath(ROOT, 'models/coco-ssd-mobilenet-v1-quant/detect.tflite');
export const COCO_LABELS = sharedPath(ROOT, 'models/coco-ssd-mobilenet-v1-quant/labels.txt');
export const FACE_DIR = join(ROOT, 'node_modules/@vladmandic/face-api/model');
export const FACE_MANIFEST = join(FACE_DIR, 'ssd_mobilenetv1_model-weights_manifest.json');
export const FACE_SHARD = join(FACE_DIR, 'ssd_mobilenetv1_model.bin');

const read = (file: string) => new Uint8Array(readFileSync(file));

export function oidBytes(): Uint8Array {
  return read(OID_PACKED).slice(...OID_TFLITE_RANGE);
}
export function oidLabels(): string[] {
  return new TextDecoder()
    .decode(read(OID_PACKED).subarray(...OID_LABELS_RANGE))
    .trimEnd()
    .split('\n');
}
export function cocoBytes(): Uint8Array {
  return read(COCO_TFLITE);
}
export function cocoLabels(): string[] {
  return readFileSync(COCO_LABELS, 'utf8').trimEnd().split('\n');
}
export function faceManifest(): string {
  return readFileSync(FACE_MANIFEST, 'utf8');
}
export function faceShard(): Uint8Array {
  return read(FACE_SHARD);
}

let oid: Promise<LoadedModel> | undefined;
let coco: Promise<LoadedModel> | undefined;
let face: Promise<LoadedModel> | undefined;

export function convertedOid(): Promise<LoadedModel> {
  return (oid ??= convertTflite(oidBytes(), { file: 'oid.tflite', name: 'oid-v4', labels: oidLabels() }));
}
export function convertedCoco(): Promise<LoadedModel> {
  return (coco ??= convertTflite(cocoBytes(), {
    file: COCO_TFLITE,
    name: 'coco',
    labels: cocoLabels(),
    labelsFile: COCO_LABELS,
  }));
}
export function convertedFace(): Promise<LoadedModel> {
  return (face ??= convertFaceApi(faceManifest(), [faceShard()], { file: FACE_MANIFEST, name: 'face' }));
}

/** Deterministic pseudo-random integers in [0, n) (mulberry32). */
export function seededInts(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
