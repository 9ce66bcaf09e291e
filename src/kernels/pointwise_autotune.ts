/**
 * Load-time GEMM autotuning for adapters the measured table (pointwise_tuning.ts) does not cover: every
 * candidate variant x workgroup size is timed on the model's own 1x1-layer shapes, on this device, and
 * the fastest per shape is kept. Timestamp queries when the device has them, else wall clock per submit.
 */
import { ACTIVATIONS } from '../core/geometry.ts';
import type { GpuContext } from '../gpu/context.ts';
import { median, timeDispatches, wallTime } from '../gpu/timing.ts';
import {
  POINTWISE_VARIANTS,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseVariantSupported,
  type PointwiseShape,
} from './pointwise_conv2d.ts';
import { gemmShapeKey, tunedPointwise, type GemmChoice } from './pointwise_tuning.ts';
import type { DriverKind } from '../gpu/provider.ts';

/** 'off': the measured table; 'fast': a short candidate list, one timing each, within a budget; 'full': all. */
export type TuneMode = 'off' | 'fast' | 'full';
export const TUNE_MODES: readonly TuneMode[] = ['off', 'fast', 'full'];

/** What 'fast' tries: the register tiles that won on software adapters and the shared-memory tiles for GPUs. */
const FAST: readonly GemmChoice[] = [
  { variant: 'blocked4x1', workgroupSize: 64 },
  { variant: 'blocked8x2', workgroupSize: 256 },
  { variant: 'unrolled8x2', workgroupSize: 64 },
  { variant: 'tiled32x32', workgroupSize: 64 },
  { variant: 'tiled64x64', workgroupSize: 256 },
  { variant: 'tiled64x64', workgroupSize: 64 },
  { variant: 'tiled128x64', workgroupSize: 256 },
];
const WORKGROUP_SIZES = [32, 64, 128, 256];
/**
 * Wall-clock budget of a 'fast' run (pipeline builds and timings): a shape is started only within it, and
 * shapes it does not reach keep the table's choice until a later load times them.
 */
export const FAST_BUDGET_MS = 1000;

/** The configurations `mode` may pick for shape `s`, the table's own first (ties keep it). */
export function gemmCandidates(mode: TuneMode, s: PointwiseShape, driver: DriverKind): GemmChoice[] {
  const table = tunedPointwise(driver, s);
  if (mode === 'off') return [table];
  const all =
    mode === 'fast'
      ? FAST
      : POINTWISE_VARIANTS.filter((v) => v !== 'naive').flatMap((variant) =>
          (variant === 'shared' ? [64] : WORKGROUP_SIZES).map((workgroupSize) => ({ variant, workgroupSize })),
        );
  const same = (a: GemmChoice, b: GemmChoice) => a.variant === b.variant && a.workgroupSize === b.workgroupSize;
  return [table, ...all.filter((c) => !same(c, table) && pointwiseVariantSupported(s, c.variant))];
}

export interface TunedGemm {
  shape: string;
  choice: GemmChoice;
  ms: number;
  /** Every candidate timed, fastest first. */
  timed: (GemmChoice & { ms: number })[];
}

export interface TuneResult {
  mode: Exclude<TuneMode, 'off'>;
  timer: 'timestamp' | 'wall';
  layers: TunedGemm[];
  /** Shapes the budget did not reach (they keep the table's choice). */
  untimed: string[];
  elapsedMs: number;
}

/**
 * Times the candidates of every distinct shape in `shapes` on scratch buffers (values do not change a
 * GEMM's speed) and picks the fastest. A candidate whose pipeline fails to build (a limit this adapter
 * lacks) is skipped, not fatal.
 */
export async function tuneGemms(
  ctx: GpuContext,
  shapes: readonly PointwiseShape[],
  mode: Exclude<TuneMode, 'off'>,
  budgetMs = mode === 'fast' ? FAST_BUDGET_MS : Infinity,
): Promise<TuneResult> {
  const t0 = performance.now();
  const distinct = new Map(shapes.map((s) => [gemmShapeKey(s), s]));
  const floats = Math.max(...[...distinct.values()].map((s) => Math.max(s.M * s.K, s.K * s.N + 4, s.M * s.N)));
  const scratch = () => ctx.createBuffer('tune', floats * 4 + 64, GPUBufferUsage.STORAGE);
  const io = { input: { buffer: scratch() }, weights: { buffer: scratch() }, bias: { buffer: scratch() } };
  const out = { buffer: scratch() };
  const dummy = ctx.createBuffer('tune:no-residual', 16, GPUBufferUsage.STORAGE);
  const timer = ctx.hasTimestamps ? 'timestamp' : 'wall';
  const reps = mode === 'full' ? 3 : 1;
  const time = async (d: Parameters<typeof wallTime>[1][number]): Promise<number> => {
    if (timer === 'wall') return wallTime(ctx, [d], reps);
    return median((await timeDispatches(ctx, Array<typeof d>(reps).fill(d))).map((t) => t.ms));
  };
  const layers: TunedGemm[] = [];
  const untimed: string[] = [];
  try {
    for (const [key, s] of distinct) {
      if (performance.now() - t0 > budgetMs) {
        untimed.push(key);
        continue;
      }
      const timed: (GemmChoice & { ms: number })[] = [];
      for (const c of gemmCandidates(mode, s, ctx.report.driver)) {
        let pipe;
        try {
          pipe = await pointwiseConv2dPipeline(ctx, c.variant, c.workgroupSize);
        } catch {
          continue;
        }
        const d = pointwiseConv2dDispatch(
          ctx,
          pipe,
          c.variant,
          s,
          ACTIVATIONS.relu6,
          { ...io, output: out },
          {
            workgroupSize: c.workgroupSize,
            dummy,
          },
        );
        try {
          await time(d); // warm-up: first-use costs are not the kernel's
          timed.push({ ...c, ms: await time(d) });
        } finally {
          for (const b of d.owned) b.destroy();
        }
      }
      timed.sort((a, b) => a.ms - b.ms);
      const best = timed[0];
      if (best)
        layers.push({
          shape: key,
          choice: { variant: best.variant, workgroupSize: best.workgroupSize },
          ms: best.ms,
          timed,
        });
      else untimed.push(key);
    }
  } finally {
    for (const b of [io.input.buffer, io.weights.buffer, io.bias.buffer, out.buffer, dummy]) b.destroy();
  }
  return { mode, timer, layers, untimed, elapsedMs: performance.now() - t0 };
}
