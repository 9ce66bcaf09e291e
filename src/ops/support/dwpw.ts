/**
 * Lowering of a depthwise convolution whose only reader is a 1x1 convolution into one fused step
 * (kernels/dwpw_conv2d.ts): the depthwise step already emitted is dropped and its work moves into the
 * GEMM's A tile, so the expanded activation never goes to memory and a dispatch goes. Whether a pair fuses
 * is the plan's call per layer (kernels/dwpw_tuning.ts); a test or benchmark forces it with the variant
 * choice `dwpw`: a fused variant fuses every pair that can, 'pair' none.
 */
import type { Clamp, OutputView } from '../../core/geometry.ts';
import type { CachedPipeline, GpuContext } from '../../gpu/context.ts';
import type { Dispatch } from '../../gpu/dispatch.ts';
import {
  DWPW_VARIANTS,
  dwpwConv2dDispatch,
  dwpwConv2dPipeline,
  type DwpwShape,
  type DwpwVariant,
} from '../../kernels/dwpw_conv2d.ts';
import { plannedDwpw, type FusedChoice } from '../../kernels/dwpw_tuning.ts';
import type { StorageType } from '../../kernels/storage.ts';
import { DepthwiseStep } from '../depthwise_conv2d.ts';
import { residualEpilogue, sliceEpilogue } from './conv.ts';
import type { LowerContext, Step, StepIo } from './lowering.ts';
import type { GraphNode } from './node.ts';

/** A depthwise convolution and the 1x1 convolution reading it, in one dispatch. */
export class DwpwStep implements Step {
  readonly kind = 'dwpw';
  residual: { tensor: string; act: Clamp } | undefined;
  constructor(
    readonly name: string,
    readonly variant: DwpwVariant,
    readonly workgroupSize: number,
    readonly s: DwpwShape,
    readonly dw: DepthwiseStep,
    public act: Clamp,
    public output: string,
    readonly filter: string,
    readonly bias: string,
    public view: OutputView,
  ) {}

  reads(): string[] {
    return this.residual ? [this.dw.input, this.residual.tensor] : [this.dw.input];
  }
  weights() {
    return [...this.dw.weights(), { name: this.filter, lastDim: this.s.N }, { name: this.bias, lastDim: this.s.N }];
  }
  pipeline(ctx: GpuContext, storage: StorageType): Promise<CachedPipeline> {
    return dwpwConv2dPipeline(ctx, this.variant, this.s.g, this.workgroupSize, storage);
  }
  dispatch(ctx: GpuContext, pipe: CachedPipeline, io: StepIo): Dispatch {
    const r = this.residual;
    const b = {
      input: io.tensor(this.dw.input),
      dwFilter: io.weight(this.dw.filter),
      dwBias: io.weight(this.dw.bias),
      weights: io.weight(this.filter),
      bias: io.weight(this.bias),
      output: io.tensor(this.output),
      ...(r ? { residual: io.tensor(r.tensor) } : {}),
    };
    const acts = { dw: this.dw.act, act: this.act, ...(r ? { residual: r.act } : {}) };
    return dwpwConv2dDispatch(ctx, pipe, this.variant, this.s, acts, b, {
      view: this.view,
      label: this.name,
      dummy: io.dummy,
    });
  }
  writeSlice(view: OutputView, clamp: Clamp): boolean {
    return sliceEpilogue(this, view, clamp);
  }
  addResidual(tensor: string, act: Clamp): boolean {
    return residualEpilogue(this, tensor, act);
  }
}

/** What a 1x1 convolution node `n` lowers with, when its input comes straight from a depthwise step. */
export interface PointwiseLowering {
  input: string;
  N: number;
  act: Clamp;
  filter: string;
  bias: string;
  view: OutputView;
}

/**
 * Emits the fused step in place of `n`'s GEMM and drops the depthwise step, when `n` is the depthwise output's
 * only reader and the forced choice or the plan says fuse; false when `n` lowers on its own.
 */
export function lowerFused(n: GraphNode, lc: LowerContext, p: PointwiseLowering): boolean {
  if (!lc.fuse || lc.force.dwpw === 'pair') return false;
  const src = lc.source(p.input);
  const dw = src?.chain.length === 1 ? src.step : undefined;
  if (!(dw instanceof DepthwiseStep) || !lc.soleUse(p.input, n)) return false;
  const s: DwpwShape = { g: dw.g, N: p.N };
  const forced = lc.force.dwpw as DwpwVariant | undefined;
  const choice: FusedChoice | undefined =
    forced !== undefined && DWPW_VARIANTS.includes(forced)
      ? { variant: forced, workgroupSize: 64 }
      : plannedDwpw(s, lc.gemm);
  if (!choice) return false;
  lc.drop(dw);
  lc.emit(
    new DwpwStep(n.name, choice.variant, choice.workgroupSize, s, dw, p.act, n.outputs[0]!, p.filter, p.bias, p.view),
  );
  return true;
}
