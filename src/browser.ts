/**
 * mobilessd for browsers: `load()` a converted model (model.json + its weights file) over HTTP,
 * then `detect()` on images, canvases, video elements, VideoFrames or raw RGBA pixels. Runs on
 * navigator.gpu; the model goes through the same validation (format, sizes, SHA-256) as in Node.
 */
import { Detector, detectorModelInfo, type DetectorModelInfo, type DetectorOptions } from './detector.ts';
import type { DetectOptions, Detection, StageTimes } from './detect_types.ts';
import { ModelFormatError, ModelNotFoundError, NoAdapterError, type DeviceLostError } from './errors.ts';
import type { AdapterReport, GpuContext } from './gpu/context.ts';
import { getGpuProvider } from './gpu/provider.ts';
import { parseModel } from './graph/model_format.ts';
import { frameFor, type BrowserImageInput } from './browser/frame_sources.ts';

export * from './errors.ts';
export type { Box, DetectOptions, Detection, StageTimes } from './detect_types.ts';
export type { RgbaImage } from './core/image.ts';
export type { AdapterReport } from './gpu/context.ts';
export type { BrowserImageInput, ExternalImage } from './browser/frame_sources.ts';

export const DEFAULT_MODEL = 'oid-v4';

export interface LoadProgress {
  url: string;
  loadedBytes: number;
  /** From Content-Length; undefined when the server does not send it. */
  totalBytes: number | undefined;
}

export interface LoadOptions extends Omit<DetectorOptions, 'context' | 'driver'> {
  /** Where model names are looked up: `${baseUrl}<name>/model.json`. Default `./weights/`, relative to the page. */
  baseUrl?: string | URL;
  /** Download progress of model.json and the weights file. */
  onProgress?: (progress: LoadProgress) => void;
  /** Called when the GPU device is lost (the next detect() call recovers on a new one). */
  onDeviceLost?: (error: DeviceLostError) => void;
  /** Warnings, e.g. an image downscaled to fit the texture limit. Default console.warn. */
  log?: (message: string) => void;
}

export interface ModelInfo extends DetectorModelInfo {
  /** The model.json it was loaded from. */
  url: string;
}

const SERVE_HINT =
  'serve the converted model folder (model.json + weights.bin): `npm run demo` converts the bundled models into weights/<name>/ and serves them at ./weights/; or pass a model.json URL or {baseUrl}';

export class ObjectDetector {
  private watched: GpuContext | undefined;
  private unwatch: (() => void) | undefined;

  private constructor(
    private readonly detector: Detector,
    readonly info: ModelInfo,
    private readonly options: LoadOptions,
  ) {
    this.watchDevice();
  }

  static async create(model: string | URL, options: LoadOptions = {}): Promise<ObjectDetector> {
    // Fail before downloading megabytes of weights when the page cannot run them anyway.
    if (!(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) {
      throw new NoAdapterError('navigator.gpu is missing', getGpuProvider().noAdapterHint('auto'));
    }
    const t0 = performance.now();
    const url = modelUrl(model, options.baseUrl);
    const text = new TextDecoder().decode(await fetchBytes(url, options.onProgress));
    const weightsUrl = new URL(await weightsFileName(text, url), url).href;
    const loaded = await parseModel(text, await fetchBytes(weightsUrl, options.onProgress), url);
    const loadMs = performance.now() - t0;
    const detector = await Detector.create(loaded, options);
    return new ObjectDetector(
      detector,
      { ...detectorModelInfo(loaded, detector, loadMs), url },
      options,
    );
  }

  get labels(): readonly string[] {
    return this.detector.labels;
  }

  get adapter(): AdapterReport {
    return this.detector.context.report;
  }

  /** Stage times of the last call (upload, GPU, submit-to-result, total). */
  get lastTimes(): StageTimes | undefined {
    return this.detector.lastTimes;
  }

  get firstRunMs(): number | undefined {
    return this.detector.timings.firstRunMs;
  }

  memory(): Promise<{ weightBytes: number; activationBytes: number }> {
    return this.detector.memory();
  }

  async detect(input: BrowserImageInput, options: DetectOptions = {}): Promise<Detection[]> {
    return (await this.detectBatch([input], options))[0]!;
  }

  /** Several images in one GPU submission; results in input order, boxes in each input's pixels. */
  async detectBatch(inputs: readonly BrowserImageInput[], options: DetectOptions = {}): Promise<Detection[][]> {
    const warn = this.options.log ?? ((m: string) => console.warn(m));
    const frames = await Promise.all(inputs.map((input) => frameFor(input, this.detector.context, warn)));
    try {
      const results = await this.detector.detectBatch(frames.map((f) => f.frame), options);
      return results.map((list, i) => (frames[i]!.factor === 1 ? list : list.map((d) => scaleBox(d, frames[i]!.factor))));
    } finally {
      // After a device loss the detector runs on a new context: listen to that one from now on.
      this.watchDevice();
    }
  }

  /** Frees the GPU memory (and the device); the detector cannot be used afterwards. */
  dispose(): void {
    this.unwatch?.();
    this.detector.dispose();
  }

  private watchDevice(): void {
    const ctx = this.detector.context;
    if (!this.options.onDeviceLost || ctx === this.watched) return;
    this.unwatch?.();
    this.watched = ctx;
    this.unwatch = ctx.onLost(this.options.onDeviceLost);
  }
}

/** Loads a detector: a model name under `baseUrl` ('oid-v4' by default, 'face'), a model.json URL, or a model folder URL. */
export function load(model: string | URL = DEFAULT_MODEL, options: LoadOptions = {}): Promise<ObjectDetector> {
  return ObjectDetector.create(model, options);
}

/** The adapter in a few words; browsers often leave `description` empty (Chrome: vendor "google", architecture "swiftshader"). */
export function describeAdapter(a: AdapterReport): string {
  return a.description || [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || 'unknown WebGPU adapter';
}

function modelUrl(model: string | URL, baseUrl: string | URL = './weights/'): string {
  const page = (globalThis as { document?: { baseURI: string } }).document?.baseURI ?? globalThis.location?.href;
  const text = String(model);
  if (/^[\w.-]+$/.test(text) && !text.endsWith('.json')) return new URL(`${text}/model.json`, new URL(baseUrl, page)).href;
  const url = new URL(text, page);
  if (!url.pathname.endsWith('.json')) url.pathname = `${url.pathname.replace(/\/?$/, '/')}model.json`;
  return url.href;
}

async function fetchBytes(url: string, onProgress: LoadOptions['onProgress']): Promise<Uint8Array> {
  let response: Response;
  try {
    response = await fetch(url);
  } catch (e) {
    throw new ModelNotFoundError(`${url} (${(e as Error).message})`, SERVE_HINT);
  }
  if (!response.ok) throw new ModelNotFoundError(`${url} (HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''})`, SERVE_HINT);
  const length = Number(response.headers.get('content-length'));
  const totalBytes = length > 0 ? length : undefined;
  if (!onProgress || !response.body) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let loadedBytes = 0;
  const reader = response.body.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    chunks.push(r.value);
    loadedBytes += r.value.byteLength;
    onProgress({ url, loadedBytes, totalBytes });
  }
  const out = new Uint8Array(loadedBytes);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** The weights file named by model.json: a bare file name beside it, never a path elsewhere. */
async function weightsFileName(text: string, url: string): Promise<string> {
  if (text.trimStart().startsWith('<')) throw new ModelFormatError(url, 'the server answered with an HTML page, not model.json', SERVE_HINT);
  let file: unknown;
  try {
    file = (JSON.parse(text) as { weights?: { file?: unknown } }).weights?.file;
  } catch {
    // parseModel below reports the JSON error itself.
  }
  if (typeof file !== 'string') {
    await parseModel(text, new Uint8Array(0), url);
    throw new ModelFormatError(url, 'weights.file is missing');
  }
  if (!/^\w[\w.-]*$/.test(file)) throw new ModelFormatError(url, `weights.file ${JSON.stringify(file)} is not a file name beside model.json`);
  return file;
}

function scaleBox(d: Detection, f: number): Detection {
  return { ...d, box: { x: d.box.x * f, y: d.box.y * f, width: d.box.width * f, height: d.box.height * f } };
}
