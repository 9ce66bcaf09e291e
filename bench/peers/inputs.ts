/**
 * The fixed inputs every peer gets, prepared outside the timed region with our CPU preprocessing
 * reference, so all engines see the same pixels: face-api's demo/sample1.jpg padded to a square and
 * resized to 512x512 (face-api's own recipe), and samples/dog.jpg for the Open Images model.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import type { PreprocessSpec } from '../../src/core/model_spec.ts';
import { preprocessRef } from '../../src/kernels/preprocess_ref.ts';
import type { RgbaImage } from '../../src/core/image.ts';
import { dependencyFile, packageRoot } from '../../src/node/paths.ts';

export function repoRoot(): string {
  const root = packageRoot();
  if (!root) throw new Error('cannot find the mobilessd package root from this bundle');
  return root;
}

export const FACE_IMAGE = '@vladmandic/face-api demo/sample1.jpg';
export const OID_IMAGE = 'samples/dog.jpg';

function decodeJpeg(path: string): RgbaImage {
  const img = jpeg.decode(readFileSync(path), { useTArray: true, formatAsRGBA: true });
  return { data: img.data, width: img.width, height: img.height };
}

function faceImage(): RgbaImage {
  const path = dependencyFile('@vladmandic/face-api', 'demo/sample1.jpg');
  if (!path) throw new Error('@vladmandic/face-api/demo/sample1.jpg not found: run npm install');
  return decodeJpeg(path);
}

/** face-api's preprocessing: pad bottom/right to a square, corner-aligned bilinear resize. */
const FACE_512: PreprocessSpec = {
  width: 512,
  height: 512,
  resize: 'pad-bottom-right',
  halfPixelCenters: false,
  mean: 0,
  std: 1,
};

/** sample1.jpg as 512x512 RGB pixel values (0..255, HWC), the image face-api is handed. */
export function facePixels512(): Int32Array {
  return Int32Array.from(preprocessRef(FACE_512, faceImage()), (v) => Math.min(255, Math.max(0, Math.round(v))));
}

/** sample1.jpg through a model's own preprocessing (float NHWC, batch 1). */
export function faceModelInput(spec: PreprocessSpec): Float32Array {
  return preprocessRef(spec, faceImage());
}

/** samples/dog.jpg through a model's own preprocessing (float NHWC, batch 1). */
export function dogModelInput(spec: PreprocessSpec): Float32Array {
  return preprocessRef(spec, decodeJpeg(join(repoRoot(), OID_IMAGE)));
}

/** Installed version of an npm dependency, from its package.json. */
export function packageVersion(pkg: string): string {
  const path = dependencyFile(pkg, 'package.json');
  return path ? (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version : 'not installed';
}
