/**
 * The one measurement record every peer (and mobilessd itself) hands back, and the protocol that
 * fills it, so rows of the comparison are measured the same way whatever the engine.
 */
import { median, percentile } from '../../src/gpu/timing.ts';

/** Sections of the report: the same network, measured on every engine that can run it. */
export type PeerModel = 'face' | 'oid' | 'backbone';

export interface PeerRecord {
  id: string;
  model: PeerModel;
  /** Engine and how it is driven, e.g. "TF.js tfjs-backend-webgpu (face-api)". */
  engine: string;
  /** The backend the engine reported it actually used (verified, never just the one asked for). */
  backend: string;
  /** GPU adapter (adapter.info) or "CPU". */
  adapter: string;
  /** Exactly what one run covers, from input in memory to result in JS memory. */
  timed: string;
  /** Load + compile + first result, ms (from before the engine's code is imported or loaded). */
  coldStartMs: number;
  latency: { medianMs: number; p90Ms: number; runs: number };
  throughput: {
    /** Images/s, back-to-back single-image runs. */
    batch1: number;
    /** Images/s with 8 images per call, or null when skipped (see batch8Mode). */
    batch8: number | null;
    batch8Mode: string;
  };
  peakRssMB: number;
  /** Which processes peakRssMB covers. */
  rssScope: string;
  /** GPU (or tensor) memory the engine reports, bytes; null when it does not say. */
  memoryBytes: number | null;
  memoryNote: string;
  /** Sanity result on the fixed input, e.g. "3 faces, best 0.995". */
  check: string;
  versions: Record<string, string>;
  notes: string[];
  /** Images/s per batch size with --batches (null: skipped, one batch would exceed the time budget). */
  sweep?: SweepPoint[];
}

export interface SweepPoint {
  batch: number;
  imagesPerS: number | null;
  /** Timed batches (after one untimed batch of that size). */
  reps: number;
  /** What the engine holds for that batch, e.g. mobilessd's activation arena. */
  note?: string;
}

/** A measurement that did not produce a record: a crash, a timeout, a missing prerequisite. */
export interface PeerFailure {
  id: string;
  model: PeerModel;
  engine: string;
  /** true: not run on purpose (e.g. an optional bundle is absent); false: it failed. */
  skipped: boolean;
  reason: string;
}

export type PeerResult = PeerRecord | PeerFailure;

/** Thrown by a measurement that cannot run here for a known, benign reason (reported as skipped). */
export class PeerSkipped extends Error {}

export const isRecord = (r: PeerResult): r is PeerRecord => 'latency' in r;

/** An engine ready to run: each call returns its own wall time in ms, measured where it runs. */
export interface TimedEngine {
  one(): Promise<number>;
  /** Eight images in one call; absent when the engine cannot batch (then eight one() calls are timed). */
  batch8?: () => Promise<number>;
  /** `n` images in one call (the --batches sweep); absent when the engine cannot batch. */
  batch?: (n: number) => Promise<number>;
  /** Said of a batch size after it ran (e.g. the memory plan it compiled). */
  describe?: (n: number) => Promise<string>;
}

export interface MeasurePlan {
  /** Warm single-image runs wanted. */
  runs: number;
  /** Time budget per phase (warm runs; batch 8), ms: slow engines get fewer runs, but the budget never cuts below MIN_RUNS. */
  budgetMs: number;
  /** The engine computes in this process: report CPU time / wall time (shows whether threads work). */
  cpuInThisProcess?: boolean;
}

const MIN_RUNS = 3;

export interface Measured {
  latency: PeerRecord['latency'];
  throughput: PeerRecord['throughput'];
  notes: string[];
}

/** Warm runs (the first one() after the cold start is already warm), then the batch-8 phase. */
export async function measureWarm(engine: TimedEngine, plan: MeasurePlan): Promise<Measured> {
  const notes: string[] = [];
  const samples = [await engine.one()];
  const target = Math.min(plan.runs, Math.max(MIN_RUNS, Math.floor(plan.budgetMs / Math.max(samples[0]!, 1e-3))));
  if (target < plan.runs)
    notes.push(
      `${target} warm runs instead of ${plan.runs}: one run takes ${(samples[0]! / 1000).toFixed(1)} s (time budget ${(plan.budgetMs / 1000).toFixed(0)} s)`,
    );
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  while (samples.length < target) samples.push(await engine.one());
  if (plan.cpuInThisProcess && samples.length > 1) {
    const cpu = process.cpuUsage(cpu0);
    notes.push(
      `CPU time / wall time over the warm runs: ${((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)).toFixed(2)}`,
    );
  }
  const med = median(samples);
  const latency = { medianMs: med, p90Ms: percentile(samples, 90), runs: samples.length };
  const batch1 = (1000 * samples.length) / samples.reduce((a, b) => a + b, 0);

  // One batch of 8 costs about 8 medians; skipped when a single batch would not fit in the budget.
  const batchCost = 8 * med;
  if (batchCost > plan.budgetMs) {
    notes.push(
      `batch 8 not measured: one batch would take ~${(batchCost / 1000).toFixed(0)} s (time budget ${(plan.budgetMs / 1000).toFixed(0)} s)`,
    );
    return { latency, throughput: { batch1, batch8: null, batch8Mode: 'skipped (time budget)' }, notes };
  }
  const reps = Math.max(1, Math.min(Math.ceil(plan.runs / 8), Math.floor(plan.budgetMs / batchCost)));
  const batched = engine.batch8;
  // A new batch size compiles new shapes on most engines: one untimed batch keeps that out of the figure.
  if (batched) await batched();
  const eightInARow = async () => {
    let ms = 0;
    for (let i = 0; i < 8; i++) ms += await engine.one();
    return ms;
  };
  const run = batched ?? eightInARow;
  const mode = batched ? 'batched' : 'sequential (8 single-image calls: the engine cannot batch)';
  let total = 0;
  for (let r = 0; r < reps; r++) total += await run();
  return {
    latency,
    throughput: { batch1, batch8: (1000 * 8 * reps) / total, batch8Mode: `${mode}, ${reps} x 8 images` },
    notes,
  };
}

/**
 * Images/s at each batch size, one call of `n` images per timed run: one untimed call first (compiles that
 * size), then as many calls as the budget allows (1 to 3). A size whose one call would exceed the budget
 * (estimated from the previous size) is skipped, as are the larger ones.
 */
export async function measureSweep(
  engine: TimedEngine,
  sizes: readonly number[],
  budgetMs: number,
  singleMs: number,
): Promise<SweepPoint[]> {
  const out: SweepPoint[] = [];
  let perImage = singleMs;
  for (const n of sizes) {
    if (!engine.batch || n * perImage > budgetMs) {
      out.push({ batch: n, imagesPerS: null, reps: 0 });
      continue;
    }
    await engine.batch(n);
    const reps = Math.max(1, Math.min(3, Math.floor(budgetMs / (n * perImage))));
    let total = 0;
    for (let r = 0; r < reps; r++) total += await engine.batch(n);
    perImage = total / reps / n;
    out.push({
      batch: n,
      imagesPerS: (1000 * n * reps) / total,
      reps,
      ...(engine.describe ? { note: await engine.describe(n) } : {}),
    });
  }
  return out;
}

/** Peak resident memory of this process, MB. */
export function ownPeakRssMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}
