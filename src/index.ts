/**
 * mobilessd for Node: `load()` a detector by model name or path, then `detect()` on image files,
 * encoded bytes (JPEG/PNG) or raw RGBA pixels. Runs on WebGPU through Dawn.
 */
import { Detector, detectorModelInfo, type DetectorModelInfo, type DetectorOptions, type FrameSource } from './detector.ts';
import type { DetectOptions, Detection } from './detect_types.ts';
import { InvalidInputError, InvalidOptionError } from './errors.ts';
import type { ExecutorStats } from './graph/executor.ts';
import { resizeModelInput, type AnchorSizing } from './ssd/resize_input.ts';
import type { RgbaImage } from './core/image.ts';
import { decodeImage, readImageFile, toRgbaImage } from './image/decode.ts';
import { fitToLimit } from './image/fit.ts';
import { DEFAULT_MODEL, resolveModel } from './models/registry.ts';
import { rgbaFrame } from './node/frame_source.ts';
import { installNodeGpu } from './node_gpu.ts';
import { GpuContext, type AcquireOptions, type AdapterReport } from './gpu/context.ts';

export * from './errors.ts';
export type { Box, DetectOptions, Detection, StageTimes } from './detect_types.ts';
export type { RgbaImage } from './core/image.ts';
export type { AdapterReport, GpuContext, LiveResources } from './gpu/context.ts';
export type { AnchorSizing } from './ssd/resize_input.ts';
export { BUNDLED_MODELS, DEFAULT_MODEL } from './models/registry.ts';

/** A file path, encoded JPEG/PNG bytes, or decoded RGBA pixels. */
export type ImageInput = string | Uint8Array | ArrayBuffer | RgbaImage;

/**
 * `context` runs the detector on a device you created with createGpuContext() and share with other
 * detectors. You own it: destroy() it after disposing its detectors. If that device is lost, the
 * detectors on it reject every call with DeviceLostError (they cannot replace a device others use):
 * create a new context and load them again. A detector without `context` owns its device and
 * re-creates it by itself on the call after a loss.
 */
export interface LoadOptions extends DetectorOptions {
  /** Progress messages (first-use model conversion). */
  log?: (message: string) => void;
  /**
   * Run the network at this input size (pixels; [height, width] or one number for a square) instead
   * of the model's own: smaller is faster and less accurate. The anchors follow the new feature
   * maps (ssd/resize_input.ts).
   */
  inputSize?: number | readonly [number, number];
  /** With inputSize: anchors keep their trained size in pixels (default), or take the generator's sizes for the new input. */
  anchorSizing?: AnchorSizing;
  /** Dawn toggles, e.g. ['enable-dawn-features=disable_robustness']. */
  toggles?: string[];
}

export interface ModelInfo extends DetectorModelInfo {
  /** Where the converted model lives. */
  dir: string;
}

export class ObjectDetector {
  private constructor(
    private readonly detector: Detector,
    readonly info: ModelInfo,
    private readonly log: (message: string) => void,
  ) {}

  static async create(model: string, options: LoadOptions = {}): Promise<ObjectDetector> {
    installNodeGpu(options.toggles);
    const t0 = performance.now();
    const found = await resolveModel(model, options.log ? { log: options.log } : {});
    const resolved = options.inputSize === undefined ? found : { ...found, ...(await resizeModelInput(found, ...inputDims(options.inputSize), options.anchorSizing)) };
    const loadMs = performance.now() - t0;
    const detector = await Detector.create(resolved, options);
    return new ObjectDetector(
      detector,
      { ...detectorModelInfo(resolved, detector, loadMs), dir: resolved.dir },
      options.log ?? ((m) => process.emitWarning(m)),
    );
  }

  get labels(): readonly string[] {
    return this.detector.labels;
  }

  get adapter(): AdapterReport {
    return this.detector.context.report;
  }

  /** The GPU context this detector runs on now (a new one after it recovered from a device loss). */
  get context(): GpuContext {
    return this.detector.context;
  }

  /** Stage times of the last call (upload, GPU, submit-to-result, total). */
  get lastTimes() {
    return this.detector.lastTimes;
  }

  get firstRunMs(): number | undefined {
    return this.detector.timings.firstRunMs;
  }

  memory(): Promise<{ weightBytes: number; activationBytes: number }> {
    return this.detector.memory();
  }

  stats(batch = 1): Promise<ExecutorStats> {
    return this.detector.stats(batch);
  }

  async detect(input: ImageInput, options: DetectOptions = {}): Promise<Detection[]> {
    return (await this.detectBatch([input], options))[0]!;
  }

  /** Several images in one GPU submission (throughput); results in input order. */
  async detectBatch(inputs: readonly ImageInput[], options: DetectOptions = {}): Promise<Detection[][]> {
    const frames = await Promise.all(inputs.map((i) => this.frame(i)));
    const results = await this.detector.detectBatch(frames.map((f) => f.frame), options);
    return results.map((list, i) => (frames[i]!.factor === 1 ? list : list.map((d) => scaleBox(d, frames[i]!.factor))));
  }

  /** Frees the GPU memory (and the device); the detector cannot be used afterwards. */
  dispose(): void {
    this.detector.dispose();
  }

  private async frame(input: ImageInput): Promise<{ frame: FrameSource; factor: number }> {
    const img = await toImage(input);
    const limit = this.detector.context.report.limits.maxTextureDimension2D ?? 8192;
    const fit = fitToLimit(img, limit, describe(input), this.log);
    return { frame: rgbaFrame(fit.image), factor: fit.factor };
  }
}

/** A GPU device to share between detectors (`load(model, { context })`); the caller destroys it. */
export async function createGpuContext(options: AcquireOptions & { toggles?: string[] } = {}): Promise<GpuContext> {
  installNodeGpu(options.toggles);
  return GpuContext.acquire(options);
}

/** Loads a detector: 'oid-v4' (default), 'face', or a path to a .tflite / TF.js manifest / converted model. */
export function load(model: string = DEFAULT_MODEL, options: LoadOptions = {}): Promise<ObjectDetector> {
  return ObjectDetector.create(model, options);
}

async function toImage(input: ImageInput): Promise<RgbaImage> {
  if (typeof input === 'string') return readImageFile(input);
  if (input instanceof ArrayBuffer) return decodeImage(new Uint8Array(input), 'buffer');
  if (input instanceof Uint8Array) return decodeImage(input, 'buffer');
  if (input && typeof input === 'object' && 'data' in input) return toRgbaImage(input);
  throw new InvalidInputError(`unsupported image input (${typeof input})`, 'pass a file path, JPEG/PNG bytes, or {data, width, height} RGBA pixels');
}

function inputDims(size: number | readonly [number, number]): [number, number] {
  if (typeof size === 'number') return [size, size];
  if (Array.isArray(size) && size.length === 2) return [size[0], size[1]];
  throw new InvalidOptionError('inputSize', size, 'a number of pixels or [height, width]');
}

function scaleBox(d: Detection, f: number): Detection {
  return { ...d, box: { x: d.box.x * f, y: d.box.y * f, width: d.box.width * f, height: d.box.height * f } };
}

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : 'image';
}
