/**
 * The GEMM plan a detector loads with: the measured table (pointwise_tuning.ts), or with `tune` on, the
 * autotuner's per-shape picks (kernels/pointwise_autotune.ts), cached per adapter (vendor, architecture,
 * device, driver description), model and input size. A cache entry that fails to parse, names another
 * key or tuner version, or picks a configuration this build cannot run is ignored and rewritten.
 */
import { InvalidOptionError } from '../errors.ts';
import type { AdapterReport, GpuContext } from '../gpu/context.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { lowerGraph } from '../graph/lower.ts';
import { PointwiseStep } from '../ops/conv2d.ts';
import {
  FAST_BUDGET_MS,
  TUNE_MODES,
  tuneGemms,
  type TuneMode,
  type TuneResult,
} from '../kernels/pointwise_autotune.ts';
import { POINTWISE_SUBGROUP_VARIANTS, POINTWISE_VARIANTS, type PointwiseVariant } from '../kernels/pointwise_conv2d.ts';
import { gemmShapeKey, type GemmChoice, type GemmPlan } from '../kernels/pointwise_tuning.ts';

/** Bump when a kernel or the candidate lists change: older cache entries are then stale. */
export const TUNER_VERSION = 1;

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
  plan: GemmPlan;
  /** Why a stored entry was not used, when one was there (it was tuned again and rewritten). */
  rejected?: string;
  /** Why the new entry could not be stored (the plan is used all the same). */
  writeError?: string;
  result?: TuneResult;
}

interface StoredEntry {
  version: number;
  key: string;
  mode: 'fast' | 'full';
  timer: string;
  layers: { shape: string; variant: PointwiseVariant; workgroupSize: number; ms: number }[];
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

export function tuningKey(report: AdapterReport, model: LoadedModel): string {
  const j = model.json;
  return JSON.stringify({
    tuner: TUNER_VERSION,
    adapter: [report.vendor, report.architecture, report.device, report.description],
    model: [j.name, j.weights.sha256, j.source.converter],
    input: [j.preprocess.width, j.preprocess.height],
  });
}

/** The distinct 1x1-convolution GEMM shapes of the model at batch 1: what the detector runs. */
export function modelGemmShapes(model: LoadedModel, report: AdapterReport) {
  return lowerGraph(model.json, 1, {}, report.driver).steps.flatMap((st) =>
    st instanceof PointwiseStep ? [st.s] : [],
  );
}

/**
 * The plan for `mode`: the table when 'off'; else a stored entry of this key made by this mode or a
 * fuller one, its shapes not timed yet (a 'fast' run's budget ran out) timed now and merged; else a fresh
 * run. What was timed is stored (a store that cannot write loses only the cache). `budgetMs` bounds a run.
 */
export async function gemmPlanFor(
  ctx: GpuContext,
  model: LoadedModel,
  mode: TuneMode,
  store: TuningStore | undefined,
  budgetMs?: number,
): Promise<GemmPlanReport> {
  if (mode === 'off') return { mode, source: 'table', plan: new Map() };
  const key = tuningKey(ctx.report, model);
  const shapes = modelGemmShapes(model, ctx.report);
  let kept: StoredEntry['layers'] = [];
  let entryMode: StoredEntry['mode'] = mode;
  let rejected: string | undefined;
  const text = await store?.read(key);
  if (text !== undefined) {
    const parsed = parseEntry(text, key);
    if (typeof parsed === 'string') rejected = parsed;
    else if (mode === 'full' && parsed.mode === 'fast') rejected = "it was made by tune 'fast' and 'full' was asked";
    else {
      kept = parsed.layers;
      entryMode = parsed.mode;
    }
  }
  const done = new Set(kept.map((l) => l.shape));
  const todo = shapes.filter((s) => !done.has(gemmShapeKey(s)));
  if (!todo.length) return { mode, source: 'cache', plan: planOf(kept) };
  // The budget is the asked mode's: a 'fast' load completing a 'full' entry stays within a fast run's time.
  const result = await tuneGemms(ctx, todo, entryMode, budgetMs ?? (mode === 'fast' ? FAST_BUDGET_MS : Infinity));
  const layers = [...kept, ...result.layers.map((l) => ({ shape: l.shape, ...l.choice, ms: l.ms }))];
  const entry: StoredEntry = { version: TUNER_VERSION, key, mode: entryMode, timer: result.timer, layers };
  let writeError: string | undefined;
  try {
    await store?.write(key, `${JSON.stringify(entry, null, 1)}\n`);
  } catch (e) {
    writeError = `${store!.describe(key)}: ${(e as Error).message}`;
  }
  return {
    mode,
    source: 'tuned',
    plan: planOf(layers),
    result,
    ...(rejected ? { rejected } : {}),
    ...(writeError ? { writeError } : {}),
  };
}

function planOf(layers: readonly { shape: string; variant: PointwiseVariant; workgroupSize: number }[]): GemmPlan {
  return new Map(
    layers.map((l): [string, GemmChoice] => [l.shape, { variant: l.variant, workgroupSize: l.workgroupSize }]),
  );
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
    return { version: TUNER_VERSION, key, mode: e.mode as 'fast' | 'full', timer: e.timer as string, layers };
  } catch (err) {
    if (err instanceof SyntaxError) return `not JSON: ${err.message}`;
    if (err instanceof BadEntry) return err.message;
    throw err;
  }
}
