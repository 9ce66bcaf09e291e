/**
 * One micro-batch of training on the GPU: upload the region's input tensors and the targets, then
 * one submit of forward, loss and backward. Parameter gradients accumulate in the store until the
 * optimizer step; each micro-batch's loss sums are copied into a per-step buffer, so the step's
 * loss is read back once.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { ModelJson } from '../graph/ir.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { encodeDispatches, type Dispatch } from '../gpu/dispatch.ts';
import { TrainExecutor } from './executor.ts';
import type { Region } from './graph.ts';
import { lossDispatch, lossPipeline, readLossParts, setLossNormalizer, LOSS_PARTS_STRIDE } from './loss.ts';
import type { LossConfig, LossParts } from './loss_ref.ts';
import type { ParamStore } from './params.ts';

export interface MicroBatch {
  images: number;
  /** Per cut tensor (Region.cuts order): the images' values back to back. */
  inputs: Float32Array[];
  /** [images, A] class columns and [images, A, 4] encoded boxes (targets.ts). */
  labels: Uint32Array;
  targets: Float32Array;
}

export type LossWeights = Pick<LossConfig, 'negPerPos' | 'alpha' | 'focal'>;

export class TrainStep {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly model: ModelJson,
    readonly executor: TrainExecutor,
    readonly region: Region,
    readonly batch: number,
    private readonly cfg: LossConfig,
    private readonly loss: Dispatch,
    private readonly buffers: { labels: GPUBuffer; targets: GPUBuffer; keys: GPUBuffer; parts: GPUBuffer },
  ) {}

  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    region: Region,
    store: ParamStore,
    batch: number,
    weights: LossWeights,
  ): Promise<TrainStep> {
    const json = model.json;
    const [, A, C] = json.shapes[json.outputs.scores]!;
    const cfg: LossConfig = { numAnchors: A!, numClasses: C!, ...weights, invN: 1 };
    const executor = await TrainExecutor.create(
      ctx,
      model,
      { nodes: region.nodes, inputs: region.cuts },
      store,
      batch,
      { backward: true, label: `${json.name}:train` },
    );
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const buffers = {
      labels: ctx.createBuffer('train:labels', 4 * batch * A!, usage),
      targets: ctx.createBuffer('train:targets', 16 * batch * A!, usage),
      keys: ctx.createBuffer('train:mining-keys', 4 * batch * A!, usage),
      parts: ctx.createBuffer('train:loss-parts', 4 * batch * LOSS_PARTS_STRIDE, usage),
    };
    const { boxes, scores } = json.outputs;
    const loss = lossDispatch(ctx, await lossPipeline(ctx), cfg, batch, {
      logits: { buffer: executor.tensor(scores) },
      boxes: { buffer: executor.tensor(boxes) },
      labels: { buffer: buffers.labels },
      targets: { buffer: buffers.targets },
      keys: { buffer: buffers.keys },
      dLogits: { buffer: executor.grad(scores) },
      dBoxes: { buffer: executor.grad(boxes) },
      parts: { buffer: buffers.parts },
    });
    return new TrainStep(ctx, json, executor, region, batch, cfg, loss, buffers);
  }

  get numAnchors(): number {
    return this.cfg.numAnchors;
  }

  get lossConfig(): Readonly<LossConfig> {
    return this.cfg;
  }

  /** Per-image loss sums of the first `images` slots of a parts buffer that run() copied into. */
  async readParts(parts: GPUBuffer, images: number): Promise<LossParts[]> {
    const raw = new Float32Array(await this.ctx.readBuffer(parts, 0, 4 * images * LOSS_PARTS_STRIDE));
    return readLossParts(raw, images, this.cfg.numAnchors, this.cfg.negPerPos, this.cfg.focal !== undefined);
  }

  /** 1 / (matched default boxes in the optimizer step) for the next micro-batches. */
  setNormalizer(invN: number): void {
    this.cfg.invN = invN;
    setLossNormalizer(this.ctx, this.loss, this.cfg);
  }

  /**
   * Runs one micro-batch of up to `batch` images and copies its loss sums to `partsOut` from image
   * slot `at` on. Missing images are background-only: no match, nothing mined, no gradient.
   * Without `backward` only the loss is computed (validation).
   */
  run(mb: MicroBatch, partsOut: GPUBuffer, at: number, backward = true): void {
    this.upload(mb.inputs, mb.images);
    const q = this.ctx.queue;
    const labels = new Uint32Array(this.batch * this.cfg.numAnchors);
    labels.set(mb.labels);
    q.writeBuffer(this.buffers.labels, 0, labels);
    writeFloats(q, this.buffers.targets, mb.targets);
    const enc = this.ctx.device.createCommandEncoder();
    if (backward) for (const g of this.executor.gradBuffers) enc.clearBuffer(g);
    const pass = enc.beginComputePass();
    encodeDispatches(pass, [...this.executor.forward, this.loss, ...(backward ? this.executor.backward : [])]);
    pass.end();
    enc.copyBufferToBuffer(
      this.buffers.parts,
      0,
      partsOut,
      4 * at * LOSS_PARTS_STRIDE,
      4 * mb.images * LOSS_PARTS_STRIDE,
    );
    q.submit([enc.finish()]);
  }

  /** The raw outputs for up to `batch` images: box encodings [n, A, 4] and logits [n, A, C]. */
  async predict(inputs: Float32Array[], images: number): Promise<{ boxes: Float32Array; logits: Float32Array }> {
    this.upload(inputs, images);
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, this.executor.forward);
    pass.end();
    this.ctx.queue.submit([enc.finish()]);
    return this.readOutputs(images);
  }

  /** The raw outputs of the last forward pass for its first `images` images. */
  async readOutputs(images: number): Promise<{ boxes: Float32Array; logits: Float32Array }> {
    const { boxes, scores } = this.model.outputs;
    const read = async (t: string) =>
      new Float32Array(await this.ctx.readBuffer(this.executor.tensor(t), 0, 4 * images * this.executor.perImage(t)));
    const [b, l] = await Promise.all([read(boxes), read(scores)]);
    this.ctx.throwUncaptured('training forward pass');
    return { boxes: b, logits: l };
  }

  private upload(inputs: Float32Array[], images: number): void {
    if (images > this.batch) throw new RangeError(`micro-batch of ${images} images for a step built for ${this.batch}`);
    this.region.cuts.forEach((cut, i) => writeFloats(this.ctx.queue, this.executor.tensor(cut), inputs[i]!));
  }

  destroy(): void {
    this.executor.destroy();
    for (const b of this.loss.owned) b.destroy();
    for (const b of Object.values(this.buffers)) b.destroy();
  }
}

function writeFloats(q: GPUQueue, buffer: GPUBuffer, data: Float32Array): void {
  q.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
}
