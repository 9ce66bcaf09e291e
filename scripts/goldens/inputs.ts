/**
 * Golden inputs: decode a recorded image and rebuild the exact input tensor of a golden from its recipe with
 * our CPU preprocessing (`preprocessRef`). Shared by the generator (scripts/goldens/make.mjs bundles this
 * file) and by the tests (test/support/goldens.ts), so both build the same bytes.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { PreprocessSpec } from '../../src/core/model_spec.ts';
import { preprocessRef } from '../../src/kernels/preprocess_ref.ts';
import type { RgbaImage } from '../../src/core/image.ts';
import { sharedPath } from '../shared_data.ts';

/** Where the image came from; `path` is relative to the repository root (or absolute). */
export interface ImageRef {
  path: string;
  sha256: string;
  width: number;
  height: number;
  /** Decoder and options used to get RGBA8 pixels. */
  decoder: string;
  /** Free text: dataset, package, ... */
  origin: string;
}

/**
 * float32: the tensor is `preprocessRef(spec, image)` as float32 (little-endian bytes are hashed).
 * uint8: `v = preprocessRef(spec, image)` (spec has mean 0, std 1, so v is the resized pixel value), then
 * `q = min(255, max(0, Math.round(v)))` (round half up); the tensor is q as uint8 bytes. An engine that takes
 * floats is fed `(q - engine.mean) / engine.std`, computed in float64 and stored as float32.
 */
export type InputRecipe =
  | { kind: 'float32'; spec: PreprocessSpec }
  | {
      kind: 'uint8';
      spec: PreprocessSpec;
      rounding: 'round-half-up, clamp 0..255';
      engine: { mean: number; std: number };
    };

export interface BuiltInput {
  /** [1, H, W, 3] NHWC. */
  shape: number[];
  dtype: 'float32' | 'uint8';
  /** The exact tensor fed to the reference runtime. */
  data: Float32Array | Uint8Array;
  /** The same input as the float32 tensor our engine takes. */
  engine: Float32Array;
  sha256: string;
}

export const JPEG_DECODER =
  'jpeg-js decode {useTArray: true, formatAsRGBA: true} (default colorTransform, no EXIF orientation)';
export const PNG_DECODER = 'pngjs PNG.sync.read (RGBA8)';

export function sha256(bytes: Uint8Array | Float32Array): string {
  return createHash('sha256')
    .update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    .digest('hex');
}

/** Recorded paths are relative to the repo; '../shared/...' means the shared data folder wherever it is. */
export function resolvePath(root: string, path: string): string {
  if (isAbsolute(path)) return path;
  const inShared = /^\.\.\/shared\/(.*)$/.exec(path);
  return inShared ? sharedPath(root, inShared[1]!) : join(root, path);
}

export function decodeImage(bytes: Uint8Array): RgbaImage & { decoder: string } {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    return {
      data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
      width: png.width,
      height: png.height,
      decoder: PNG_DECODER,
    };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { data: img.data, width: img.width, height: img.height, decoder: JPEG_DECODER };
  }
  throw new Error('unsupported image format (PNG and JPEG only)');
}

export function loadImage(root: string, path: string): { image: RgbaImage; ref: Omit<ImageRef, 'origin'> } {
  const bytes = new Uint8Array(readFileSync(resolvePath(root, path)));
  const { decoder, ...image } = decodeImage(bytes);
  return { image, ref: { path, sha256: sha256(bytes), width: image.width, height: image.height, decoder } };
}

export function buildInput(recipe: InputRecipe, image: RgbaImage): BuiltInput {
  const v = preprocessRef(recipe.spec, image);
  const shape = [1, recipe.spec.height, recipe.spec.width, 3];
  if (recipe.kind === 'float32') return { shape, dtype: 'float32', data: v, engine: v, sha256: sha256(v) };
  if (recipe.spec.mean !== 0 || recipe.spec.std !== 1) throw new Error('uint8 recipes resize with mean 0, std 1');
  const q = new Uint8Array(v.length);
  for (let i = 0; i < v.length; i++) q[i] = Math.min(255, Math.max(0, Math.round(v[i]!)));
  const engine = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) engine[i] = (q[i]! - recipe.engine.mean) / recipe.engine.std;
  return { shape, dtype: 'uint8', data: q, engine, sha256: sha256(q) };
}
