/**
 * The GEMM plan a detector loads with: the measured table (pointwise_tuning.ts), or with `tune` on, the
 * autotuner's per-shape picks (kernels/pointwise_autotune.ts) and, per depthwise + 1x1 pair, whether the fused
 * kernel beat the pair (kernels/dwpw_autotune.ts), cached per adapter (vendor, architecture, device, driver
 * description), model, input size and storage type. A cache entry that fails to parse, names another
 * key or tuner version, or picks a configuration this build cannot run is ignored and rewritten.
 * Per-shape picks can each win alone and still lose together (caches, dispatch order), so a tuned plan is
 * checked against the table on the whole network before it is used: where it is not faster, the table stays.
 */
import { InvalidOptionError } from '../errors.ts';
import type { AdapterReport, GpuContext, SubgroupSizes } from '../gpu/context.ts';
import { DWPW_VARIANTS } from '../kernels/dwpw_conv2d.ts';
import { dwpwGemmShape } from '../kernels/dwpw_conv2d_ref.ts';
import { tuneDwpw, type DwpwTuneResult, type PairToTune } from '../kernels/dwpw_autotune.ts';
import { dwpwShapeKey, isFusedChoice, type FusedChoice } from '../kernels/dwpw_tuning.ts';
import type { StorageType } from '../kernels/storage.ts';
import { DwpwStep } from '../ops/support/dwpw.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { GraphExecutor } from '../graph/executor.ts';
import { lowerGraph } from '../graph/lower.ts';
import type { PackedWeights } from '../graph/weights.ts';
import { median, timePass } from '../gpu/timing.ts';
import { PointwiseStep } from '../ops/conv2d.ts';
import {
  FAST_BUDGET_MS,
  TUNE_MODES,
  tuneGemms,
  type TuneMode,
  type TuneResult,
} from '../kernels/pointwise_autotune.ts';
import { POINTWISE_SUBGROUP_VARIANTS, POINTWISE_VARIANTS, type PointwiseVariant } from '../kernels/pointwise_conv2d.ts';
import { gemmShapeKey, plannedPointwise, type GemmChoice, type GemmPlan } from '../kernels/pointwise_tuning.ts';

/**
 * Bump when a kernel, the candidate lists or the entry's form change: older cache entries are then stale.
 * 4: entries decide fusion per depthwise + 1x1 pair, and candidates are timed in the weights' storage type.
 */
export const TUNER_VERSION = 4;

/** Where tuned plans persist (Node: files in the cache folder). Keys are JSON text; values are entries. */
export interface TuningStore {
  read(key: string): Promise<string | undefined>;
  write(key: string, text: string): Promise<void>;
  /** Where an entry lives, for messages. */
  describe(key: string): string;
}

export interface GemmPlanReport {
  mode: TuneMode;
  /** 'table': no tuning; 'cache': a stored entry covering every shape; 'tuned': shapes measured during this load. */
  source: 'table' | 'cache' | 'tuned';
  /** In use: the tuned picks, or the table's (empty) when the whole-network check found them no faster. */
  plan: GemmPlan;
  /** The whole-network check of the tuned picks against the table (absent when every pick is the table's). */
  check?: PlanCheck;
  /** Why a stored entry was not used, when one was there (it was tuned again and rewritten). */
  rejected?: string;
  /** Why the new entry could not be stored (the plan is used all the same). */
  writeError?: string;
  /** The GEMM timings of this load (absent when every GEMM shape came from the cache). */
  result?: TuneResult;
  /** The storage type candidates were timed in and the entry is keyed by (the weights'). */
  storage?: StorageType;
  /** The fusion decisions (absent with tune 'off': no pair fuses). */
  pairs?: PairsReport;
  /** The pair timings of this load (absent when every pair came from the cache). */
  dwpwResult?: DwpwTuneResult;
}

/** The model's distinct depthwise + 1x1 pairs (batch 1) and what the tuner decided for them. */
export interface PairsReport {
  total: number;
  /** Timed during this load (0 on a cache hit). */
  timed: number;
  /** Decided fused: the fused kernel clearly beat the pair. They run fused when `plan` is the tuned one. */
  fused: number;
  /** Not reached by this load's budget: they run as the pair until a later load times them. */
  untimed: number;
}

/** GPU ms of one batch-1 frame of the network (medians of interleaved runs) and which plan was kept. */
export interface PlanCheck {
  tableMs: number;
  tunedMs: number;
  runs: number;
  /** Median over the runs of tuned / table, each run's two frames back to back. */
  ratio: number;
  /** Runs in which the tuned frame was the faster of the two. */
  faster: number;
  kept: 'tuned' | 'table';
}

/** The tuned plan must take at most this fraction of the table's time, as a median of paired runs, to be kept. */
export const PLAN_MARGIN = 0.97;
/** ...and be the faster in at least this share of the runs: on a loaded machine a median of five can still lie. */
export const PLAN_AGREEMENT = 0.75;

/** Whether a check's runs show the tuned plan clearly faster than the table. */
export function tunedWins(c: Pick<PlanCheck, 'ratio' | 'faster' | 'runs'>): boolean {
  return c.ratio < PLAN_MARGIN && c.faster >= Math.ceil(PLAN_AGREEMENT * c.runs);
}

/** One pair's decision: the fused configuration that won, or 'pair' (fusion lost, or no fused candidate built). */
interface StoredPair {
  /** dwpwShapeKey */
  shape: string;
  choice: FusedChoice | 'pair';
  /** The fastest fused candidate's median ms; null when none could be built. */
  ms: number | null;
  pairMs: number;
}

interface StoredEntry {
  version: number;
  key: string;
  mode: 'fast' | 'full';
  timer: string;
  layers: { shape: string; variant: PointwiseVariant; workgroupSize: number; ms: number }[];
  pairs: StoredPair[];
  check?: PlanCheck;
}

export function checkTuneMode(v: unknown): TuneMode {
  if (!(TUNE_MODES as readonly unknown[]).includes(v))
    throw new InvalidOptionError('tune', v, "'off', 'fast' or 'full'");
  return v as TuneMode;
}

/** Adapters with a measured table need no tuning by default; any other adapter gets a 'fast' run. */
export function defaultTuneMode(report: AdapterReport): TuneMode {
  return report.driver === 'lavapipe' || report.driver === 'swiftshader' ? 'off' : 'fast';
}

/** The cache key: tuner version, adapter, model, input size and the storage type the kernels were timed in. */
export function tuningKey(report: AdapterReport, model: LoadedModel, storage: StorageType = 'f32'): string {
  const j = model.json;
  return JSON.stringify({
    tuner: TUNER_VERSION,
    adapter: [report.vendor, report.architecture, report.device, report.description],
    model: [j.name, j.weights.sha256, j.source.converter],
    input: [j.preprocess.width, j.preprocess.height],
    storage,
  });
}

/** The distinct 1x1-convolution GEMM shapes of the model at batch 1: what the detector runs. */
export function modelGemmShapes(model: LoadedModel, report: AdapterReport) {
  return lowerGraph(model.json, 1, {}, report.driver).steps.flatMap((st) =>
    st instanceof PointwiseStep ? [st.s] : [],
  );
}

/**
 * The model's depthwise + 1x1 pairs at batch 1 as the lowering runs them unfused under `plan` (the depthwise
 * variant, the GEMM configuration and whether the skip add rides in its epilogue): what the fusion tuner times.
 */
export function modelDwpwPairs(model: LoadedModel, report: AdapterReport, plan?: GemmPlan, subgroups?: SubgroupSizes) {
  return lowerGraph(model.json, 1, { dwpw: DWPW_VARIANTS[0]! }, report.driver).steps.flatMap((st): PairToTune[] =>
    st instanceof DwpwStep
      ? [
          {
            s: st.s,
            depthwise: st.dw.variant,
            gemm: plannedPointwise(report.driver, dwpwGemmShape(st.s), plan, subgroups),
            residual: !!st.residual,
          },
        ]
      : [],
  );
}

/**
 * The plan for `mode`: the table when 'off'; else a stored entry of this key made by this mode or a
 * fuller one, its GEMM shapes and pairs not timed yet (a 'fast' run's budget ran out) timed now and merged;
 * else a fresh run: the GEMM shapes first, then each depthwise + 1x1 pair against its fused candidates, the pair
 * as it runs under the GEMM picks just made, within what is left of the budget. What was timed is stored (a
 * store that cannot write loses only the cache), every pair's decision included, so that a cached load times
 * nothing. Candidates are timed in the storage type of `weights` (f32 without them), which keys the entry.
 */
export async function gemmPlanFor(
  ctx: GpuContext,
  model: LoadedModel,
  mode: TuneMode,
  store: TuningStore | undefined,
  budgetMs?: number,
  weights?: PackedWeights,
): Promise<GemmPlanReport> {
  if (mode === 'off') return { mode, source: 'table', plan: new Map() };
  const t0 = performance.now();
  const storage = weights?.storage ?? 'f32';
  const key = tuningKey(ctx.report, model, storage);
  const shapes = modelGemmShapes(model, ctx.report);
  const pairKeys = new Set(modelDwpwPairs(model, ctx.report).map((p) => dwpwShapeKey(p.s)));
  let kept: StoredEntry['layers'] = [];
  let keptPairs: StoredPair[] = [];
  let keptCheck: PlanCheck | undefined;
  let entryMode: StoredEntry['mode'] = mode;
  let rejected: string | undefined;
  const text = await store?.read(key);
  if (text !== undefined) {
    const parsed = parseEntry(text, key);
    if (typeof parsed === 'string') rejected = parsed;
    else if (mode === 'full' && parsed.mode === 'fast') rejected = "it was made by tune 'fast' and 'full' was asked";
    else {
      kept = parsed.layers;
      keptPairs = parsed.pairs;
      keptCheck = parsed.check;
      entryMode = parsed.mode;
    }
  }
  const done = new Set(kept.map((l) => l.shape));
  const todo = shapes.filter((s) => !done.has(gemmShapeKey(s)));
  const pairsDone = new Set(keptPairs.map((p) => p.shape));
  const pairsTodo = [...pairKeys].filter((k) => !pairsDone.has(k));
  const summary = (pairs: readonly StoredPair[], timed: number, untimed: number): PairsReport => ({
    total: pairKeys.size,
    timed,
    fused: pairs.filter((p) => p.choice !== 'pair' && pairKeys.has(p.shape)).length,
    untimed,
  });
  if (!todo.length && !pairsTodo.length)
    return {
      mode,
      source: 'cache',
      plan: inUse(kept, keptPairs, keptCheck),
      ...(keptCheck ? { check: keptCheck } : {}),
      storage,
      pairs: summary(keptPairs, 0, 0),
    };
  // The budget is the asked mode's: a 'fast' load completing a 'full' entry stays within a fast run's time.
  const budget = budgetMs ?? (mode === 'fast' ? FAST_BUDGET_MS : Infinity);
  const result = todo.length ? await tuneGemms(ctx, todo, entryMode, budget, storage) : undefined;
  const layers = [...kept, ...(result?.layers.map((l) => ({ shape: l.shape, ...l.choice, ms: l.ms })) ?? [])];
  // Each pair is timed as the lowering would run it unfused under the GEMM picks just made.
  const toTime = modelDwpwPairs(model, ctx.report, planOf(layers, []), ctx.subgroups).filter(
    (p) => !pairsDone.has(dwpwShapeKey(p.s)),
  );
  const dwpw = toTime.length
    ? await tuneDwpw(ctx, toTime, entryMode, budget - (performance.now() - t0), undefined, storage)
    : undefined;
  const pairs: StoredPair[] = [
    ...keptPairs,
    ...(dwpw?.pairs.map((p): StoredPair => ({
      shape: p.shape,
      choice: p.choice ?? 'pair',
      ms: p.timed[0]?.ms ?? null,
      pairMs: p.pairMs,
    })) ?? []),
  ];
  const check = weights && (await checkPlan(ctx, model, weights, planOf(layers, pairs), mode === 'full' ? 9 : 5));
  const entry: StoredEntry = {
    version: TUNER_VERSION,
    key,
    mode: entryMode,
    timer: result?.timer ?? dwpw?.timer ?? (ctx.hasTimestamps ? 'timestamp' : 'wall'),
    layers,
    pairs,
    ...(check ? { check } : {}),
  };
  let writeError: string | undefined;
  try {
    await store?.write(key, `${JSON.stringify(entry, null, 1)}\n`);
  } catch (e) {
    writeError = `${store!.describe(key)}: ${(e as Error).message}`;
  }
  return {
    mode,
    source: 'tuned',
    plan: inUse(layers, pairs, check),
    ...(check ? { check } : {}),
    ...(result ? { result } : {}),
    storage,
    pairs: summary(pairs, dwpw?.pairs.length ?? 0, dwpw?.untimed.length ?? 0),
    ...(dwpw ? { dwpwResult: dwpw } : {}),
    ...(rejected ? { rejected } : {}),
    ...(writeError ? { writeError } : {}),
  };
}

/** The GEMM picks, and the fused configuration of every pair where fusion won. */
function planOf(
  layers: readonly { shape: string; variant: PointwiseVariant; workgroupSize: number }[],
  pairs: readonly StoredPair[],
): GemmPlan {
  return new Map<string, GemmChoice | FusedChoice>([
    ...layers.map((l): [string, GemmChoice] => [l.shape, { variant: l.variant, workgroupSize: l.workgroupSize }]),
    ...pairs.flatMap((p): [string, FusedChoice][] => (p.choice === 'pair' ? [] : [[p.shape, p.choice]])),
  ]);
}

/** The plan a load runs: the tuned picks and fusions unless the whole-network check kept the table. */
function inUse(layers: StoredEntry['layers'], pairs: readonly StoredPair[], check: PlanCheck | undefined): GemmPlan {
  return check?.kept === 'table' ? new Map() : planOf(layers, pairs);
}

/**
 * Times one batch-1 frame of the network with the table's plan and with `plan`, back to back in each run (in
 * alternating order) so load elsewhere on the machine hits both alike. The decision is the median over runs of
 * the paired ratio, which a slow drift in load cancels out of: the tuned plan is kept only when it is clearly
 * faster (PLAN_MARGIN) and faster in most runs (PLAN_AGREEMENT), so noise cannot trade the table for a slower
 * plan. `plan`'s fusions are part of the tuned network (its pairs run as fused steps). Undefined when the
 * network runs exactly the table's steps (nothing to check).
 */
export async function checkPlan(
  ctx: GpuContext,
  model: LoadedModel,
  weights: PackedWeights,
  plan: GemmPlan,
  runs: number,
): Promise<PlanCheck | undefined> {
  // The network as the detector runs it: in the weights' storage type (the candidates were timed in it too).
  const tuned = await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, plan, weights.storage);
  const table = await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, undefined, weights.storage);
  try {
    // A fused pair is one step where the table runs two, so the step lists differ in length as well.
    const [a, b] = [tuned.stats.steps, table.stats.steps];
    const same =
      a.length === b.length &&
      a.every(
        (st, i) => st.kind === b[i]!.kind && st.variant === b[i]!.variant && st.workgroupSize === b[i]!.workgroupSize,
      );
    if (same) return undefined;
    const ms = { table: [] as number[], tuned: [] as number[] };
    // One untimed run each: first-use costs (pipeline residency, page faults in the arena) are not the plan's.
    await timePass(ctx, table.dispatches);
    await timePass(ctx, tuned.dispatches);
    for (let r = 0; r < runs; r++) {
      const order = r % 2 ? (['tuned', 'table'] as const) : (['table', 'tuned'] as const);
      for (const which of order) ms[which].push(await timePass(ctx, (which === 'table' ? table : tuned).dispatches));
    }
    const ratios = ms.tuned.map((t, i) => t / ms.table[i]!);
    const ratio = median(ratios);
    const faster = ratios.filter((r) => r < 1).length;
    const kept = tunedWins({ ratio, faster, runs }) ? 'tuned' : 'table';
    return { tableMs: median(ms.table), tunedMs: median(ms.tuned), runs, ratio, faster, kept };
  } finally {
    tuned.destroy();
    table.destroy();
  }
}

/** Why a stored entry is unusable (never leaves this module: the entry is tuned again). */
class BadEntry extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A stored entry checked field by field, or why it cannot be used. */
export function parseEntry(text: string, key: string): StoredEntry | string {
  const need = (ok: boolean, what: string) => {
    if (!ok) throw new BadEntry(what);
  };
  try {
    const o = JSON.parse(text) as unknown;
    need(isObj(o), 'not an object');
    const e = o as Record<string, unknown>;
    if (e.version !== TUNER_VERSION)
      return `tuner version ${JSON.stringify(e.version)}, this build's is ${TUNER_VERSION}`;
    if (e.key !== key) return 'it was made for another adapter, model or input size';
    need(e.mode === 'fast' || e.mode === 'full', `mode ${JSON.stringify(e.mode)}`);
    need(typeof e.timer === 'string', 'no timer');
    need(Array.isArray(e.layers), 'no layers');
    const layers = (e.layers as unknown[]).map((l, i) => {
      need(isObj(l), `layers[${i}] is not an object`);
      const { shape, variant, workgroupSize, ms } = l as Record<string, unknown>;
      need(typeof shape === 'string' && /^\d+x\d+x\d+$/.test(shape), `layers[${i}].shape ${JSON.stringify(shape)}`);
      need(
        variant !== 'naive' &&
          [...POINTWISE_VARIANTS, ...POINTWISE_SUBGROUP_VARIANTS].includes(variant as PointwiseVariant),
        `layers[${i}].variant ${JSON.stringify(variant)} is not a GEMM variant of this build`,
      );
      need([32, 64, 128, 256].includes(workgroupSize as number), `layers[${i}].workgroupSize ${String(workgroupSize)}`);
      need(typeof ms === 'number' && ms >= 0, `layers[${i}].ms ${String(ms)}`);
      return {
        shape: shape as string,
        variant: variant as PointwiseVariant,
        workgroupSize: workgroupSize as number,
        ms: ms as number,
      };
    });
    need(Array.isArray(e.pairs), 'no pairs');
    const pairs = (e.pairs as unknown[]).map((p, i) => parsePair(p, `pairs[${i}]`, need));
    let check: PlanCheck | undefined;
    if (e.check !== undefined) {
      need(isObj(e.check), 'check is not an object');
      const c = e.check as Record<string, unknown>;
      for (const f of ['tableMs', 'tunedMs', 'runs', 'ratio', 'faster'] as const)
        need(typeof c[f] === 'number' && c[f] >= 0, `check.${f} ${String(c[f])}`);
      need(c.kept === 'tuned' || c.kept === 'table', `check.kept ${JSON.stringify(c.kept)}`);
      check = {
        tableMs: c.tableMs as number,
        tunedMs: c.tunedMs as number,
        runs: c.runs as number,
        ratio: c.ratio as number,
        faster: c.faster as number,
        kept: c.kept as PlanCheck['kept'],
      };
    }
    return {
      version: TUNER_VERSION,
      key,
      mode: e.mode as 'fast' | 'full',
      timer: e.timer as string,
      layers,
      pairs,
      ...(check ? { check } : {}),
    };
  } catch (err) {
    if (err instanceof SyntaxError) return `not JSON: ${err.message}`;
    if (err instanceof BadEntry) return err.message;
    throw err;
  }
}

const PAIR_KEY = /^dwpw:\d+x\d+x\d+x\d+:k\d+x\d+:s\d+x\d+:p\d+,\d+,\d+,\d+:n\d+$/;

/** One stored pair decision checked field by field (`need` throws BadEntry naming what is wrong). */
function parsePair(p: unknown, at: string, need: (ok: boolean, what: string) => void): StoredPair {
  need(isObj(p), `${at} is not an object`);
  const { shape, choice, ms, pairMs } = p as Record<string, unknown>;
  need(typeof shape === 'string' && PAIR_KEY.test(shape), `${at}.shape ${JSON.stringify(shape)}`);
  let c: StoredPair['choice'] = 'pair';
  if (choice !== 'pair') {
    need(isObj(choice), `${at}.choice ${JSON.stringify(choice)} is neither 'pair' nor a fused configuration`);
    const { variant, workgroupSize } = choice as Record<string, unknown>;
    need(
      typeof variant === 'string' && typeof workgroupSize === 'number' && isFusedChoice({ variant, workgroupSize }),
      `${at}.choice ${JSON.stringify(choice)} is not a fused variant and workgroup size of this build`,
    );
    c = { variant, workgroupSize } as FusedChoice;
  }
  // A fused decision was timed; 'pair' may have had no fused candidate to time (ms null).
  need((typeof ms === 'number' && ms >= 0) || (ms === null && c === 'pair'), `${at}.ms ${String(ms)}`);
  need(typeof pairMs === 'number' && pairMs >= 0, `${at}.pairMs ${String(pairMs)}`);
  return { shape: shape as string, choice: c, ms: ms as number | null, pairMs: pairMs as number };
}
