/**
 * Writes a model's browser files into a web app's folder: `<out>/<name>/model.json` + its weights file
 * (float16 when that loses nothing, or when asked: half the download), and `<out>/manifest.json`, which
 * lists every exported model with the Subresource-Integrity hash (sha384) of its model.json. The browser
 * library checks that hash (`load({ url, integrity })`), and model.json carries the weights' SHA-256,
 * checked on load too, so one hash in the app's code pins both files.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidOptionError, ModelFormatError } from '../errors.ts';
import { float16Error } from '../graph/float16.ts';
import { serializeModel, serializeModelFloat16 } from '../graph/model_format.ts';
import { MODEL_JSON, writeAtomic } from './model_files.ts';
import { resolveModel, type ResolveOptions } from './model_registry.ts';

export const WEB_MANIFEST = 'manifest.json';
export const WEB_MANIFEST_FORMAT = 'mobilessd-web-models';

export type WebPrecision = 'auto' | 'float16' | 'float32';

export interface WebModelEntry {
  /** model.json, relative to the manifest. */
  url: string;
  /** Subresource Integrity of model.json: "sha384-<base64>". */
  integrity: string;
  /** Bytes to download: model.json + weights. */
  bytes: number;
  layout: 'float32-le' | 'float16-le';
  classes: number;
  input: [number, number];
}

export interface WebManifest {
  format: typeof WEB_MANIFEST_FORMAT;
  version: 1;
  models: Record<string, WebModelEntry>;
}

export interface ExportWebOptions extends Pick<ResolveOptions, 'log'> {
  /**
   * auto (default): lossless, float16 for the constants float16 holds exactly and float32 for the rest, when that
   * saves a quarter of the download (models with float16 sources), else float32; float16: every weight (lossy).
   */
  precision?: WebPrecision;
  /** Folder and manifest name; default the model's own name. */
  name?: string;
}

export function sriSha384(bytes: Uint8Array | string): string {
  return `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
}

export async function exportWeb(
  model: string,
  outDir: string,
  opts: ExportWebOptions = {},
): Promise<WebModelEntry & { name: string; dir: string }> {
  const precision = opts.precision ?? 'auto';
  if (!['auto', 'float16', 'float32'].includes(precision))
    throw new InvalidOptionError('precision', precision, 'auto, float16 or float32');
  const name = opts.name ?? model.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '');
  if (!/^[\w][\w.-]*$/.test(name))
    throw new InvalidOptionError('name', name, 'letters, digits, ".", "-" and "_" (it becomes a folder and a URL)');
  // A folder holding someone else's manifest.json is refused before anything is written.
  const manifestFile = join(outDir, WEB_MANIFEST);
  const manifest = readManifest(manifestFile);
  const loaded = await resolveModel(model, opts.log ? { log: opts.log } : {});
  const inexact = Object.entries(loaded.json.constants)
    .filter(([, c]) => float16Error(loaded.weights.subarray(c.offset / 4, c.offset / 4 + c.length)) > 0)
    .map(([n]) => n);
  const keep = precision === 'float16' ? [] : inexact;
  const keptValues = keep.reduce((n, k) => n + loaded.json.constants[k]!.length, 0);
  // auto: float16 where it is exact, float32 for the rest, when that saves at least a quarter of the bytes.
  const half =
    precision === 'float16' ||
    (precision === 'auto' && 2 * loaded.weights.length + 4 * keptValues <= 3 * loaded.weights.length);
  const files = half
    ? await serializeModelFloat16(loaded, keep, 'weights.bin')
    : serializeModel({ ...loaded, json: { ...loaded.json, weights: { ...loaded.json.weights, file: 'weights.bin' } } });
  const dir = join(outDir, name);
  await mkdir(dir, { recursive: true });
  await writeAtomic(join(dir, 'weights.bin'), files.weights);
  await writeAtomic(join(dir, MODEL_JSON), files.json);
  const { json } = loaded;
  const entry: WebModelEntry = {
    url: `${name}/${MODEL_JSON}`,
    integrity: sriSha384(files.json),
    bytes: Buffer.byteLength(files.json) + files.weights.byteLength,
    layout: half ? 'float16-le' : 'float32-le',
    classes: json.labels.filter((l, i) => i !== json.ssd.backgroundClass && l !== '???').length,
    input: [json.preprocess.width, json.preprocess.height],
  };
  manifest.models[name] = entry;
  await writeAtomic(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return { ...entry, name, dir };
}

/** The manifest already in the folder (exports accumulate), or a new one. */
function readManifest(file: string): WebManifest {
  const fresh: WebManifest = { format: WEB_MANIFEST_FORMAT, version: 1, models: {} };
  if (!existsSync(file)) return fresh;
  let m: Partial<WebManifest>;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Partial<WebManifest>;
  } catch (e) {
    throw new ModelFormatError(file, `is not valid JSON (${(e as Error).message})`, 'delete it and export again');
  }
  if (m.format !== WEB_MANIFEST_FORMAT || typeof m.models !== 'object' || m.models === null)
    throw new ModelFormatError(file, `is not a ${WEB_MANIFEST_FORMAT} manifest`, 'choose another --out folder');
  return { ...fresh, models: m.models };
}
