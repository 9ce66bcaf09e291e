/**
 * The compiled network for one batch size: packed weights (shared), one activation arena laid out
 * by the static memory plan, all pipelines created up front (async), all bind groups created once.
 * `dispatches` is the whole inference, recorded once and replayed every frame by the caller.
 */
import { GpuLimitError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import type { GemmPlan } from '../kernels/pointwise_tuning.ts';
import { storageBytes, type StorageType } from '../kernels/storage.ts';
import type { IntegerLowering, StepIo, VariantChoice } from '../ops/support/lowering.ts';
import { lowerGraph, type LoweredGraph } from './lower.ts';
import { planMemory, type MemoryPlan } from './planner.ts';
import { constData, PackedWeights, weightsAlignment, type LoadedModel } from './weights.ts';

export interface ExecutorStats {
  batch: number;
  dispatches: number;
  /** Arena bytes after planning, and what one buffer per tensor would take. */
  activationBytes: number;
  naiveActivationBytes: number;
  weightBytes: number;
  pipelineMs: number;
  steps: { name: string; kind: string; variant?: string; workgroupSize?: number; flops: number; bytes: number }[];
}

/**
 * Packs every constant the lowered steps read, float constants in `storage` (f16: rounded to half precision);
 * call once per model and precision (any batch plan can use it). Integer steps derive their words (packed 8-bit filters, per-channel data) from the constants.
 */
export function packModelWeights(
  ctx: GpuContext,
  model: LoadedModel,
  integer?: IntegerLowering,
  storage: StorageType = 'f32',
): PackedWeights {
  const packed = new PackedWeights(weightsAlignment(ctx), storage);
  const constant = (name: string) => constData(model, name).data;
  for (const st of lowerGraph(model.json, 1, {}, 'unknown', integer).steps) {
    for (const w of st.weights())
      if (w.words) packed.addWords(w.name, w.words(constant));
      else packed.add(w.name, constant(w.name), w.lastDim);
  }
  packed.upload(ctx, `${model.json.name}:weights`);
  return packed;
}

/** Why a batch's arena cannot be made on this adapter (largest tensor over the storage binding size, arena over the buffer size), or undefined. */
function arenaOverLimit(ctx: GpuContext, lowered: LoweredGraph, arenaBytes: number): string | undefined {
  const maxBinding = ctx.report.limits.maxStorageBufferBindingSize ?? 134217728;
  const maxBuffer = ctx.report.limits.maxBufferSize ?? 268435456;
  const [id, largest] = [...lowered.roots].reduce((a, b) => (b[1].bytes > a[1].bytes ? b : a));
  if (largest.bytes > maxBinding)
    return `tensor ${id} needs ${largest.bytes} bytes, above this adapter's storage binding limit of ${maxBinding}`;
  if (arenaBytes > maxBuffer)
    return `its activations need ${arenaBytes} bytes, above this adapter's buffer size limit of ${maxBuffer}`;
  return undefined;
}

function lowerAndPlan(
  ctx: GpuContext,
  model: LoadedModel,
  batch: number,
  force: VariantChoice,
  integer: IntegerLowering | undefined,
  gemm: GemmPlan | undefined,
  storage: StorageType,
): { lowered: LoweredGraph; plan: MemoryPlan } {
  const lowered = lowerGraph(model.json, batch, force, ctx.report.driver, integer, gemm, ctx.subgroups, storage);
  const plan = planMemory(
    [...lowered.roots].map(([id, r]) => ({ id, ...r })),
    weightsAlignment(ctx),
  );
  return { lowered, plan };
}

/**
 * The largest batch up to `want` whose arena this adapter can hold (0 when not even one image fits), found
 * by bisection over the real memory plans (CPU work only). Detectors run larger batches in chunks of it.
 */
export function largestFittingBatch(
  ctx: GpuContext,
  model: LoadedModel,
  want: number,
  force: VariantChoice = {},
  integer?: IntegerLowering,
  gemm?: GemmPlan,
  storage: StorageType = 'f32',
): number {
  const fits = (b: number) => {
    const { lowered, plan } = lowerAndPlan(ctx, model, b, force, integer, gemm, storage);
    return arenaOverLimit(ctx, lowered, plan.total) === undefined;
  };
  if (fits(want)) return want;
  let [lo, hi] = [0, want];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Refuses, before any GPU allocation, a batch whose largest tensor exceeds the adapter's storage
 * binding size or whose arena exceeds its buffer size (Dawn would report either as a validation
 * error long after the fact). Sizes grow linearly with the batch, so the hint names the batch that fits.
 */
function checkArenaLimits(
  ctx: GpuContext,
  model: string,
  lowered: LoweredGraph,
  arenaBytes: number,
  batch: number,
): void {
  const over = arenaOverLimit(ctx, lowered, arenaBytes);
  if (!over) return;
  const maxBinding = ctx.report.limits.maxStorageBufferBindingSize ?? 134217728;
  const maxBuffer = ctx.report.limits.maxBufferSize ?? 268435456;
  const largest = Math.max(...[...lowered.roots.values()].map((r) => r.bytes));
  const fits = Math.floor(Math.min(maxBinding / (largest / batch), maxBuffer / (arenaBytes / batch)));
  throw new GpuLimitError(
    `${model} at a batch of ${batch}: ${over}`,
    fits >= 1
      ? `detect at most ${fits} images per batch on this adapter`
      : 'the model is too large for this adapter at any batch: use a smaller input size',
  );
}

export class GraphExecutor {
  readonly dispatches: Dispatch[];
  readonly stats: ExecutorStats;
  private constructor(
    readonly lowered: LoweredGraph,
    /** Batch-1 shapes of the model's tensors (as recorded in model.json). */
    readonly shapes: Record<string, number[]>,
    readonly plan: MemoryPlan,
    readonly arena: GPUBuffer,
    private readonly dummy: GPUBuffer,
    /** Binding of any activation tensor (by graph name) inside the arena. */
    readonly bind: (tensor: string) => GPUBufferBinding,
    dispatches: Dispatch[],
    stats: ExecutorStats,
  ) {
    this.dispatches = dispatches;
    this.stats = stats;
  }

  static async create(
    ctx: GpuContext,
    model: LoadedModel,
    weights: PackedWeights,
    batch: number,
    force: VariantChoice = {},
    integer?: IntegerLowering,
    gemm?: GemmPlan,
    storage: StorageType = 'f32',
  ): Promise<GraphExecutor> {
    if (storage !== weights.storage)
      throw new Error(`${model.json.name}: a ${storage} executor on weights packed as ${weights.storage}`);
    const { lowered, plan } = lowerAndPlan(ctx, model, batch, force, integer, gemm, storage);
    checkArenaLimits(ctx, model.json.name, lowered, plan.total, batch);
    const t0 = performance.now();
    const pipes = await Promise.all(lowered.steps.map((st) => st.pipeline(ctx, storage)));
    const pipelineMs = performance.now() - t0;
    const arena = ctx.createBuffer(
      `${model.json.name}:activations[b${batch}]`,
      plan.total,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC,
    );
    const dummy = ctx.createBuffer('no-residual', 16, GPUBufferUsage.STORAGE);
    const bind = (tensor: string): GPUBufferBinding => {
      const root = lowered.rootOf.get(tensor) ?? tensor;
      const offset = plan.offsets.get(root);
      const info = lowered.roots.get(root);
      if (offset === undefined || !info) throw new Error(`tensor ${tensor} has no storage`);
      return { buffer: arena, offset, size: Math.ceil(info.bytes / 16) * 16 };
    };
    const io: StepIo = { tensor: bind, weight: (name) => weights.binding(name), dummy };
    // Kernels count bytes as 4 per float element; an f16 graph's elements, activations and weights alike, are 2.
    const scale = storageBytes(storage) / 4;
    const dispatches = lowered.steps.map((st, i): Dispatch => {
      const d = st.dispatch(ctx, pipes[i]!, io);
      d.bytes *= scale;
      return d;
    });
    const stats: ExecutorStats = {
      batch,
      dispatches: dispatches.length,
      activationBytes: plan.total,
      naiveActivationBytes: plan.naive,
      weightBytes: weights.byteLength,
      pipelineMs,
      steps: lowered.steps.map((st, i) => ({
        name: st.name,
        kind: st.kind,
        ...(st.variant ? { variant: st.variant } : {}),
        ...(st.workgroupSize ? { workgroupSize: st.workgroupSize } : {}),
        flops: dispatches[i]!.flops,
        bytes: dispatches[i]!.bytes,
      })),
    };
    return new GraphExecutor(lowered, model.json.shapes, plan, arena, dummy, bind, dispatches, stats);
  }

  get input(): GPUBufferBinding {
    return this.bind(this.lowered.input);
  }

  get outputs(): { boxes: GPUBufferBinding; scores: GPUBufferBinding } {
    return { boxes: this.bind(this.lowered.outputs.boxes), scores: this.bind(this.lowered.outputs.scores) };
  }

  destroy(): void {
    for (const d of this.dispatches) for (const b of d.owned) b.destroy();
    this.arena.destroy();
    this.dummy.destroy();
  }
}
