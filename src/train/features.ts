/**
 * The frozen part of the network, run once per augmented image: it computes the region's input
 * tensors (the cut feature maps), which are kept on the CPU in half precision with the image's
 * training targets, so the trained region runs from the cache every epoch.
 */
import type { GpuContext } from '../gpu/context.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { encodeDispatches } from '../gpu/dispatch.ts';
import { TrainExecutor } from './executor.ts';
import { frozenNodes } from './graph.ts';
import { decodeHalfInto, encodeHalf } from './half.ts';
import { paramSpecs, ParamStore } from './params.ts';
import { buildTargets, type BoxScales, type GroundTruth, type Targets } from './targets.ts';

/** One augmented image: its cut tensors and its matches, sparse. */
export interface CachedSample {
  /** Per cut tensor, float16 bits. */
  features: Uint16Array[];
  /** Matched default boxes, their class columns and their encoded boxes. */
  anchors: Uint32Array;
  classes: Uint8Array;
  boxes: Float32Array;
  /** The (augmented) image's ground truth, to match again with other default boxes (retarget). */
  truth: GroundTruth;
}

export function cacheSample(features: Float32Array[], t: Targets, truth: GroundTruth): CachedSample {
  return { features: features.map(encodeHalf), ...sparseTargets(t), truth };
}

/** The sample with its targets for these default boxes and matching threshold; the features are shared. */
export function retarget(
  s: CachedSample,
  anchors: Float32Array,
  scales: BoxScales,
  threshold: number,
  corners?: Float64Array,
): CachedSample {
  return { ...s, ...sparseTargets(buildTargets(anchors, s.truth, scales, threshold, corners)) };
}

function sparseTargets(t: Targets): Pick<CachedSample, 'anchors' | 'classes' | 'boxes'> {
  const anchors = new Uint32Array(t.positives);
  const classes = new Uint8Array(t.positives);
  const boxes = new Float32Array(4 * t.positives);
  let k = 0;
  t.labels.forEach((label, a) => {
    if (label === 0) return;
    anchors[k] = a;
    classes[k] = label;
    boxes.set(t.boxes.subarray(4 * a, 4 * a + 4), 4 * k);
    k++;
  });
  return { anchors, classes, boxes };
}

/** Cached samples per image: of the training split (several versions each) and of the validation split (one). */
export interface FeatureCache {
  /** The cut tensors each sample holds, in CachedSample.features order. */
  cuts: string[];
  train: CachedSample[][];
  val: CachedSample[][];
}

/**
 * Unpacks samples into micro-batch arrays: for each cached tensor index in `select`, the images'
 * values back to back; and dense targets over `numAnchors` default boxes.
 */
export function unpackSamples(
  samples: readonly CachedSample[],
  select: readonly number[],
  numAnchors: number,
): { inputs: Float32Array[]; labels: Uint32Array; targets: Float32Array } {
  const inputs = select.map((c) => new Float32Array(samples.length * samples[0]!.features[c]!.length));
  const labels = new Uint32Array(samples.length * numAnchors);
  const targets = new Float32Array(samples.length * numAnchors * 4);
  samples.forEach((s, i) => {
    select.forEach((c, k) => decodeHalfInto(s.features[c]!, inputs[k]!, i * s.features[c]!.length));
    s.anchors.forEach((a, k) => {
      labels[i * numAnchors + a] = s.classes[k]!;
      targets.set(s.boxes.subarray(4 * k, 4 * k + 4), 4 * (i * numAnchors + a));
    });
  });
  return { inputs, labels, targets };
}

export class FeatureExtractor {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly executor: TrainExecutor | undefined,
    private readonly store: ParamStore | undefined,
    readonly input: string,
    readonly cuts: readonly string[],
    readonly batch: number,
  ) {}

  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    cuts: readonly string[],
    batch: number,
  ): Promise<FeatureExtractor> {
    const nodes = frozenNodes(model.json, cuts);
    if (!nodes.length) return new FeatureExtractor(ctx, undefined, undefined, model.json.input, cuts, batch);
    const store = ParamStore.create(ctx, model, paramSpecs(model, nodes), {
      trainable: false,
      label: `${model.json.name}:frozen`,
    });
    const executor = await TrainExecutor.create(ctx, model, { nodes, inputs: [model.json.input] }, store, batch, {
      backward: false,
      label: `${model.json.name}:frozen`,
    });
    return new FeatureExtractor(ctx, executor, store, model.json.input, cuts, batch);
  }

  /** The cut tensors of each input image ([H, W, 3] network inputs), at most `batch` images. */
  async run(inputs: readonly Float32Array[]): Promise<Float32Array[][]> {
    if (inputs.length > this.batch)
      throw new RangeError(`${inputs.length} images for an extractor built for ${this.batch}`);
    const ex = this.executor;
    if (!ex) return inputs.map((x) => this.cuts.map(() => x));
    const q = this.ctx.queue;
    const per = ex.perImage(this.input);
    inputs.forEach((x, i) => q.writeBuffer(ex.tensor(this.input), 4 * i * per, x.buffer, x.byteOffset, x.byteLength));
    const enc = this.ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, ex.forward);
    pass.end();
    q.submit([enc.finish()]);
    const outs = await Promise.all(
      this.cuts.map(
        async (c) => new Float32Array(await this.ctx.readBuffer(ex.tensor(c), 0, 4 * inputs.length * ex.perImage(c))),
      ),
    );
    this.ctx.throwUncaptured('frozen feature extraction');
    return inputs.map((_, i) =>
      this.cuts.map((c, k) => outs[k]!.subarray(i * ex.perImage(c), (i + 1) * ex.perImage(c))),
    );
  }

  destroy(): void {
    this.executor?.destroy();
    this.store?.destroy();
  }
}
