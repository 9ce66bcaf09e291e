/**
 * The SSD training loss and its gradient on the GPU (shaders/train_ssd_loss.wgsl), one workgroup
 * per image; loss_ref.ts is its specification. Reads the network's raw box encodings and logits,
 * writes their gradients and four sums per image (see LossParts).
 */
import source from '../../shaders/train_ssd_loss.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema, type UniformValues } from '../gpu/uniforms.ts';
import { makeDispatch, type Binding, type Dispatch } from '../gpu/dispatch.ts';
import type { LossConfig, LossParts } from './loss_ref.ts';
import { updateUniforms } from './uniform_update.ts';

const LossFields = {
  numAnchors: 'u32',
  numClasses: 'u32',
  negPerPos: 'u32',
  alpha: 'f32',
  invN: 'f32',
  focal: 'u32',
  focalGamma: 'f32',
  focalAlpha: 'f32',
} as const;
export const LossParams = uniformSchema('Params', LossFields);

/** Floats per image in the sums buffer: confPos, confNeg, loc, positives. */
export const LOSS_PARTS_STRIDE = 4;

export function lossPipeline(ctx: GpuContext): Promise<CachedPipeline> {
  return ctx.pipeline('train_ssd_loss/f32', () => ({
    label: 'train_ssd_loss',
    code: LossParams.wgsl + source,
    bindings: ['uniform', 'rw', 'rw', 'storage', 'storage', 'rw', 'rw', 'rw', 'rw'],
  }));
}

export interface LossBindings {
  /** Raw class logits [B, A, C] and box encodings [B, A, 4]. */
  logits: Binding;
  boxes: Binding;
  /** Per default box: class column (u32, 0 background) and encoded target box. */
  labels: Binding;
  targets: Binding;
  /** Scratch [B, A]. */
  keys: Binding;
  dLogits: Binding;
  dBoxes: Binding;
  /** [B, LOSS_PARTS_STRIDE]. */
  parts: Binding;
}

function lossValues(cfg: LossConfig): UniformValues<typeof LossFields> {
  return {
    numAnchors: cfg.numAnchors,
    numClasses: cfg.numClasses,
    negPerPos: cfg.negPerPos,
    alpha: cfg.alpha,
    invN: cfg.invN,
    focal: cfg.focal ? 1 : 0,
    focalGamma: cfg.focal?.gamma ?? 0,
    focalAlpha: cfg.focal?.alpha ?? 0,
  };
}

export function lossDispatch(
  ctx: GpuContext,
  pipe: CachedPipeline,
  cfg: LossConfig,
  batch: number,
  b: LossBindings,
  label = 'ssd_loss',
): Dispatch {
  const A = cfg.numAnchors,
    C = cfg.numClasses;
  return makeDispatch(
    ctx,
    pipe,
    LossParams,
    lossValues(cfg),
    [b.logits, b.boxes, b.labels, b.targets, b.keys, b.dLogits, b.dBoxes, b.parts],
    { workgroups: [batch, 1, 1] },
    { label, op: 'ssd_loss', flops: batch * A * (6 * C + 40), bytes: 4 * batch * A * (2 * C + 10) },
  );
}

/** Sets 1/N for the next runs of a recorded loss dispatch. */
export function setLossNormalizer(ctx: GpuContext, d: Dispatch, cfg: LossConfig): void {
  updateUniforms(ctx, d, LossParams, lossValues(cfg));
}

/** Per-image sums as read back from the parts buffer; negatives follow from the mining rule (focal: all). */
export function readLossParts(
  parts: Float32Array,
  images: number,
  numAnchors: number,
  negPerPos: number,
  focal = false,
): LossParts[] {
  return Array.from({ length: images }, (_, b) => {
    const positives = parts[b * LOSS_PARTS_STRIDE + 3]!;
    return {
      confPos: parts[b * LOSS_PARTS_STRIDE]!,
      confNeg: parts[b * LOSS_PARTS_STRIDE + 1]!,
      loc: parts[b * LOSS_PARTS_STRIDE + 2]!,
      positives,
      negatives: focal ? numAnchors - positives : Math.min(negPerPos * positives, numAnchors - positives),
    };
  });
}
