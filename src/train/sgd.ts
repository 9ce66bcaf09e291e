/**
 * SGD with momentum and weight decay over the flat parameter buffer (shaders/train_sgd.wgsl), and
 * the learning-rate schedule: linear warm-up, then cosine decay to zero.
 */
import source from '../../shaders/train_sgd.wgsl';
import type { CachedPipeline, GpuContext } from '../gpu/context.ts';
import { uniformSchema } from '../gpu/uniforms.ts';
import { makeDispatch, type Dispatch } from '../gpu/dispatch.ts';
import type { ParamStore } from './params.ts';
import { updateUniforms } from './uniform_update.ts';

export const SgdParams = uniformSchema('Params', {
  count: 'u32',
  decayCount: 'u32',
  lr: 'f32',
  momentum: 'f32',
  weightDecay: 'f32',
});

export interface SgdConfig {
  lr: number;
  momentum: number;
  weightDecay: number;
}

export function sgdPipeline(ctx: GpuContext): Promise<CachedPipeline> {
  return ctx.pipeline('train_sgd/f32/wg64', () => ({
    label: 'train_sgd',
    code: SgdParams.wgsl + source,
    constants: { WG_SIZE: 64 },
    bindings: ['uniform', 'rw', 'rw', 'rw'],
  }));
}

export class Sgd {
  private constructor(
    private readonly ctx: GpuContext,
    private readonly store: ParamStore,
    readonly dispatch: Dispatch,
    private readonly cfg: SgdConfig,
  ) {}

  static async create(ctx: GpuContext, store: ParamStore, cfg: SgdConfig): Promise<Sgd> {
    const { params, grads, velocity } = store.training();
    const d = makeDispatch(
      ctx,
      await sgdPipeline(ctx),
      SgdParams,
      { count: store.floats, decayCount: store.decayFloats, ...cfg },
      [{ buffer: params }, { buffer: grads }, { buffer: velocity }],
      { threads: store.floats, workgroupSize: 64 },
      { label: 'sgd', op: 'sgd', flops: 5 * store.floats, bytes: 20 * store.floats },
    );
    return new Sgd(ctx, store, d, cfg);
  }

  /** Sets the learning rate of the next steps. */
  setLearningRate(lr: number): void {
    updateUniforms(this.ctx, this.dispatch, SgdParams, {
      count: this.store.floats,
      decayCount: this.store.decayFloats,
      ...this.cfg,
      lr,
    });
  }

  destroy(): void {
    for (const b of this.dispatch.owned) b.destroy();
  }
}

/**
 * After the warm-up: half a cosine from baseLr to 0; the SSD paper's steps (baseLr, then /10 at 2/3
 * and /100 at 5/6 of the steps: 40k, 50k and 60k iterations on VOC); or baseLr throughout.
 */
export const LR_SCHEDULES = ['cosine', 'step', 'constant'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

export interface Schedule {
  kind: LrSchedule;
  baseLr: number;
  totalSteps: number;
  warmupSteps: number;
  /** Learning rate at the first warm-up step, as a fraction of baseLr. */
  warmupStart: number;
}

/** Learning rate of step `step` (0-based): linear warm-up, then the schedule's decay. */
export function learningRate(s: Schedule, step: number): number {
  if (step < s.warmupSteps) return s.baseLr * (s.warmupStart + ((1 - s.warmupStart) * step) / s.warmupSteps);
  const t = (step - s.warmupSteps) / Math.max(1, s.totalSteps - s.warmupSteps);
  switch (s.kind) {
    case 'cosine':
      return 0.5 * s.baseLr * (1 + Math.cos(Math.PI * Math.min(1, t)));
    case 'step':
      return s.baseLr * (t < 2 / 3 ? 1 : t < 5 / 6 ? 0.1 : 0.01);
    case 'constant':
      return s.baseLr;
  }
}
