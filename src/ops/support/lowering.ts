/**
 * The contract between ops and the executors: an op lowers its node to kernel steps (or fuses it into
 * steps already emitted), and the executors (graph/executor.ts for inference, train/executor.ts for
 * training) turn steps into pipelines and dispatches without knowing any op.
 */
import type { Clamp, OutputView } from '../../core/geometry.ts';
import type { ConstQuant, Requantization, TensorQuant } from '../../core/quant.ts';
import type { CachedPipeline, GpuContext, SubgroupSizes } from '../../gpu/context.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import type { DriverKind } from '../../gpu/provider.ts';
import type { GemmPlan } from '../../kernels/pointwise_tuning.ts';
import type { StorageType } from '../../kernels/storage.ts';
import type { GraphNode } from './node.ts';

/** Kernel variants forced by a test or a benchmark, by step kind ('conv2d', 'depthwise', 'pointwise', ...). */
export type VariantChoice = Readonly<Partial<Record<string, string>>>;

/** Where a step finds its buffers when it records its dispatch. */
export interface StepIo {
  /** An activation tensor (its slice of the arena, or its own buffer in training). */
  tensor(t: string): GPUBufferBinding;
  /** A constant, packed with its last axis padded to a multiple of 4. */
  weight(name: string): GPUBufferBinding;
  /** Bound where an optional input is absent (kernels branch on a uniform, never on the binding). */
  readonly dummy: GPUBuffer;
}

/**
 * A constant a step reads, packed with its last axis (of length lastDim) padded to 4; or, for integer
 * kernels, words the step derives from the model's constants (packed 8-bit filters, per-channel data).
 */
export interface WeightUse {
  name: string;
  lastDim: number;
  words?: (constant: (name: string) => Float32Array) => Uint32Array;
}

/**
 * Integer execution (precision 'int8'): every activation an 8-bit tensor packed four to a u32, each op
 * lowered to its integer kernels with the model's scales and zero points (ops/support/quantized.ts).
 */
export interface IntegerLowering {
  readonly requant: Requantization;
  /** Use WGSL's packed 4x8-bit dot products where a kernel has them. */
  readonly packedDot: boolean;
  tensor(t: string): TensorQuant;
  constant(name: string): ConstQuant;
}

/** One GPU kernel launch of the lowered graph. */
export interface Step {
  readonly name: string;
  /** The kernel family: what variants, tuning and profiles are keyed by. */
  readonly kind: string;
  readonly variant?: string;
  /** The workgroup size the variant runs at, where tuning chooses it (the GEMM). */
  readonly workgroupSize?: number;
  /** The tensor written; fusion may move it (a fused add's output). */
  output: string;
  /** Where in the output's storage it writes (a concatenation slice, or the whole tensor). */
  view: OutputView;
  /** Activation tensors read. */
  reads(): string[];
  weights(): WeightUse[];
  /** `storage`: the float graph's storage type (kernels/storage.ts); integer steps have their own. */
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline>;
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch;
  /** Fusion hook: write through `view` with an extra clamp (a concatenation slice); false when it cannot. */
  writeSlice?(view: OutputView, clamp: Clamp): boolean;
  /** Fusion hook: add `tensor` in the epilogue, then clamp to `act` (a residual add); false when it cannot. */
  addResidual?(tensor: string, act: Clamp): boolean;
  /**
   * Fusion hook of a step that only zero-pads H and W of `input`: a convolution may read `input` with these
   * pads [top, left, bottom, right] added to its own, and drop the step.
   */
  zeroPadding?(): { input: string; pads: [number, number, number, number] } | undefined;
}

export interface LowerContext {
  /** Names the model in errors. */
  readonly model: string;
  readonly batch: number;
  readonly driver: DriverKind;
  readonly force: VariantChoice;
  /** GEMM configurations the load-time autotuner measured on this adapter, by shape; absent: the table. */
  readonly gemm?: GemmPlan;
  /** The device's subgroup sizes, where it has subgroups (the GEMM table's subgroup choices need them). */
  readonly subgroups?: SubgroupSizes;
  /** False in training: every node keeps its own output, which its backward pass reads. */
  readonly fuse: boolean;
  /** Present when the graph runs in integers: ops without an integer lowering refuse it. */
  readonly integer?: IntegerLowering;
  /** An activation's shape with the batch as dimension 0. */
  shape(t: string): number[];
  constShape(name: string): readonly number[];
  emit(step: Step): void;
  /** `t` is `of` under another shape (a reshape): same storage, no kernel. */
  alias(t: string, of: string): void;
  /** The step computing `t` and the aliases between (t first, the step's output last), if a step computes it. */
  source(t: string): { step: Step; chain: string[] } | undefined;
  /** `t` is computed before `step` runs (the graph input, or written by a step emitted earlier). */
  computedBefore(t: string, step: Step): boolean;
  /** Only `n` reads `t`, and `t` is not a graph output. */
  soleUse(t: string, n: GraphNode): boolean;
  /** How many nodes read `t`. */
  useCount(t: string): number;
  /** Removes an emitted step whose work a later node took over (a pad folded into a convolution's padding). */
  drop(step: Step): void;
  /** `step` now writes `output` (it absorbed the node that computed `output`). */
  redirect(step: Step, output: string): void;
  /** `t` lives inside `root`'s storage (a concatenation slice written in place). */
  place(t: string, root: string): void;
  /** The whole-tensor view of `t`. */
  defaultView(t: string): OutputView;
}
