/**
 * mobilessd for Node: `load()` a detector by model name or path, then `detect()` on image files,
 * encoded bytes (JPEG/PNG) or raw RGBA pixels. Runs on WebGPU through Dawn.
 */
import { Detector, type DetectorOptions, type FrameSource } from './detector.ts';
import type { DetectOptions, Detection } from './detect_types.ts';
import { InvalidInputError } from './errors.ts';
import type { ExecutorStats } from './graph/executor.ts';
import type { RgbaImage } from './kernels/preprocess_ref.ts';
import { decodeImage, readImageFile, toRgbaImage } from './image/decode.ts';
import { fitToLimit } from './image/fit.ts';
import { DEFAULT_MODEL, resolveModel } from './models/registry.ts';
import { rgbaFrame } from './node/frame_source.ts';
import { installNodeGpu } from './node_gpu.ts';
import type { AdapterReport } from './gpu/context.ts';

export * from './errors.ts';
export type { Box, DetectOptions, Detection, StageTimes } from './detect_types.ts';
export type { RgbaImage } from './kernels/preprocess_ref.ts';
export type { AdapterReport } from './gpu/context.ts';
export { BUNDLED_MODELS, DEFAULT_MODEL } from './models/registry.ts';

/** A file path, encoded JPEG/PNG bytes, or decoded RGBA pixels. */
export type ImageInput = string | Uint8Array | ArrayBuffer | RgbaImage;

export interface LoadOptions extends Omit<DetectorOptions, 'context'> {
  /** Progress messages (first-use model conversion). */
  log?: (message: string) => void;
  /** Dawn toggles, e.g. ['enable-dawn-features=disable_robustness']. */
  toggles?: string[];
}

export interface ModelInfo {
  name: string;
  description: string;
  labels: readonly string[];
  input: { width: number; height: number; resize: string };
  /** Where the converted model lives. */
  dir: string;
  /** Milliseconds: reading or converting the model, packing + uploading weights, pipeline compile. */
  loadMs: number;
  uploadWeightsMs: number;
  compileMs: number;
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
    const resolved = await resolveModel(model, options.log ? { log: options.log } : {});
    const loadMs = performance.now() - t0;
    const detector = await Detector.create(resolved, options);
    const j = resolved.json;
    return new ObjectDetector(
      detector,
      {
        name: j.name,
        description: j.description,
        labels: j.labels,
        input: { width: j.preprocess.width, height: j.preprocess.height, resize: j.preprocess.resize },
        dir: resolved.dir,
        loadMs,
        uploadWeightsMs: detector.timings.uploadWeightsMs,
        compileMs: detector.timings.compileMs,
      },
      options.log ?? ((m) => process.emitWarning(m)),
    );
  }

  get labels(): readonly string[] {
    return this.detector.labels;
  }

  get adapter(): AdapterReport {
    return this.detector.context.report;
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

function scaleBox(d: Detection, f: number): Detection {
  return { ...d, box: { x: d.box.x * f, y: d.box.y * f, width: d.box.width * f, height: d.box.height * f } };
}

function describe(input: ImageInput): string {
  return typeof input === 'string' ? input : 'image';
}
