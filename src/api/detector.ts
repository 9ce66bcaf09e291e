/**
 * The detector: a model compiled for the GPU plus the SSD head, run as one recorded sequence per
 * frame: upload the frame(s) to textures, one submit (preprocess -> network -> head), and a
 * readback of only the final detections. Platform-neutral; the Node and browser entries turn their
 * inputs into FrameSources.
 */
import {
  DeviceLostError,
  DisposedError,
  ImageTooLargeError,
  InvalidInputError,
  InvalidOptionError,
} from '../errors.ts';
import { GpuContext, type AcquireOptions, type SubgroupSizes } from '../gpu/context.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import type { Precision, Requantization } from '../core/quant.ts';
import {
  preprocessPipeline,
  preprocessStage,
  type PreprocessOutput,
  type PreprocessStage,
} from '../kernels/preprocess.ts';
import type { TuneMode } from '../kernels/pointwise_autotune.ts';
import { supportsPackedDot } from '../kernels/qcommon.ts';
import { integerLowering, resolvePrecision } from '../graph/integer.ts';
import { boxToImage, pointToImage, type Placement } from '../image/placement.ts';
import { GraphExecutor, largestFittingBatch, packModelWeights } from '../graph/executor.ts';
import type { IntegerLowering, VariantChoice } from '../ops/support/lowering.ts';
import type { PackedWeights, LoadedModel } from '../graph/weights.ts';
import type { StorageType } from '../kernels/storage.ts';
import { constData } from '../graph/weights.ts';
import { SsdHead, parseDetections, type HeadOptions } from '../ssd/head.ts';
import { keypointCount } from '../ssd/head_types.ts';
import type { DetectOptions, Detection, StageTimes } from '../detect_types.ts';
import { checkTuneMode, defaultTuneMode, gemmPlanFor, type GemmPlanReport, type TuningStore } from './tuning.ts';

/** A frame the detector can put on the GPU: decoded pixels (Node) or a browser image/video source. */
export interface FrameSource {
  readonly width: number;
  readonly height: number;
  /** Copies the frame into the top-left corner of `texture` (rgba8unorm, at least width x height). */
  upload(ctx: GpuContext, texture: GPUTexture): void;
}

/** What loading is doing: reading or fetching the model, acquiring the GPU device, uploading weights, compiling shaders. */
export type LoadStage = 'model' | 'device' | 'upload' | 'compile';

export interface DetectorOptions extends DetectOptions, AcquireOptions {
  /** Told as loading moves from one stage to the next (a page's status line: compiling takes seconds). */
  onLoadStage?: (stage: LoadStage) => void;
  /** Largest number of detections any call may ask for (sizes the readback). Default 100. */
  maxDetectionsCap?: number;
  /** Most candidates the head sorts and suppresses per image. Default 1024; evaluation uses more. */
  candidateCap?: number;
  /** Force kernel variants (tests and benchmarks). */
  variants?: VariantChoice;
  /**
   * The SSD head's subgroup score pass: true forces it (InvalidOptionError on a device without usable subgroups);
   * default false, the plain pass (measured faster on lavapipe and SwiftShader). Detections are the same.
   */
  subgroups?: boolean;
  /** Use this GPU context instead of acquiring one (several detectors can share a device). */
  context?: GpuContext;
  /**
   * 'int8': a quantized model runs on integer kernels, its raw outputs TFLite's byte for byte
   * (docs/integer.md); 'f32': float kernels on the dequantized weights; 'f16': float kernels on float16
   * weights and activations with float32 sums (InvalidOptionError on an adapter without shader-f16);
   * 'auto' (default): 'int8' when the model can run it, else 'f16' on a hardware adapter with shader-f16
   * (software adapters keep 'f32', the precision the parity tests hold them to), else 'f32'.
   */
  precision?: Precision;
  /** Integer arithmetic to match: XNNPACK's fp32 scales (default; TFLite's WASM and CPU delegate) or TFLite's fixed point. */
  requantization?: Requantization;
  /**
   * GEMM kernel choice: 'off' uses the measured table; 'fast' (default on adapters the table does not cover)
   * times a few candidate configurations per 1x1-layer shape at load, within about a second; 'full' times
   * every one. A tuned plan is cached per adapter, model and input size where the platform can store it.
   */
  tune?: TuneMode;
  /** Wall-clock budget of a 'fast' tuning run, ms (default about a second); shapes it does not reach are timed by later loads. */
  tuneBudgetMs?: number;
  /** Where tuned plans persist (Node: its cache folder; browsers: IndexedDB). */
  tuningStore?: TuningStore;
}

export interface DetectorTimings {
  /** Pipeline creation (shader compile) for the first plan, ms. */
  compileMs: number;
  /** Weight upload and packing, ms. */
  uploadWeightsMs: number;
  /** The first detect() call end to end, ms (undefined until it ran). */
  firstRunMs: number | undefined;
}

interface Slot {
  texture: GPUTexture;
  stage: PreprocessStage;
  width: number;
  height: number;
}

/**
 * Compiled batch sizes kept at once (least recently used dropped first). A caller cycling through
 * many batch sizes rebuilds plans from cached pipelines instead of keeping an arena per size.
 */
const MAX_PLANS = 4;

/** Why a detector on a context it was given cannot carry on after a device loss. */
const SHARED_CONTEXT_LOST =
  'this detector runs on a GPU context it was given and cannot replace that context for its other users: create a new context and load the detectors again on it (a detector that owns its context recovers by itself)';

/** Which kernels run with subgroup operations, and the sizes the adapter states (undefined: no subgroups). */
export interface SubgroupUse {
  sizes: SubgroupSizes | undefined;
  ssdHead: boolean;
  /** 1x1-convolution layers on a `subgroup` GEMM variant, of all of them. */
  gemmLayers: number;
  gemmLayersTotal: number;
}

/**
 * A compiled batch size. A batch larger than the adapter's buffers hold runs in chunks of `chunk` images
 * through one executor, still in one submit: each chunk's head output is copied to its place in `staging`.
 */
interface Plan {
  batch: number;
  chunk: number;
  executor: GraphExecutor;
  head: SsdHead;
  slots: Slot[];
  headDispatches: Dispatch[];
  staging: GPUBuffer;
  /** Bytes of one chunk's head output. */
  resultBytes: number;
  timestamps?: { querySet: GPUQuerySet; resolve: GPUBuffer };
}

/** What a loaded detector says about its model, in Node and browsers alike (each adds where it came from). */
export interface DetectorModelInfo {
  name: string;
  description: string;
  labels: readonly string[];
  input: { width: number; height: number; resize: string };
  /** The model's own post-processing settings, used for options a call leaves out. */
  defaults: {
    scoreThreshold: number;
    iouThreshold: number;
    maxDetections: number;
    perClassNms: boolean;
    nms: 'greedy' | 'weighted';
  };
  /** Names of the keypoints each detection carries (empty for models without keypoints). */
  keypoints: readonly string[];
  /** Milliseconds: reading the model (converting, downloading, validating), packing + uploading weights, pipeline compile. */
  loadMs: number;
  uploadWeightsMs: number;
  compileMs: number;
  /** What the network runs in: integer kernels ('int8') or float ('f32', or 'f16' storage with f32 sums). */
  precision: RunPrecision;
}

export function detectorModelInfo(model: LoadedModel, detector: Detector, loadMs: number): DetectorModelInfo {
  const j = model.json;
  return {
    name: j.name,
    description: j.description,
    labels: j.labels,
    input: { width: j.preprocess.width, height: j.preprocess.height, resize: j.preprocess.resize },
    defaults: { ...j.ssd.defaults, nms: j.ssd.defaults.nms ?? 'greedy' },
    keypoints: j.ssd.decoding?.keypoints?.names ?? [],
    loadMs,
    uploadWeightsMs: detector.timings.uploadWeightsMs,
    compileMs: detector.timings.compileMs,
    precision: detector.precision,
  };
}

export class Detector {
  readonly labels: readonly string[];
  readonly timings: DetectorTimings = { compileMs: 0, uploadWeightsMs: 0, firstRunMs: undefined };
  /** Stage times of the most recent call. */
  lastTimes: StageTimes | undefined;
  private ctx: GpuContext;
  private weights: PackedWeights;
  private readonly plans = new Map<number, Promise<Plan>>();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;
  private readonly ownsContext: boolean;
  private readonly anchors: Float32Array;
  private readonly cap: number;
  /** The precision this detector runs at, 'auto' resolved. */
  readonly precision: RunPrecision;
  private integer: IntegerLowering | undefined;
  /** Which GEMM configurations the float 1x1 layers use, and where they came from. */
  gemm: GemmPlanReport = { mode: 'off', source: 'table', plan: new Map() };

  private constructor(
    readonly model: LoadedModel,
    ctx: GpuContext,
    weights: PackedWeights,
    integer: IntegerLowering | undefined,
    precision: RunPrecision,
    private readonly options: DetectorOptions,
  ) {
    this.ctx = ctx;
    this.weights = weights;
    this.integer = integer;
    this.precision = precision;
    this.labels = model.json.labels;
    this.ownsContext = !options.context;
    this.anchors = constData(model, model.json.ssd.anchors).data;
    this.cap = options.maxDetectionsCap ?? 100;
  }

  static async create(model: LoadedModel, options: DetectorOptions = {}): Promise<Detector> {
    validateOptions(options, model.json.labels, options.maxDetectionsCap ?? 100);
    const modelPrecision = resolvePrecision(model.json, options.precision ?? 'auto');
    if (options.tune !== undefined) checkTuneMode(options.tune);
    if (options.tuneBudgetMs !== undefined && !(options.tuneBudgetMs >= 0))
      throw new InvalidOptionError('tuneBudgetMs', options.tuneBudgetMs, 'milliseconds, 0 or more');
    if (options.requantization !== undefined && !['xnnpack', 'tflite'].includes(options.requantization))
      throw new InvalidOptionError('requantization', options.requantization, "'xnnpack' or 'tflite'");
    if (!options.context) options.onLoadStage?.('device');
    const ctx = options.context ?? (await GpuContext.acquire(options));
    let d: Detector | undefined;
    try {
      options.onLoadStage?.('upload');
      const t0 = performance.now();
      const precision = adapterPrecision(ctx, options.precision ?? 'auto', modelPrecision);
      const integer = precision === 'int8' ? await Detector.integerFor(ctx, model, options) : undefined;
      const weights = packModelWeights(ctx, model, integer, storageOf(precision));
      d = new Detector(model, ctx, weights, integer, precision, options);
      d.timings.uploadWeightsMs = performance.now() - t0;
      options.onLoadStage?.('compile');
      const t1 = performance.now();
      const tune = integer ? 'off' : (options.tune ?? defaultTuneMode(ctx.report));
      d.gemm = await gemmPlanFor(ctx, model, tune, options.tuningStore, options.tuneBudgetMs, d.weights);
      await d.plan(1);
      d.timings.compileMs = performance.now() - t1;
      return d;
    } catch (e) {
      // A load that fails (bad options, limits) must not keep a device or weights alive.
      if (d) d.dispose();
      else if (!options.context) ctx.destroy();
      throw e;
    }
  }

  private static async integerFor(ctx: GpuContext, model: LoadedModel, o: DetectorOptions): Promise<IntegerLowering> {
    return integerLowering(model.json, o.requantization ?? 'xnnpack', await supportsPackedDot(ctx));
  }

  /** The network input's form, which the preprocessing writes. */
  private get inputForm(): PreprocessOutput {
    return this.integer ? this.integer.tensor(this.model.json.input).dtype : this.storage;
  }

  /** The float kernels' storage type (int8 graphs keep f32 for their dequantized outputs). */
  private get storage(): StorageType {
    return storageOf(this.precision);
  }

  get context(): GpuContext {
    return this.ctx;
  }

  /** GPU bytes: packed weights and the activation arena of each compiled batch size. */
  async memory(): Promise<{ weightBytes: number; activationBytes: number }> {
    let activationBytes = 0;
    for (const p of this.plans.values()) activationBytes += (await p).executor.stats.activationBytes;
    return { weightBytes: this.weights.byteLength, activationBytes };
  }

  /** Executor statistics (dispatch list, memory plan) for a batch size, compiling it if needed. */
  async stats(batch = 1) {
    return (await this.plan(batch)).executor.stats;
  }

  /** How a call of this batch size runs: images per executor run (the arena's batch) and runs per call. */
  async chunking(batch = 1): Promise<{ chunk: number; chunks: number }> {
    const p = await this.plan(batch);
    return { chunk: p.chunk, chunks: Math.ceil(batch / p.chunk) };
  }

  /** Dispatches one call of this batch size records: preprocessing (one per image), the network, the SSD head. */
  async dispatchCounts(batch = 1): Promise<{ preprocess: number; network: number; head: number; total: number }> {
    const p = await this.plan(batch);
    const chunks = Math.ceil(batch / p.chunk);
    const counts = {
      preprocess: p.slots.length,
      network: chunks * p.executor.dispatches.length,
      head: chunks * p.headDispatches.length,
    };
    return { ...counts, total: counts.preprocess + counts.network + counts.head };
  }

  /** Where this detector's kernels use subgroup operations (a plan of this batch size, compiled if needed). */
  async subgroupUse(batch = 1): Promise<SubgroupUse> {
    const p = await this.plan(batch);
    const gemms = p.executor.stats.steps.filter((st) => st.kind === 'pointwise');
    return {
      sizes: this.ctx.subgroups,
      ssdHead: p.head.usesSubgroups,
      gemmLayers: gemms.filter((st) => st.variant?.startsWith('subgroup')).length,
      gemmLayersTotal: gemms.length,
    };
  }

  /** Compiles the plans of these batch sizes ahead of the calls that use them. */
  async warmup(batchSizes: readonly number[]): Promise<void> {
    if (this.disposed) throw new DisposedError('detector');
    await Promise.all(batchSizes.map((b) => this.plan(b)));
  }

  detect(frame: FrameSource, options: DetectOptions = {}): Promise<Detection[]> {
    return this.detectBatch([frame], options).then((r) => r[0]!);
  }

  /** Runs several frames as one batch (one submit); results in input order. */
  detectBatch(frames: readonly FrameSource[], options: DetectOptions = {}): Promise<Detection[][]> {
    if (this.disposed) return Promise.reject(new DisposedError('detector'));
    if (!frames.length) return Promise.resolve([]);
    const merged = { ...this.options, ...options };
    try {
      validateOptions(merged, this.labels, this.cap);
      const maxSide = this.ctx.report.limits.maxTextureDimension2D ?? 8192;
      frames.forEach((f, i) => checkFrame(f, i, maxSide));
    } catch (e) {
      // A promise-returning call reports bad input as a rejection, never as a synchronous throw.
      return Promise.reject(e);
    }
    // One frame sequence at a time: plans share their staging buffers and arenas.
    const run = this.queue.then(() => this.runBatch(frames, merged));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Calls not started yet reject with DisposedError; the GPU memory goes once the running call (if any) ends. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.queue.then(() => {
      this.releaseGpu();
      if (this.ownsContext) this.ctx.destroy();
    });
  }

  private releaseGpu(): void {
    for (const p of this.plans.values()) p.then((plan) => destroyPlan(plan)).catch(() => undefined);
    this.plans.clear();
    this.weights.buffer?.destroy();
  }

  /** After a device loss: a new device, weights and plans; the CPU copy of the model never left. */
  private async recover(): Promise<void> {
    this.releaseGpu();
    if (!this.ownsContext) throw new DeviceLostError('the shared GPU context was lost', undefined, SHARED_CONTEXT_LOST);
    this.ctx.destroy();
    this.ctx = await GpuContext.acquire(this.options);
    if (this.integer) this.integer = await Detector.integerFor(this.ctx, this.model, this.options);
    // The new device is the same adapter's: if it lost shader-f16, this says so instead of failing to compile.
    if (this.precision === 'f16') adapterPrecision(this.ctx, 'f16', 'f16');
    this.weights = packModelWeights(this.ctx, this.model, this.integer, this.storage);
  }

  private plan(batch: number): Promise<Plan> {
    let p = this.plans.get(batch);
    if (p) this.plans.delete(batch);
    else {
      const building = this.buildPlan(batch);
      // Only this attempt's entry: after a device loss a new plan for this batch may have replaced it.
      building.catch(() => this.plans.get(batch) === building && this.plans.delete(batch));
      p = building;
    }
    // Most recently used last.
    this.plans.set(batch, p);
    return p;
  }

  /** Drops the least recently used plans beyond MAX_PLANS; runs between calls, when no plan is in use. */
  private trimPlans(): void {
    for (const [batch, p] of this.plans) {
      if (this.plans.size <= MAX_PLANS) break;
      this.plans.delete(batch);
      p.then(destroyPlan, () => undefined);
    }
  }

  private async buildPlan(batch: number): Promise<Plan> {
    const ctx = this.ctx;
    const json = this.model.json;
    const force = this.options.variants ?? {};
    // Chunks as even as the limit allows (64 images where 15 fit: 5 chunks of 13, not 4 x 15 + 4).
    const fit = largestFittingBatch(ctx, this.model, batch, force, this.integer, this.gemm.plan, this.storage);
    const chunk = fit >= 1 ? Math.ceil(batch / Math.ceil(batch / fit)) : batch;
    const executor = await GraphExecutor.create(
      ctx,
      this.model,
      this.weights,
      chunk,
      force,
      this.integer,
      this.gemm.plan,
      this.storage,
    );
    const scoresShape = json.shapes[json.outputs.scores]!;
    const head = await SsdHead.create(ctx, {
      batch: chunk,
      numAnchors: scoresShape[1]!,
      numClasses: scoresShape[2]!,
      anchors: this.anchors,
      // Integer outputs reach the head as TFLite's post-process op reads them: scores after the LOGISTIC.
      spec: this.integer ? { ...json.ssd, scoreFunction: 'probability' } : json.ssd,
      maxDetectionsCap: this.cap,
      candidateCap: this.options.candidateCap ?? 1024,
      labels: json.labels,
      subgroups: this.options.subgroups ?? false,
      storage: this.storage,
    });
    const out = executor.outputs;
    const headDispatches = head.dispatches(out.boxes, out.scores);
    const prePipe = await preprocessPipeline(ctx, this.inputForm);
    const slots: Slot[] = [];
    for (let i = 0; i < batch; i++) {
      const texture = createFrameTexture(ctx, 1, 1);
      slots.push({
        texture,
        stage: preprocessStage(
          ctx,
          prePipe,
          json.preprocess,
          texture.createView(),
          executor.input,
          i % chunk,
          { width: 1, height: 1 },
          this.inputForm,
        ),
        width: 1,
        height: 1,
      });
    }
    const resultBytes = head.outputBytes;
    const timestamps = ctx.hasTimestamps
      ? {
          querySet: ctx.device.createQuerySet({ type: 'timestamp', count: 2 }),
          resolve: ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }),
        }
      : undefined;
    const staging = ctx.device.createBuffer({
      label: 'detections readback',
      size: Math.ceil((Math.ceil(batch / chunk) * resultBytes) / 8) * 8 + 16,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    return {
      batch,
      chunk,
      executor,
      head,
      slots,
      headDispatches,
      staging,
      resultBytes,
      ...(timestamps ? { timestamps } : {}),
    };
  }

  private async runBatch(frames: readonly FrameSource[], options: DetectOptions): Promise<Detection[][]> {
    if (this.disposed) throw new DisposedError('detector');
    if (this.ctx.lost) await this.recover();
    const first = this.timings.firstRunMs === undefined;
    const t0 = performance.now();
    try {
      const result = await this.runOnce(frames, options, t0);
      if (first) this.timings.firstRunMs = performance.now() - t0;
      return result;
    } catch (e) {
      if (this.ctx.lost) {
        // The call in flight cannot be saved; the next one starts on a new device (if this detector owns it).
        const message = `GPU device lost during detection: ${(e as Error).message}`;
        if (!this.ownsContext) throw new DeviceLostError(message, e, SHARED_CONTEXT_LOST);
        throw e instanceof DeviceLostError ? e : new DeviceLostError(message, e);
      }
      throw e;
    } finally {
      this.trimPlans();
    }
  }

  private async runOnce(frames: readonly FrameSource[], options: DetectOptions, t0: number): Promise<Detection[][]> {
    const ctx = this.ctx;
    const plan = await this.plan(frames.length);
    const placements: Placement[] = [];
    const prePipe = await preprocessPipeline(ctx, this.inputForm);
    frames.forEach((f, i) => {
      const slot = plan.slots[i]!;
      if (f.width > slot.texture.width || f.height > slot.texture.height) {
        // Grow-only: a video keeps one texture and one bind group for its whole length.
        slot.texture.destroy();
        for (const b of slot.stage.dispatch.owned) b.destroy();
        slot.texture = createFrameTexture(
          ctx,
          Math.max(f.width, slot.texture.width),
          Math.max(f.height, slot.texture.height),
        );
        slot.stage = preprocessStage(
          ctx,
          prePipe,
          this.model.json.preprocess,
          slot.texture.createView(),
          plan.executor.input,
          i % plan.chunk,
          f,
          this.inputForm,
        );
      }
      f.upload(ctx, slot.texture);
      placements.push(slot.stage.update(f.width, f.height));
    });
    plan.head.setOptions(headOptions(options, this.model, this.cap));
    const tUpload = performance.now();

    const enc = ctx.device.createCommandEncoder({ label: 'detect' });
    const ts = plan.timestamps;
    const chunks = Math.ceil(plan.batch / plan.chunk);
    for (let c = 0; c < chunks; c++) {
      // The GPU time spans every chunk: the first pass writes the start, the last the end.
      const writes = ts &&
        (c === 0 || c === chunks - 1) && {
          querySet: ts.querySet,
          ...(c === 0 ? { beginningOfPassWriteIndex: 0 } : {}),
          ...(c === chunks - 1 ? { endOfPassWriteIndex: 1 } : {}),
        };
      const pass = enc.beginComputePass(writes ? { timestampWrites: writes } : {});
      encodeDispatches(
        pass,
        plan.slots.slice(c * plan.chunk, (c + 1) * plan.chunk).map((s) => s.stage.dispatch),
      );
      encodeDispatches(pass, plan.executor.dispatches);
      encodeDispatches(pass, plan.headDispatches);
      pass.end();
      enc.copyBufferToBuffer(plan.head.output, 0, plan.staging, c * plan.resultBytes, plan.resultBytes);
    }
    const tsAt = Math.ceil((chunks * plan.resultBytes) / 8) * 8;
    if (ts) {
      enc.resolveQuerySet(ts.querySet, 0, 2, ts.resolve, 0);
      enc.copyBufferToBuffer(ts.resolve, 0, plan.staging, tsAt, 16);
    }
    ctx.queue.submit([enc.finish()]);
    try {
      await plan.staging.mapAsync(GPUMapMode.READ);
    } catch (e) {
      ctx.throwIfLost();
      throw e;
    }
    const tMapped = performance.now();
    const bytes = plan.staging.getMappedRange().slice(0);
    plan.staging.unmap();
    ctx.throwUncaptured('detect');
    let gpuMs: number | undefined;
    if (ts) {
      const t = new BigInt64Array(bytes, tsAt, 2);
      gpuMs = Number(t[1]! - t[0]!) / 1e6;
    }
    const names = this.model.json.ssd.decoding?.keypoints?.names ?? [];
    // The last chunk's unused images (if any) ran on stale inputs: their results are dropped.
    const raw = parseDetections(bytes, chunks * plan.chunk, this.cap, keypointCount(this.model.json.ssd)).slice(
      0,
      plan.batch,
    );
    const result = raw.map((list, i) =>
      list.map((d): Detection => ({
        label: this.labels[d.classId] ?? String(d.classId),
        classId: d.classId,
        score: d.score,
        box: boxToImage(placements[i]!, frames[i]!.width, frames[i]!.height, d.ymin, d.xmin, d.ymax, d.xmax),
        ...(d.keypoints
          ? {
              keypoints: names.map((name, k) => ({
                name,
                ...pointToImage(placements[i]!, d.keypoints![2 * k]!, d.keypoints![2 * k + 1]!),
              })),
            }
          : {}),
      })),
    );
    const tEnd = performance.now();
    this.lastTimes = { upload: tUpload - t0, gpu: gpuMs, submitToResult: tMapped - tUpload, total: tEnd - t0 };
    return result;
  }
}

/** What a detector runs in, 'auto' resolved. */
export type RunPrecision = 'f32' | 'f16' | 'int8';

function storageOf(precision: RunPrecision): StorageType {
  return precision === 'f16' ? 'f16' : 'f32';
}

/**
 * The precision on this adapter. 'f16' needs shader-f16 (InvalidOptionError naming what to use instead); 'auto'
 * takes it for a float model only on hardware adapters: software adapters (lavapipe, SwiftShader) keep f32, the
 * precision the parity tests hold them to exactly.
 */
export function adapterPrecision(ctx: GpuContext, asked: Precision, model: 'f32' | 'f16' | 'int8'): RunPrecision {
  if (model === 'f16' && !ctx.hasF16)
    throw new InvalidOptionError(
      'precision',
      'f16',
      `'f32' or 'auto': this adapter (${ctx.describe()}) does not offer shader-f16`,
    );
  if (asked === 'auto' && model === 'f32' && ctx.hasF16 && ctx.report.driver === 'hardware') return 'f16';
  return model;
}

/** A frame the GPU can take: whole pixels, at least one (a browser video not loaded yet reports 0x0), within the texture limit. */
function checkFrame(f: FrameSource, index: number, maxSide: number): void {
  const { width, height } = f;
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1)) {
    throw new InvalidInputError(
      `frame ${index} is ${width}x${height} pixels: a frame needs a whole number of pixels, at least one each way`,
      'pass a decoded image or a video that has loaded its first frame',
    );
  }
  if (width > maxSide || height > maxSide)
    throw new ImageTooLargeError(
      `frame ${index}`,
      width,
      height,
      `this GPU's texture limit is ${maxSide} pixels per side`,
    );
}

function createFrameTexture(ctx: GpuContext, width: number, height: number): GPUTexture {
  return ctx.device.createTexture({
    label: 'frame',
    size: [width, height],
    format: 'rgba8unorm',
    // RENDER_ATTACHMENT: copyExternalImageToTexture (browser frames) requires it.
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | GPUTextureUsage.RENDER_ATTACHMENT,
  });
}

function destroyPlan(plan: Plan): void {
  plan.executor.destroy();
  plan.head.destroy();
  for (const s of plan.slots) {
    s.texture.destroy();
    for (const b of s.stage.dispatch.owned) b.destroy();
  }
  plan.staging.destroy();
  plan.timestamps?.querySet.destroy();
  plan.timestamps?.resolve.destroy();
}

/** A class the detector may report: not the background column, not an unnamed ("???") slot of the label map. */
function reportable(json: LoadedModel['json'], label: string, id: number): boolean {
  return id !== json.ssd.backgroundClass && label !== '???';
}

/** The classes a model reports, by logits column. */
export function reportableClasses(json: LoadedModel['json']): { id: number; label: string }[] {
  return json.labels.flatMap((label, id) => (reportable(json, label, id) ? [{ id, label }] : []));
}

function headOptions(o: DetectOptions, model: LoadedModel, cap: number): HeadOptions {
  const d = model.json.ssd.defaults;
  const labels = model.json.labels;
  const allowed = labels.map((name, i) => reportable(model.json, name, i));
  if (o.classes && o.classes.length) {
    const want = new Set<number>();
    for (const c of o.classes) {
      if (typeof c === 'number') want.add(c);
      else labels.forEach((name, i) => name.toLowerCase() === c.toLowerCase() && want.add(i));
    }
    allowed.forEach((a, i) => (allowed[i] = a && want.has(i)));
  }
  return {
    scoreThreshold: o.scoreThreshold ?? d.scoreThreshold,
    iouThreshold: o.iouThreshold ?? d.iouThreshold,
    maxDetections: Math.min(o.maxDetections ?? d.maxDetections, cap),
    perClassNms: o.perClassNms ?? d.perClassNms,
    nms: o.nms ?? d.nms ?? 'greedy',
    allowedClasses: allowed,
  };
}

/** Rejects NaN, out-of-range and unknown values with a message naming the option. */
export function validateOptions(o: DetectOptions, labels: readonly string[], cap: number): void {
  const unit = (name: string, v: number | undefined) => {
    if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1))
      throw new InvalidOptionError(name, v, 'a number from 0 to 1');
  };
  unit('scoreThreshold', o.scoreThreshold);
  unit('iouThreshold', o.iouThreshold);
  if (
    o.maxDetections !== undefined &&
    !(Number.isInteger(o.maxDetections) && o.maxDetections >= 1 && o.maxDetections <= cap)
  ) {
    throw new InvalidOptionError(
      'maxDetections',
      o.maxDetections,
      `an integer from 1 to ${cap} (raise maxDetectionsCap at load time for more)`,
    );
  }
  if (o.perClassNms !== undefined && typeof o.perClassNms !== 'boolean')
    throw new InvalidOptionError('perClassNms', o.perClassNms, 'true or false');
  if (o.nms !== undefined && o.nms !== 'greedy' && o.nms !== 'weighted')
    throw new InvalidOptionError('nms', o.nms, "'greedy' or 'weighted'");
  if (o.classes !== undefined) {
    if (!Array.isArray(o.classes)) throw new InvalidOptionError('classes', o.classes, 'an array of class names or ids');
    for (const c of o.classes) {
      if (typeof c === 'number') {
        if (!(Number.isInteger(c) && c >= 0 && c < labels.length))
          throw new InvalidOptionError('classes', c, `a class id from 0 to ${labels.length - 1}`);
      } else if (typeof c !== 'string' || !labels.some((l) => l.toLowerCase() === c.toLowerCase())) {
        throw new InvalidOptionError(
          'classes',
          c,
          `one of this model's labels: ${labels.filter((l) => l !== '???').join(', ')}`,
        );
      }
    }
  }
}
