/**
 * The training loop over a feature cache: batches of cached samples through the trained region
 * (forward, SSD loss, backward) in micro-batches whose gradients add up, then one SGD step; the
 * learning rate follows the warm-up + cosine schedule. run.ts wraps it with the dataset, the cache,
 * checkpoints and the saved model.
 */
import { TrainingDivergedError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { encodeDispatches } from '../gpu/dispatch.ts';
import type { TrainingSet } from './dataset.ts';
import { validate, type Validation } from './evaluation.ts';
import { unpackSamples, type CachedSample, type FeatureCache } from './features.ts';
import type { Region } from './graph.ts';
import type { EpochRecord, StepRecord } from './history.ts';
import { LOSS_PARTS_STRIDE } from './loss.ts';
import { DEFAULT_FOCAL, totalLoss, type ConfLoss } from './loss_ref.ts';
import { paramSpecs, ParamStore } from './params.ts';
import type { Rng } from './rng.ts';
import { learningRate, Sgd, type LrSchedule, type Schedule } from './sgd.ts';
import { TrainStep, type LossWeights } from './step.ts';

export interface OptimizerSettings {
  /** Images per optimizer step, run as micro-batches of at most microBatch. */
  batch: number;
  microBatch: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupEpochs: number;
  /** Decay after the warm-up (sgd.ts); cosine when absent. */
  lrSchedule?: LrSchedule;
  epochs: number;
  negPerPos: number;
  alpha: number;
  /** Confidence loss: hard-negative mining (SSD's, the default) or focal loss on every default box. */
  confLoss?: ConfLoss;
  focalGamma?: number;
  focalAlpha?: number;
}

/** The loss settings of `s` for the loss kernel (loss_ref.ts). */
export function lossWeights(s: OptimizerSettings): LossWeights {
  const focal =
    s.confLoss === 'focal'
      ? { gamma: s.focalGamma ?? DEFAULT_FOCAL.gamma, alpha: s.focalAlpha ?? DEFAULT_FOCAL.alpha }
      : undefined;
  return { negPerPos: s.negPerPos, alpha: s.alpha, focal };
}

/** Images per second (see Trainer.phaseThroughput). */
export interface PhaseThroughput {
  forward: number;
  backward: number;
  update: number;
}

/** How many times the first loss a later loss may reach before the run counts as diverged. */
const DIVERGED_FACTOR = 1000;

export class Trainer {
  private readonly partsBuffer: GPUBuffer;
  private readonly schedule: Schedule;
  private readonly inputs: number[];
  /** The first loss this process saw: a loss a thousand times larger means the run has blown up. */
  private firstLoss: number | undefined;

  private constructor(
    private readonly ctx: GpuContext,
    readonly model: LoadedModel,
    readonly store: ParamStore,
    readonly step: TrainStep,
    private readonly sgd: Sgd,
    private readonly cache: FeatureCache,
    private readonly s: OptimizerSettings,
    /** Optimizer steps done so far. */
    public steps: number,
  ) {
    this.partsBuffer = ctx.createBuffer(
      'train:step-loss',
      4 * s.batch * LOSS_PARTS_STRIDE,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    );
    const perEpoch = this.stepsPerEpoch;
    this.schedule = {
      kind: s.lrSchedule ?? 'cosine',
      baseLr: s.lr,
      totalSteps: s.epochs * perEpoch,
      warmupSteps: Math.round(s.warmupEpochs * perEpoch),
      warmupStart: 0.1,
    };
    this.inputs = step.region.cuts.map((c) => cache.cuts.indexOf(c));
  }

  /** `cache` must hold every tensor the region starts from. */
  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    region: Region,
    cache: FeatureCache,
    s: OptimizerSettings,
    stepsDone = 0,
  ): Promise<Trainer> {
    if (!(s.batch >= 1 && s.microBatch >= 1 && s.microBatch <= s.batch))
      throw new RangeError(`batch ${s.batch} and micro-batch ${s.microBatch}: need 1 <= micro-batch <= batch`);
    const missing = region.cuts.filter((c) => !cache.cuts.includes(c));
    if (missing.length) throw new Error(`the feature cache lacks ${missing.join(', ')}`);
    const store = ParamStore.create(ctx, model, paramSpecs(model, region.trained), { trainable: true, label: 'train' });
    const step = await TrainStep.create(ctx, model, region, store, s.microBatch, lossWeights(s));
    const sgd = await Sgd.create(ctx, store, { lr: s.lr, momentum: s.momentum, weightDecay: s.weightDecay });
    return new Trainer(ctx, model, store, step, sgd, cache, s, stepsDone);
  }

  get stepsPerEpoch(): number {
    return Math.ceil(this.cache.train.length / this.s.batch);
  }

  /** One pass over the training images in random order, each in one of its cached versions at random. */
  async epoch(
    epoch: number,
    rng: Rng,
    onStep?: (r: StepRecord) => void,
  ): Promise<{ record: EpochRecord; steps: StepRecord[] }> {
    const t0 = performance.now();
    const order = rng.shuffle(this.cache.train.map((_, i) => i));
    const steps: StepRecord[] = [];
    for (let at = 0; at < order.length; at += this.s.batch) {
      const samples = order.slice(at, at + this.s.batch).map((i) => {
        const versions = this.cache.train[i]!;
        return versions[rng.int(versions.length)]!;
      });
      const r = await this.optimizerStep(samples, epoch);
      steps.push(r);
      onStep?.(r);
    }
    const mean = (k: 'loss' | 'conf' | 'loc') => steps.reduce((t, r) => t + r[k], 0) / steps.length;
    return {
      record: {
        epoch,
        loss: mean('loss'),
        conf: mean('conf'),
        loc: mean('loc'),
        seconds: (performance.now() - t0) / 1000,
      },
      steps,
    };
  }

  async optimizerStep(samples: readonly CachedSample[], epoch: number): Promise<StepRecord> {
    const matched = samples.reduce((n, x) => n + x.anchors.length, 0);
    const invN = 1 / Math.max(1, matched);
    this.step.setNormalizer(invN);
    for (let m = 0; m < samples.length; m += this.s.microBatch) {
      const chunk = samples.slice(m, m + this.s.microBatch);
      this.step.run(
        { images: chunk.length, ...unpackSamples(chunk, this.inputs, this.step.numAnchors) },
        this.partsBuffer,
        m,
      );
    }
    const lr = learningRate(this.schedule, this.steps);
    this.sgd.setLearningRate(lr);
    this.submitUpdate();
    const parts = await this.step.readParts(this.partsBuffer, samples.length);
    this.ctx.throwUncaptured(`training step ${this.steps}`);
    const record: StepRecord = {
      step: this.steps,
      epoch,
      lr,
      loss: totalLoss(parts, { alpha: this.s.alpha, invN }),
      conf: parts.reduce((t, p) => t + p.confPos + p.confNeg, 0) * invN,
      loc: parts.reduce((t, p) => t + p.loc, 0) * invN,
      matched,
    };
    this.firstLoss ??= record.loss;
    // Long before float32 overflows, SGD that overshoots has lost everything the weights knew.
    if (!Number.isFinite(record.loss) || record.loss > DIVERGED_FACTOR * this.firstLoss)
      throw new TrainingDivergedError(this.steps, epoch, lr, record.loss);
    this.steps++;
    return record;
  }

  private submitUpdate(): void {
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, [this.sgd.dispatch]);
    pass.end();
    this.ctx.queue.submit([enc.finish()]);
  }

  /**
   * Images per second of each phase, timed over `reps` runs of one micro-batch of cached training
   * samples with the queue drained around each: forward (uploading the cached features, the trained
   * region and the loss), backward (forward + backward, less forward), and the SGD update (one
   * optimizer step serves `batch` images). The update runs at learning rate 0, so the parameters
   * stay as they are (the momentum does not: call it after the last checkpoint).
   */
  async phaseThroughput(reps = 3): Promise<PhaseThroughput> {
    const samples = this.cache.train.slice(0, this.s.microBatch).map((v) => v[0]!);
    const mb = { images: samples.length, ...unpackSamples(samples, this.inputs, this.step.numAnchors) };
    const seconds = async (run: () => void) => {
      await this.ctx.queue.onSubmittedWorkDone();
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) {
        run();
        await this.ctx.queue.onSubmittedWorkDone();
      }
      return (performance.now() - t0) / 1000 / reps;
    };
    const forward = await seconds(() => this.step.run(mb, this.partsBuffer, 0, false));
    const both = await seconds(() => this.step.run(mb, this.partsBuffer, 0, true));
    this.sgd.setLearningRate(0);
    const update = await seconds(() => this.submitUpdate());
    this.ctx.throwUncaptured('timing the training phases');
    return {
      forward: mb.images / forward,
      backward: mb.images / Math.max(both - forward, 1e-6),
      update: this.s.batch / update,
    };
  }

  /** Loss and mAP on the cached validation images (their first version, unaugmented). */
  validate(set: TrainingSet): Promise<Validation> {
    const samples = this.cache.val.map((v) => v[0]!);
    return validate(this.step, this.model, set, samples, this.inputs, this.partsBuffer);
  }

  /** The parameters and momentum, flat as on the GPU. */
  async snapshot(): Promise<{ params: Float32Array<ArrayBuffer>; velocity: Float32Array<ArrayBuffer> }> {
    const { params, velocity } = this.store.training();
    return {
      params: new Float32Array(await this.ctx.readBuffer(params, 0, 4 * this.store.floats)),
      velocity: new Float32Array(await this.ctx.readBuffer(velocity, 0, 4 * this.store.floats)),
    };
  }

  restore(params: Float32Array<ArrayBuffer>, velocity: Float32Array<ArrayBuffer>): void {
    if (params.length !== this.store.floats || velocity.length !== this.store.floats)
      throw new Error(`the checkpoint holds ${params.length} parameters, this run trains ${this.store.floats}`);
    const b = this.store.training();
    this.ctx.queue.writeBuffer(b.params, 0, params);
    this.ctx.queue.writeBuffer(b.velocity, 0, velocity);
  }

  /** Trained tensors by constant name (unpadded). */
  async trained(): Promise<Map<string, Float32Array>> {
    return this.store.unpack((await this.snapshot()).params);
  }

  destroy(): void {
    this.step.destroy();
    this.sgd.destroy();
    this.store.destroy();
    this.partsBuffer.destroy();
  }
}
