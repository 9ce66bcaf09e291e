/**
 * Loader for the reference outputs in test/fixtures/goldens/ (made by `node scripts/goldens/make.mjs`, see
 * the README there). A golden is `<model>/<stem>.json` (recipe, input hash, runtime, detections, array
 * descriptors) plus `<stem>.bin.gz` (the arrays, gzip'd little-endian, 4-byte aligned).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  buildInput,
  loadImage,
  sha256,
  type BuiltInput,
  type ImageRef,
  type InputRecipe,
} from '../../scripts/goldens/inputs.ts';

export type GoldenModel =
  | 'oid-ssd-mobilenetv2'
  | 'coco-ssd-mobilenetv1-quant'
  | 'face-ssd-mobilenetv1'
  | 'blazeface-short-range'
  | 'blazeface-full-range';
export const GOLDEN_MODELS: readonly GoldenModel[] = [
  'oid-ssd-mobilenetv2',
  'coco-ssd-mobilenetv1-quant',
  'face-ssd-mobilenetv1',
  'blazeface-short-range',
  'blazeface-full-range',
];

export interface GoldenArray {
  shape: number[];
  /** How it is stored; `data` is always float32 (uint8 arrays dequantized as (q - zeroPoint) * scale). */
  dtype: 'float32' | 'uint8';
  data: Float32Array;
  /** The stored uint8 values, for quantized tensors. */
  quantized?: Uint8Array;
  quantization?: { scale: number; zeroPoint: number };
  description: string;
  /** TFLite tensor index/name/type, for the TFLite models. */
  tensorIndex?: number;
  tfliteName?: string;
  tfliteType?: string;
}

export interface GoldenDetection {
  label: string;
  /** Column of the logits / label-map index (background = 0). */
  classIndex: number;
  score: number;
  /** Anchor (row of the raw outputs) the detection comes from; -1 if it could not be matched. */
  anchor: number;
  /** Normalized to the model's input canvas. */
  box: { ymin: number; xmin: number; ymax: number; xmax: number };
  /** On the source image, clipped. */
  pixels: { x: number; y: number; width: number; height: number };
  /** BlazeFace: (x, y) normalized like the box, and (px, py) on the source image. */
  keypoints?: { name: string; x: number; y: number; px: number; py: number }[];
  /** BlazeFace: how many detections weighted NMS averaged into this one. */
  clusterSize?: number;
}

export interface GoldenRecipe {
  model: Record<string, unknown>;
  image: ImageRef;
  input: InputRecipe;
}

export interface Golden {
  model: GoldenModel;
  stem: string;
  recipe: GoldenRecipe;
  /** sha256 of the exact input tensor bytes fed to the reference runtime (float32 LE or uint8). */
  inputSha256: string;
  input: { shape: number[]; dtype: 'float32' | 'uint8'; sha256: string };
  runtime: Record<string, unknown>;
  outputs: Record<string, GoldenArray>;
  detections: GoldenDetection[];
  /** The whole JSON document, for fields not typed here (crossCheck, labels, ...). */
  json: Record<string, unknown>;
}

interface ArrayDesc extends Omit<GoldenArray, 'data' | 'quantized'> {
  byteOffset: number;
  byteLength: number;
}

/** Repository root: MOBILESSD_ROOT (set by `npm test`) or the nearest folder up from cwd with our package.json. */
export function repoRoot(): string {
  if (process.env.MOBILESSD_ROOT) return process.env.MOBILESSD_ROOT;
  let dir = process.cwd();
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mobilessd')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the mobilessd repository root (set MOBILESSD_ROOT)');
    dir = up;
  }
}

export function goldensDir(): string {
  return join(repoRoot(), 'test/fixtures/goldens');
}

export function goldenStems(model: GoldenModel): string[] {
  const dir = join(goldensDir(), model);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function loadGolden(model: GoldenModel, stem: string): Golden {
  const dir = join(goldensDir(), model);
  const json = JSON.parse(readFileSync(join(dir, `${stem}.json`), 'utf8')) as Record<string, unknown> & {
    format: string;
    version: number;
    model: string;
    stem: string;
    recipe: GoldenRecipe;
    input: Golden['input'];
    runtime: Record<string, unknown>;
    detections: GoldenDetection[];
    data: { file: string; byteLength: number; sha256: string };
    outputs: Record<string, ArrayDesc>;
  };
  if (json.format !== 'mobilessd-golden' || json.version !== 1)
    throw new Error(`${model}/${stem}: unknown golden format ${json.format} v${json.version}`);
  if (json.model !== model || json.stem !== stem)
    throw new Error(`${model}/${stem}: file says ${json.model}/${json.stem}`);
  const blob = new Uint8Array(gunzipSync(readFileSync(join(dir, json.data.file))));
  if (blob.length !== json.data.byteLength)
    throw new Error(`${model}/${stem}: ${json.data.file} has ${blob.length} bytes, expected ${json.data.byteLength}`);
  if (sha256(blob) !== json.data.sha256) throw new Error(`${model}/${stem}: ${json.data.file} sha256 mismatch`);
  const outputs: Record<string, GoldenArray> = {};
  for (const [name, d] of Object.entries(json.outputs)) {
    const { byteOffset, byteLength, ...info } = d;
    const count = d.shape.reduce((a, b) => a * b, 1);
    const size = d.dtype === 'float32' ? 4 : 1;
    if (byteLength !== count * size || byteOffset + byteLength > blob.length || byteOffset % 4)
      throw new Error(`${model}/${stem}: output ${name} descriptor does not fit its shape or the blob`);
    const bytes = blob.slice(byteOffset, byteOffset + byteLength);
    if (d.dtype === 'float32') {
      outputs[name] = { ...info, data: new Float32Array(bytes.buffer, 0, count) };
    } else {
      if (!d.quantization) throw new Error(`${model}/${stem}: uint8 output ${name} has no quantization`);
      const { scale, zeroPoint } = d.quantization;
      outputs[name] = { ...info, quantized: bytes, data: Float32Array.from(bytes, (q) => (q - zeroPoint) * scale) };
    }
  }
  return {
    model,
    stem,
    recipe: json.recipe,
    inputSha256: json.input.sha256,
    input: json.input,
    runtime: json.runtime,
    outputs,
    detections: json.detections,
    json,
  };
}

/**
 * Rebuilds the exact input tensor of a golden from its recorded image and recipe with our preprocessRef.
 * `data` is what the reference runtime was fed; `engine` the float32 tensor for our engine.
 */
export function buildGoldenInput(g: Golden): BuiltInput & { imageSha256: string } {
  const { image, ref } = loadImage(repoRoot(), g.recipe.image.path);
  return { ...buildInput(g.recipe.input, image), imageSha256: ref.sha256 };
}
