/**
 * Load-time GEMM autotuning for adapters the measured table (pointwise_tuning.ts) does not cover: every
 * candidate variant x workgroup size is timed on the model's own 1x1-layer shapes, on this device, and
 * the fastest per shape is kept. Timestamp queries when the device has them, else wall clock per submit.
 */
import { ACTIVATIONS } from '../core/geometry.ts';
import type { GpuContext, SubgroupSizes } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { median, timeDispatches, wallTime } from '../gpu/timing.ts';
import {
  POINTWISE_SUBGROUP_VARIANTS,
  POINTWISE_VARIANTS,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseSubgroupReady,
  pointwiseVariantSupported,
  type PointwiseShape,
} from './pointwise_conv2d.ts';
import { gemmShapeKey, tunedPointwise, type GemmChoice } from './pointwise_tuning.ts';
import type { DriverKind } from '../gpu/provider.ts';
import type { StorageType } from './storage.ts';

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
/** A candidate must take at most this fraction of the table choice's time to replace it. */
const MARGIN = 0.95;
/**
 * Wall-clock budget of a 'fast' run (pipeline builds and timings): a shape is started only within it, and
 * shapes it does not reach keep the table's choice until a later load times them.
 */
export const FAST_BUDGET_MS = 1000;

/**
 * The configurations `mode` may pick for shape `s`, the table's own first (ties keep it). 'full' adds the
 * subgroup variants at the workgroup sizes where they are correct for every subgroup size in `subgroups`.
 */
export function gemmCandidates(
  mode: TuneMode,
  s: PointwiseShape,
  driver: DriverKind,
  subgroups?: SubgroupSizes,
): GemmChoice[] {
  const table = tunedPointwise(driver, s, subgroups);
  if (mode === 'off') return [table];
  // A subgroup variant is a candidate only at workgroup sizes where it is correct for every subgroup size the
  // adapter states (pointwiseSubgroupReady); without subgroups, at none.
  const all =
    mode === 'fast'
      ? FAST
      : [...POINTWISE_VARIANTS, ...POINTWISE_SUBGROUP_VARIANTS]
          .filter((v) => v !== 'naive')
          .flatMap((variant) =>
            (variant === 'shared' ? [64] : WORKGROUP_SIZES)
              .filter((wg) => !variant.startsWith('subgroup') || pointwiseSubgroupReady(subgroups, wg))
              .map((workgroupSize) => ({ variant, workgroupSize })),
          );
  const same = (a: GemmChoice, b: GemmChoice) => a.variant === b.variant && a.workgroupSize === b.workgroupSize;
  return [table, ...all.filter((c) => !same(c, table) && pointwiseVariantSupported(s, c.variant))];
}

export interface TunedGemm {
  shape: string;
  choice: GemmChoice;
  ms: number;
  /** Every candidate timed, fastest first (the choice is the first unless the table's is within MARGIN of it). */
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
 * lacks) is skipped, not fatal. `storage` is the type the network stores activations and weights in: f16
 * halves the bytes each tile loads, which can change which tile wins, so candidates are timed in it.
 */
export async function tuneGemms(
  ctx: GpuContext,
  shapes: readonly PointwiseShape[],
  mode: Exclude<TuneMode, 'off'>,
  budgetMs = mode === 'fast' ? FAST_BUDGET_MS : Infinity,
  storage: StorageType = 'f32',
): Promise<TuneResult> {
  const t0 = performance.now();
  const distinct = new Map(shapes.map((s) => [gemmShapeKey(s), s]));
  const floats = Math.max(...[...distinct.values()].map((s) => Math.max(s.M * s.K, s.K * s.N + 4, s.M * s.N)));
  const scratch = () => ctx.createBuffer('tune', floats * 4 + 64, GPUBufferUsage.STORAGE);
  const io = { input: { buffer: scratch() }, weights: { buffer: scratch() }, bias: { buffer: scratch() } };
  const out = { buffer: scratch() };
  const dummy = ctx.createBuffer('tune:no-residual', 16, GPUBufferUsage.STORAGE);
  const timer = ctx.hasTimestamps ? 'timestamp' : 'wall';
  const reps = mode === 'full' ? 5 : 3;
  /** One timing of `d`: a timestamp-query pass, or wall clock over a few repetitions in one submit. */
  const time = async (d: Dispatch): Promise<number> =>
    timer === 'wall' ? wallTime(ctx, [d], 4) : (await timeDispatches(ctx, [d]))[0]!.ms;
  const layers: TunedGemm[] = [];
  const untimed: string[] = [];
  try {
    for (const [key, s] of distinct) {
      if (performance.now() - t0 > budgetMs) {
        untimed.push(key);
        continue;
      }
      const candidates = gemmCandidates(mode, s, ctx.report.driver, ctx.subgroups);
      const runs: { c: GemmChoice; d: Dispatch; ms: number[] }[] = [];
      try {
        for (const c of candidates) {
          let pipe;
          try {
            pipe = await pointwiseConv2dPipeline(ctx, c.variant, c.workgroupSize, storage);
          } catch {
            continue;
          }
          const bindings = { ...io, output: out };
          const o = { workgroupSize: c.workgroupSize, dummy };
          const d = pointwiseConv2dDispatch(ctx, pipe, c.variant, s, ACTIVATIONS.relu6, bindings, o);
          runs.push({ c, d, ms: [] });
          await time(d); // warm-up: first-use costs are not the kernel's
        }
        // Round robin over the candidates, so a burst of load elsewhere on the machine hits them all alike.
        for (let r = 0; r < reps; r++) for (const run of runs) run.ms.push(await time(run.d));
      } finally {
        for (const run of runs) for (const b of run.d.owned) b.destroy();
      }
      const timed = runs.map((run) => ({ ...run.c, ms: median(run.ms) }));
      timed.sort((a, b) => a.ms - b.ms);
      // The table's choice is measured evidence too: another configuration replaces it only when clearly
      // faster, so timing noise on a busy machine cannot trade it for a slower one.
      const table = timed.find(
        (t) => t.variant === candidates[0]!.variant && t.workgroupSize === candidates[0]!.workgroupSize,
      );
      const best = table && timed[0]!.ms > MARGIN * table.ms ? table : timed[0];
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
