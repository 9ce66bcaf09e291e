/**
 * Load-time choice between the fused depthwise + 1x1 kernel and the pair, per layer: on this device, each
 * pair's two dispatches (the depthwise variant and GEMM configuration the lowering would run) are timed as
 * one compute pass against the fused candidates, round robin; fusion is picked only where clearly faster.
 */
import { ACTIVATIONS, type ConvGeometry } from '../core/geometry.ts';
import type { GpuContext } from '../gpu/context.ts';
import type { Dispatch } from '../gpu/dispatch.ts';
import { median, timePass, wallTime } from '../gpu/timing.ts';
import { depthwiseConv2dDispatch, depthwiseConv2dPipeline, type DepthwiseVariant } from './depthwise_conv2d.ts';
import {
  DWPW_VARIANTS,
  DWPW_WORKGROUP_SIZES,
  dwpwConv2dDispatch,
  dwpwConv2dPipeline,
  type DwpwShape,
} from './dwpw_conv2d.ts';
import { dwpwGemmShape } from './dwpw_conv2d_ref.ts';
import { dwpwShapeKey, type FusedChoice } from './dwpw_tuning.ts';
import type { TuneMode } from './pointwise_autotune.ts';
import { pointwiseConv2dDispatch, pointwiseConv2dPipeline } from './pointwise_conv2d.ts';
import type { GemmChoice } from './pointwise_tuning.ts';
import type { StorageType } from './storage.ts';

/** A depthwise + 1x1 pair as the lowering runs it unfused. */
export interface PairToTune {
  s: DwpwShape;
  depthwise: DepthwiseVariant;
  gemm: GemmChoice;
  residual: boolean;
}

/** What 'fast' tries: the tiles that amortise the depthwise recompute best, at both workgroup sizes. */
const FAST: readonly FusedChoice[] = [
  { variant: 'dwpw32x64', workgroupSize: 64 },
  { variant: 'dwpw64x64', workgroupSize: 64 },
  { variant: 'dwpw64x64', workgroupSize: 256 },
  { variant: 'dwpw128x64', workgroupSize: 256 },
];
/** Fusion must take at most this fraction of the pair's time to be picked. */
const MARGIN = 0.95;

export function dwpwCandidates(mode: Exclude<TuneMode, 'off'>): readonly FusedChoice[] {
  return mode === 'fast'
    ? FAST
    : DWPW_VARIANTS.flatMap((variant) => DWPW_WORKGROUP_SIZES.map((workgroupSize) => ({ variant, workgroupSize })));
}

export interface TunedPair {
  shape: string;
  /** The fused configuration picked, or undefined: the pair stays. */
  choice: FusedChoice | undefined;
  pairMs: number;
  /** Every fused candidate timed, fastest first. */
  timed: (FusedChoice & { ms: number })[];
}

export interface DwpwTuneResult {
  timer: 'timestamp' | 'wall';
  pairs: TunedPair[];
  /** Pairs the budget did not reach (they stay unfused). */
  untimed: string[];
  elapsedMs: number;
}

/**
 * Times every distinct pair of `pairs` unfused and fused on scratch buffers (values do not change the speed),
 * each timing one compute pass; a candidate whose pipeline fails to build is skipped. Both sides run in
 * `storage`, the type the network stores activations and weights in (f16 halves the intermediate's round trip
 * that fusion saves, so the verdict can differ from f32's).
 */
export async function tuneDwpw(
  ctx: GpuContext,
  pairs: readonly PairToTune[],
  mode: Exclude<TuneMode, 'off'>,
  budgetMs = Infinity,
  reps = mode === 'full' ? 5 : 3,
  storage: StorageType = 'f32',
): Promise<DwpwTuneResult> {
  const t0 = performance.now();
  const distinct = new Map(pairs.map((p) => [dwpwShapeKey(p.s), p]));
  const floats = Math.max(
    16,
    ...[...distinct.values()].map((p) => {
      const { g } = p.s;
      const gm = dwpwGemmShape(p.s);
      return Math.max(g.batch * g.inH * g.inW * g.inC, gm.M * gm.K, gm.K * (gm.N + 4), gm.M * gm.N, 9 * g.inC + 4);
    }),
  );
  const scratch = () => ({ buffer: ctx.createBuffer('tune:dwpw', floats * 4 + 64, GPUBufferUsage.STORAGE) });
  const [input, mid, output, residual, weights] = [scratch(), scratch(), scratch(), scratch(), scratch()];
  const dummy = ctx.createBuffer('tune:no-residual', 16, GPUBufferUsage.STORAGE);
  const timer = ctx.hasTimestamps ? 'timestamp' : 'wall';
  const time = (list: Dispatch[]) => (timer === 'wall' ? wallTime(ctx, list, 4) : timePass(ctx, list));
  const { relu6 } = ACTIVATIONS;
  const out: TunedPair[] = [];
  const untimed: string[] = [];
  try {
    for (const [key, p] of distinct) {
      if (performance.now() - t0 > budgetMs) {
        untimed.push(key);
        continue;
      }
      const runs: { c: FusedChoice | undefined; list: Dispatch[]; ms: number[] }[] = [];
      try {
        runs.push({
          c: undefined,
          list: await pairDispatches(ctx, p, { input, mid, output, residual, weights }, storage),
          ms: [],
        });
        for (const c of dwpwCandidates(mode)) {
          let pipe;
          try {
            pipe = await dwpwConv2dPipeline(ctx, c.variant, p.s.g, c.workgroupSize, storage);
          } catch {
            continue;
          }
          const b = { input, dwFilter: weights, dwBias: weights, weights, bias: weights, output };
          const acts = { dw: relu6, act: ACTIVATIONS.none };
          const d = dwpwConv2dDispatch(ctx, pipe, c.variant, p.s, acts, p.residual ? { ...b, residual } : b, { dummy });
          runs.push({ c, list: [d], ms: [] });
        }
        for (const run of runs) await time(run.list); // warm-up: first-use costs are not the kernel's
        for (let r = 0; r < reps; r++) for (const run of runs) run.ms.push(await time(run.list));
      } finally {
        for (const run of runs) for (const d of run.list) for (const b of d.owned) b.destroy();
      }
      const pairMs = median(runs[0]!.ms);
      const timed = runs.slice(1).map((run) => ({ ...run.c!, ms: median(run.ms) }));
      timed.sort((a, b) => a.ms - b.ms);
      const best = timed[0];
      const choice =
        best && best.ms <= MARGIN * pairMs ? { variant: best.variant, workgroupSize: best.workgroupSize } : undefined;
      out.push({ shape: key, choice, pairMs, timed });
    }
  } finally {
    for (const b of [input, mid, output, residual, weights]) b.buffer.destroy();
    dummy.destroy();
  }
  return { timer, pairs: out, untimed, elapsedMs: performance.now() - t0 };
}

/** The unfused pair: the depthwise into `mid`, the GEMM from `mid`, as the lowering would run them. */
async function pairDispatches(
  ctx: GpuContext,
  p: PairToTune,
  b: Record<'input' | 'mid' | 'output' | 'residual' | 'weights', GPUBufferBinding>,
  storage: StorageType,
): Promise<Dispatch[]> {
  const g: ConvGeometry = p.s.g;
  const dwPipe = await depthwiseConv2dPipeline(ctx, p.depthwise, storage);
  const dw = depthwiseConv2dDispatch(ctx, dwPipe, p.depthwise, g, ACTIVATIONS.relu6, {
    input: b.input,
    filter: b.weights,
    bias: b.weights,
    output: b.mid,
  });
  const pwPipe = await pointwiseConv2dPipeline(ctx, p.gemm.variant, p.gemm.workgroupSize, storage);
  const io = { input: b.mid, weights: b.weights, bias: b.weights, output: b.output };
  const pw = pointwiseConv2dDispatch(
    ctx,
    pwPipe,
    p.gemm.variant,
    dwpwGemmShape(p.s),
    ACTIVATIONS.none,
    p.residual ? { ...io, residual: b.residual } : io,
    { workgroupSize: p.gemm.workgroupSize },
  );
  return [dw, pw];
}
