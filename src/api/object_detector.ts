/**
 * ObjectDetector: what `load()` returns in Node and in browsers alike. The platform differences sit
 * in a small adapter (Platform): where a model comes from (files and the conversion cache in Node,
 * fetch in browsers), how an input becomes a frame on the GPU (decoding in Node, the browser's own
 * image copies), and where warnings go. Everything else (options, batching, plans compiled ahead,
 * device-loss notification, box scaling) is written once, here.
 */
import type { DetectOptions, Detection, StageTimes } from '../detect_types.ts';
import { InvalidOptionError, type DeviceLostError } from '../errors.ts';
import type { AdapterReport, GpuContext } from '../gpu/context.ts';
import type { ExecutorStats } from '../graph/executor.ts';
import type { LoadedModel } from '../graph/weights.ts';
import {
  Detector,
  detectorModelInfo,
  type DetectorModelInfo,
  type DetectorOptions,
  type FrameSource,
  reportableClasses,
  type RunPrecision,
  type SubgroupUse,
} from './detector.ts';
import type { GemmPlanReport } from './tuning.ts';

/** An input as a frame for the GPU, and the factor that maps the frame's pixels back to the input's. */
export interface PlatformFrame {
  frame: FrameSource;
  factor: number;
}

export interface Platform<Input, Source, Where> {
  /** Reads, fetches or converts the model, and says where it came from (merged into `info`). */
  loadModel(source: Source): Promise<{ model: LoadedModel; where: Where }>;
  /** Turns one input into a frame; inputs over the texture limit are downscaled, with a warning. */
  frame(input: Input, ctx: GpuContext, warn: (message: string) => void): Promise<PlatformFrame>;
  /** Where warnings go when the caller gives no `log`. */
  warn(message: string): void;
}

export interface ObjectDetectorOptions extends DetectorOptions {
  /** Warnings, e.g. an image downscaled to fit the texture limit. */
  log?: (message: string) => void;
  /**
   * Batch sizes whose plans are compiled at load time besides 1, so the first detectBatch() of that
   * size does not compile shaders; warmup() compiles more later.
   */
  batchSizes?: readonly number[];
  /** Called when the GPU device is lost (the next call recovers on a new device, unless it was shared). */
  onDeviceLost?: (error: DeviceLostError) => void;
}

export class ObjectDetector<Input, Where extends object = object> {
  private watched: GpuContext | undefined;
  private unwatch: (() => void) | undefined;

  private constructor(
    private readonly detector: Detector,
    readonly info: DetectorModelInfo & Where,
    private readonly platform: Platform<Input, unknown, Where>,
    private readonly options: ObjectDetectorOptions,
  ) {
    this.watchDevice();
  }

  /** The model from `source`, compiled for the GPU: every plan of `options.batchSizes` (and 1) is ready. */
  static async create<I, S, W extends object>(
    platform: Platform<I, S, W>,
    source: S,
    options: ObjectDetectorOptions,
  ): Promise<ObjectDetector<I, W>> {
    const batches = checkBatchSizes(options.batchSizes ?? []);
    const t0 = performance.now();
    options.onLoadStage?.('model');
    const { model, where } = await platform.loadModel(source);
    const loadMs = performance.now() - t0;
    const detector = await Detector.create(model, options);
    try {
      await detector.warmup(batches);
    } catch (e) {
      detector.dispose();
      throw e;
    }
    const info = { ...detectorModelInfo(model, detector, loadMs), ...where };
    return new ObjectDetector(detector, info, platform, options);
  }

  get labels(): readonly string[] {
    return this.detector.labels;
  }

  /** The classes this model reports (ids index `labels`): all but the background column and unnamed slots. */
  get classes(): readonly { id: number; label: string }[] {
    return reportableClasses(this.detector.model.json);
  }

  get adapter(): AdapterReport {
    return this.detector.context.report;
  }

  /** The GPU context this detector runs on now (a new one after it recovered from a device loss). */
  get context(): GpuContext {
    return this.detector.context;
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

  /** Executor statistics (dispatch list, memory plan) for a batch size, compiling its plan if needed. */
  stats(batch = 1): Promise<ExecutorStats> {
    return this.detector.stats(batch);
  }

  /** Dispatches per call of this batch size: preprocessing, network and SSD head, one submit in all. */
  dispatchCounts(batch = 1): Promise<{ preprocess: number; network: number; head: number; total: number }> {
    return this.detector.dispatchCounts(batch);
  }

  /** Which kernels use subgroup operations on this device (SSD head, 1x1-convolution GEMMs). */
  subgroupUse(batch = 1): Promise<SubgroupUse> {
    return this.detector.subgroupUse(batch);
  }

  /** What the network runs in, 'auto' resolved: 'f32', 'f16' (float16 storage, float32 sums) or 'int8'. */
  get precision(): RunPrecision {
    return this.detector.precision;
  }

  /** How the GEMM configurations were chosen at load: the measured table, a cached tuning entry, or a new run. */
  get gemmTuning(): GemmPlanReport {
    return this.detector.gemm;
  }

  /** Compiles the plans of these batch sizes now, so detectBatch() of those sizes compiles nothing. */
  async warmup(batchSizes: readonly number[]): Promise<void> {
    await this.detector.warmup(checkBatchSizes(batchSizes));
  }

  async detect(input: Input, options: DetectOptions = {}): Promise<Detection[]> {
    return (await this.detectBatch([input], options))[0]!;
  }

  /** Several images in one GPU submission; results in input order, boxes in each input's pixels. */
  async detectBatch(inputs: readonly Input[], options: DetectOptions = {}): Promise<Detection[][]> {
    const warn = this.options.log ?? ((m: string) => this.platform.warn(m));
    const frames = await Promise.all(inputs.map((input) => this.platform.frame(input, this.detector.context, warn)));
    try {
      const results = await this.detector.detectBatch(
        frames.map((f) => f.frame),
        options,
      );
      return results.map((list, i) =>
        frames[i]!.factor === 1 ? list : list.map((d) => scaleBox(d, frames[i]!.factor)),
      );
    } finally {
      // After a device loss the detector runs on a new context: listen to that one from now on.
      this.watchDevice();
    }
  }

  /** Frees the GPU memory (and the device it owns); the detector cannot be used afterwards. */
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

function checkBatchSizes(sizes: readonly number[]): number[] {
  if (!Array.isArray(sizes)) throw new InvalidOptionError('batchSizes', sizes, 'an array of batch sizes');
  for (const b of sizes)
    if (!(Number.isInteger(b) && b >= 1))
      throw new InvalidOptionError('batchSizes', b, 'whole numbers of images, at least 1');
  return [...sizes];
}

function scaleBox(d: Detection, f: number): Detection {
  return { ...d, box: { x: d.box.x * f, y: d.box.y * f, width: d.box.width * f, height: d.box.height * f } };
}
