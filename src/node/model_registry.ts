/**
 * Model names and paths -> loaded models (Node only). Bundled models come from npm dependencies;
 * any .tflite SSD, face-api-style TF.js manifest or converted model folder can be given by path.
 * Sources are converted on first use and cached in <package>/weights/<name>/ (or, when that is not
 * writable, $XDG_CACHE_HOME/mobilessd or ~/.cache/mobilessd). A cache entry is reused only when
 * its recorded source SHA-256 and converter version match, so edited sources and converter
 * upgrades rebuild it; an entry that fails validation is rebuilt too.
 */
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { convertFaceApi } from '../convert/faceapi_to_ir.ts';
import { CONVERTER_VERSION } from '../convert/builder.ts';
import { parseTfjsManifest } from '../convert/tfjs_manifest.ts';
import { convertTflite } from '../convert/tflite_to_ir.ts';
import { readMediaPipeSsd } from '../convert/mediapipe_ssd.ts';
import { BLAZEFACE_FULL_RANGE, BLAZEFACE_SHORT_RANGE } from '../convert/mediapipe_presets.ts';
import { MobileSsdError, ModelFormatError, ModelNotFoundError, SsdOptionsError } from '../errors.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { MODEL_JSON, readModel, readModelFile, writeModel } from './model_files.ts';
import { dependencyFile, packageRoot } from './paths.ts';

export const DEFAULT_MODEL = 'oid-v4';

export const BUNDLED_MODELS: readonly { name: string; description: string }[] = [
  {
    name: 'oid-v4',
    description: 'Open Images V4 SSD-MobileNetV2, 23 object classes, 300x300 (from @mediapipe/objectron)',
  },
  { name: 'face', description: 'face-api SSD-MobileNetV1 face detector, 512x512 (from @vladmandic/face-api)' },
  {
    name: 'coco',
    description: 'COCO SSD-MobileNetV1 0.75 uint8, 80 COCO classes, 300x300 (TensorFlow Lite, in weights/sources/coco)',
  },
  {
    name: 'blazeface',
    description: 'MediaPipe BlazeFace short range, faces with 6 keypoints, 128x128 (from @mediapipe/face_detection)',
  },
  {
    name: 'blazeface-full',
    description: 'MediaPipe BlazeFace full range, faces with 6 keypoints, 192x192 (from @mediapipe/face_detection)',
  },
];

/** The BlazeFace files of @mediapipe/face_detection and MediaPipe's options for them. */
const BLAZEFACE: Record<string, { file: string; options: object; index: number }> = {
  blazeface: { file: 'face_detection_short_range.tflite', options: BLAZEFACE_SHORT_RANGE, index: 3 },
  'blazeface-full': { file: 'face_detection_full_range.tflite', options: BLAZEFACE_FULL_RANGE, index: 4 },
};

/** The sidecar of a raw SSD .tflite: MediaPipe's options beside it (docs/ssd_options.md). */
export function sidecarPath(tflite: string): string {
  return join(dirname(tflite), `${stem(tflite)}.ssd.json`);
}

/** The bundled COCO model's source, shipped in the package (weights/sources/README.md says where it is from). */
export const COCO_SOURCE = 'weights/sources/coco/detect.tflite';

export interface ResolvedModel extends LoadedModel {
  /** The folder the model was read from or written to. */
  dir: string;
  /** True when this call converted the source (no valid cache entry). */
  converted: boolean;
}

export interface ResolveOptions {
  /** Cache root instead of <package>/weights (tests). */
  cacheDir?: string;
  /** Convert again even when a valid cache entry exists. */
  refresh?: boolean;
  /** Called with a line of progress text (conversion on first use). */
  log?: (message: string) => void;
  /**
   * MediaPipe's SSD options for a raw SSD .tflite given by path (parsed JSON, as in a `<model>.ssd.json`
   * sidecar, which they replace).
   */
  ssdOptions?: unknown;
}

/** A convertible source: where its cache lives, its identity, and how to convert it. */
interface Source {
  cacheName: string;
  sha256: string;
  convert: () => Promise<LoadedModel>;
}

const NOT_FOUND_HINT = `bundled models: ${BUNDLED_MODELS.map((m) => m.name).join(', ')} (default ${DEFAULT_MODEL}); or give the path of a .tflite file, a TF.js *-weights_manifest.json, or a converted model folder`;

export async function resolveModel(
  nameOrPath: string = DEFAULT_MODEL,
  opts: ResolveOptions = {},
): Promise<ResolvedModel> {
  const source = await findSource(nameOrPath, opts.ssdOptions);
  if ('dir' in source) return { ...(await readModel(source.dir)), dir: source.dir, converted: false };
  for (const dir of opts.refresh ? [] : cacheDirs(source.cacheName, opts)) {
    const cached = await readCached(dir, source);
    if (cached) return { ...cached, dir, converted: false };
  }
  opts.log?.(`converting ${nameOrPath} (first use)...`);
  const model = await source.convert();
  const dir = await writableCacheDir(source.cacheName, opts);
  await writeModel(dir, model);
  opts.log?.(`cached in ${dir}`);
  return { ...model, dir, converted: true };
}

async function findSource(nameOrPath: string, ssdOptions?: unknown): Promise<Source | { dir: string }> {
  const blaze = BLAZEFACE[nameOrPath];
  if (ssdOptions !== undefined && (!nameOrPath.endsWith('.tflite') || blaze))
    throw new SsdOptionsError(
      'ssdOptions',
      `${nameOrPath} is not a .tflite path; SSD options go with a raw SSD .tflite`,
    );
  if (nameOrPath === 'oid-v4') return oidSource();
  if (blaze) {
    const path = dependencyFile('@mediapipe/face_detection', blaze.file);
    if (!path)
      throw new ModelNotFoundError(`${nameOrPath} (@mediapipe/face_detection is not installed)`, 'run npm install');
    const bytes = await readModelFile(path);
    return tfliteSource(
      path,
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      { name: nameOrPath, description: BUNDLED_MODELS[blaze.index]!.description },
      { json: blaze.options, where: `mobilessd's options for ${nameOrPath}` },
    );
  }
  if (nameOrPath === 'face') {
    const manifest = dependencyFile('@vladmandic/face-api', 'model/ssd_mobilenetv1_model-weights_manifest.json');
    if (!manifest) throw new ModelNotFoundError('face (@vladmandic/face-api is not installed)', 'run npm install');
    return manifestSource(manifest, 'face', 'face-api SSD-MobileNetV1 face detector');
  }
  if (nameOrPath === 'coco') return cocoSource();
  const path = resolve(nameOrPath);
  if (!existsSync(path)) throw new ModelNotFoundError(nameOrPath, NOT_FOUND_HINT);
  if (statSync(path).isDirectory()) {
    if (!existsSync(join(path, MODEL_JSON)))
      throw new ModelNotFoundError(`${nameOrPath} (the folder has no ${MODEL_JSON})`, NOT_FOUND_HINT);
    return { dir: path };
  }
  if (extname(path) === '.json') {
    const text = (await readModelFile(path)).toString('utf8');
    // A TF.js manifest is a JSON array; our model.json is an object.
    return text.trimStart().startsWith('[') ? manifestSource(path, stem(path), undefined, text) : { dir: path };
  }
  const bytes = await readModelFile(path);
  if (extname(path) !== '.tflite' && bytes.subarray(4, 8).toString('latin1') !== 'TFL3') {
    throw new ModelFormatError(
      path,
      'is not a .tflite model, a TF.js weights manifest or a mobilessd model folder',
      NOT_FOUND_HINT,
    );
  }
  return tfliteSource(
    path,
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    undefined,
    ssdOptions !== undefined ? { json: ssdOptions, where: 'ssdOptions' } : await readSidecar(path),
  );
}

/** The parsed `<model>.ssd.json` beside a .tflite, if there is one. */
async function readSidecar(tflite: string): Promise<{ json: unknown; where: string } | undefined> {
  const file = sidecarPath(tflite);
  if (!existsSync(file)) return undefined;
  const text = (await readModelFile(file)).toString('utf8');
  try {
    return { json: JSON.parse(text) as unknown, where: file };
  } catch (e) {
    throw new SsdOptionsError(file, `is not valid JSON (${(e as Error).message})`);
  }
}

async function oidSource(): Promise<Source> {
  const loader = dependencyFile('@mediapipe/objectron', 'objectron_solution_packed_assets_loader.js');
  const data = dependencyFile('@mediapipe/objectron', 'objectron_solution_packed_assets.data');
  if (!loader || !data)
    throw new ModelNotFoundError('oid-v4 (@mediapipe/objectron is not installed)', 'run npm install');
  const packed = await readModelFile(data);
  // The Emscripten loader names each packed file's byte range; trust it rather than fixed offsets.
  const ranges = new Map<string, [number, number]>();
  for (const m of (await readModelFile(loader))
    .toString('utf8')
    .matchAll(/"filename":\s*"([^"]+)",\s*"start":\s*(\d+),\s*"end":\s*(\d+)/g)) {
    ranges.set(basename(m[1]!), [Number(m[2]), Number(m[3])]);
  }
  const model = ranges.get('object_detection_ssd_mobilenetv2_oidv4_fp16.tflite');
  const labels = ranges.get('object_detection_oidv4_labelmap.txt');
  if (!model || !labels || model[1] > packed.byteLength || labels[1] > packed.byteLength) {
    throw new ModelFormatError(
      loader,
      'does not list the Open Images SSD model and label map inside the packed assets',
      'reinstall @mediapipe/objectron',
    );
  }
  const file = `${data}[${model[0]}..${model[1]}]`;
  return {
    cacheName: 'oid-v4',
    sha256: sha256(packed),
    convert: () =>
      convertTflite(new Uint8Array(packed.buffer, packed.byteOffset + model[0], model[1] - model[0]), {
        file,
        name: 'oid-v4',
        description: BUNDLED_MODELS[0]!.description,
        labels: splitLabels(packed.subarray(labels[0], labels[1]).toString('utf8')),
        sourceSha256: sha256(packed),
      }),
  };
}

async function cocoSource(): Promise<Source> {
  const root = packageRoot();
  const path = root && join(root, COCO_SOURCE);
  if (!path || !existsSync(path))
    throw new ModelNotFoundError(`coco (${COCO_SOURCE} is missing from the package)`, 'reinstall mobilessd');
  const bytes = await readModelFile(path);
  const source = await tfliteSource(path, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), {
    name: 'coco',
    description: BUNDLED_MODELS[2]!.description,
  });
  // The TFLite op keeps every score above 1e-8 (its 10 slots are filled regardless); as a product default
  // that reports noise, so `coco` keeps 0.5 like the other bundled models (and coco-ssd). IoU 0.6 and 10 stay.
  const convert = async () => {
    const model = await source.convert();
    model.json.ssd.defaults.scoreThreshold = 0.5;
    return model;
  };
  return { ...source, cacheName: 'coco', convert };
}

async function tfliteSource(
  path: string,
  bytes: Uint8Array,
  named?: { name: string; description: string },
  ssd?: { json: unknown; where: string },
): Promise<Source> {
  const labelsFile = join(dirname(path), 'labels.txt');
  const labelBytes = existsSync(labelsFile) ? await readModelFile(labelsFile) : undefined;
  // Checked now, so a bad sidecar fails even when a cached conversion exists.
  const mediapipe = ssd && { options: readMediaPipeSsd(ssd.json, ssd.where), where: ssd.where };
  // The label map and the SSD options are part of the converted model, so they are part of the cache key.
  const options = new TextEncoder().encode(ssd ? JSON.stringify(ssd.json) : '');
  const key = sha256(bytes, labelBytes ?? new Uint8Array(0), options);
  return {
    cacheName: named?.name ?? `${stem(path)}-${key.slice(0, 12)}`,
    sha256: key,
    convert: () =>
      convertTflite(bytes, {
        file: path,
        name: named?.name ?? stem(path),
        ...(named ? { description: named.description } : {}),
        sourceSha256: key,
        ...(labelBytes ? { labels: splitLabels(labelBytes.toString('utf8')), labelsFile } : {}),
        ...(mediapipe ? { mediapipe } : {}),
      }),
  };
}

async function manifestSource(manifest: string, name: string, description?: string, text?: string): Promise<Source> {
  const manifestText = text ?? (await readModelFile(manifest)).toString('utf8');
  const shards = await Promise.all(
    parseTfjsManifest(manifestText, manifest)
      .flatMap((g) => g.paths)
      .map(async (p) => {
        const file = join(dirname(manifest), p);
        if (relative(dirname(manifest), file).startsWith('..') || isAbsolute(p))
          throw new ModelFormatError(manifest, `shard path ${JSON.stringify(p)} leaves the manifest's folder`);
        if (!existsSync(file))
          throw new ModelNotFoundError(
            `${file} (a weights shard named by ${manifest})`,
            'keep the .bin shards beside their manifest',
          );
        const b = await readModelFile(file);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      }),
  );
  const key = sha256(new TextEncoder().encode(manifestText), ...shards);
  return {
    cacheName: name === 'face' ? name : `${name}-${key.slice(0, 12)}`,
    sha256: key,
    convert: () =>
      convertFaceApi(manifestText, shards, { file: manifest, name, ...(description ? { description } : {}) }),
  };
}

/** The cache folders of entry `name`, in the order they are read (the package's weights/, then the user cache). */
export function cacheDirs(name: string, opts: Pick<ResolveOptions, 'cacheDir'>): string[] {
  if (opts.cacheDir) return [join(opts.cacheDir, name)];
  const root = packageRoot();
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return [...(root ? [join(root, 'weights', name)] : []), join(xdg, 'mobilessd', name)];
}

export async function writableCacheDir(name: string, opts: Pick<ResolveOptions, 'cacheDir'>): Promise<string> {
  const dirs = cacheDirs(name, opts);
  for (const dir of dirs) {
    try {
      await mkdir(dir, { recursive: true });
      await access(dir, constants.W_OK);
      return dir;
    } catch {
      // Read-only install: try the user cache next.
    }
  }
  throw new ModelNotFoundError(`${name} (no writable cache folder)`, `make one of these writable: ${dirs.join(', ')}`);
}

/** A valid cache entry of `source`, or undefined (missing, stale, or failing validation). */
async function readCached(dir: string, source: Source): Promise<LoadedModel | undefined> {
  if (!existsSync(join(dir, MODEL_JSON))) return undefined;
  try {
    const m = await readModel(dir);
    if (m.json.source.sha256 === source.sha256 && m.json.source.converter === CONVERTER_VERSION) return m;
  } catch (e) {
    if (!(e instanceof MobileSsdError)) throw e;
  }
  return undefined;
}

function splitLabels(text: string): string[] {
  const lines = text.split(/\r?\n/);
  while (lines.length && lines[lines.length - 1]!.trim() === '') lines.pop();
  return lines.map((l) => l.trim());
}

function stem(path: string): string {
  return basename(path).replace(/(-weights_manifest)?\.[^.]+$/, '');
}

function sha256(...parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}
