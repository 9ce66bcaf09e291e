/**
 * Runs fuzz cases in a worker thread under a watchdog. The worker runs one case at a time, with the
 * allocation guard installed, and reports when each starts and ends; if a case has not ended after
 * its hang limit, the main thread terminates the worker (which stops even a synchronous endless
 * loop), records the case as a hang and starts a new worker at the next case. A worker that dies
 * is recorded as a crash the same way. The entry file that calls runCampaign() is also the
 * worker's: it must call serveCampaign() when it is not the main thread.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { MobileSsdError } from '../../src/errors.ts';
import { AllocationGuard, caseSeed, Random } from './fuzz.ts';
import { loadTarget, type FuzzTarget } from './fuzz_targets.ts';

export interface CampaignOptions {
  seed: number;
  /** Cases per target. */
  cases: Record<string, number>;
  /** First case index per target (default 0): replays or continues a campaign. */
  from?: Record<string, number>;
  /** A case is a hang past max(hangFloorMs, HANG_FACTOR x the unmutated file's time). Default 2000. */
  hangFloorMs?: number;
  onProgress?: (done: number, total: number) => void;
}

export type FailureKind = 'untyped-error' | 'unnamed-source' | 'allocation' | 'hang' | 'crash';

export interface Failure {
  target: string;
  index: number;
  kind: FailureKind;
  what: string;
  detail: string;
  /** The command that runs this case alone. */
  replay: string;
}

export interface TargetStats {
  cases: number;
  accepted: number;
  /** Typed rejections by error class. */
  rejected: Record<string, number>;
  /** The unmutated file's time, and the slowest and total case times, ms. */
  baselineMs: number;
  maxMs: number;
  totalMs: number;
  /** Largest single allocation any case asked for, bytes. */
  largestAllocation: number;
}

export interface CampaignReport {
  seed: number;
  cases: number;
  wallMs: number;
  targets: Record<string, TargetStats>;
  failures: Failure[];
}

/** A case slower than this many times the unmutated file is treated as a hang. */
const HANG_FACTOR = 20;
/** Per-case allocation limit: a fixed allowance plus a multiple of the input's size. */
const ALLOCATION_BASE = 64 * 2 ** 20;
const ALLOCATION_PER_INPUT_BYTE = 8;

interface Job {
  target: string;
  from: number;
  to: number;
}

type Message =
  | { type: 'baseline'; target: string; ms: number }
  | { type: 'begin'; target: string; index: number; what: string }
  | {
      type: 'end';
      target: string;
      index: number;
      ms: number;
      outcome: string;
      largest: number;
      failure?: { kind: FailureKind; detail: string };
    }
  | { type: 'done' };

export function runCampaign(workerUrl: URL, options: CampaignOptions): Promise<CampaignReport> {
  const hangFloor = options.hangFloorMs ?? 2000;
  const targets: Record<string, TargetStats> = {};
  const failures: Failure[] = [];
  let jobs: Job[] = Object.entries(options.cases)
    .filter(([, n]) => n > 0)
    .map(([target, n]) => ({ target, from: options.from?.[target] ?? 0, to: (options.from?.[target] ?? 0) + n }));
  const total = jobs.reduce((s, j) => s + j.to - j.from, 0);
  let done = 0;
  const t0 = performance.now();
  const replay = (target: string, index: number) =>
    `npm run fuzz -- --seed ${options.seed} --target ${target} --from ${index} --cases 1`;
  const stats = (target: string) =>
    (targets[target] ??= {
      cases: 0,
      accepted: 0,
      rejected: {},
      baselineMs: 0,
      maxMs: 0,
      totalMs: 0,
      largestAllocation: 0,
    });
  const report = (): CampaignReport => ({
    seed: options.seed,
    cases: done,
    wallMs: performance.now() - t0,
    targets,
    failures,
  });

  return new Promise((resolve, reject) => {
    const start = () => {
      const worker = new Worker(workerUrl, { workerData: { seed: options.seed, jobs } });
      let current: { target: string; index: number; what: string } | undefined;
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      /** Drops the case that killed the worker (and everything before it) and starts again after it. */
      const restartAfter = (target: string, index: number) => {
        const at = jobs.findIndex((j) => j.target === target);
        jobs = [{ ...jobs[at]!, from: index + 1 }, ...jobs.slice(at + 1)].filter((j) => j.to > j.from);
        done++;
        if (jobs.length) start();
        else resolve(report());
      };
      const lose = (kind: FailureKind, detail: string) => {
        if (finished || !current) return;
        finished = true;
        clearTimeout(timer);
        const c = current;
        failures.push({
          target: c.target,
          index: c.index,
          kind,
          what: c.what,
          detail,
          replay: replay(c.target, c.index),
        });
        stats(c.target).cases++;
        void worker.terminate().then(() => restartAfter(c.target, c.index));
      };
      worker.on('message', (m: Message) => {
        switch (m.type) {
          case 'baseline':
            stats(m.target).baselineMs = m.ms;
            break;
          case 'begin': {
            current = { target: m.target, index: m.index, what: m.what };
            const limit = Math.max(hangFloor, HANG_FACTOR * stats(m.target).baselineMs);
            timer = setTimeout(
              () =>
                lose(
                  'hang',
                  `no result after ${limit} ms (the unmutated file takes ${stats(m.target).baselineMs.toFixed(1)} ms)`,
                ),
              limit,
            );
            break;
          }
          case 'end': {
            clearTimeout(timer);
            const what = current?.what ?? '';
            current = undefined;
            const s = stats(m.target);
            s.cases++;
            s.totalMs += m.ms;
            s.maxMs = Math.max(s.maxMs, m.ms);
            s.largestAllocation = Math.max(s.largestAllocation, m.largest);
            if (m.outcome === 'accepted') s.accepted++;
            else s.rejected[m.outcome] = (s.rejected[m.outcome] ?? 0) + 1;
            if (m.failure)
              failures.push({
                target: m.target,
                index: m.index,
                ...m.failure,
                what,
                replay: replay(m.target, m.index),
              });
            done++;
            options.onProgress?.(done, total);
            break;
          }
          case 'done':
            finished = true;
            void worker.terminate();
            resolve(report());
        }
      });
      worker.on('error', (e) => {
        if (current) lose('crash', `${e.name}: ${e.message}`);
        else if (!finished) {
          finished = true;
          reject(e);
        }
      });
      worker.on('exit', (code) => {
        if (current) lose('crash', `the worker exited with code ${code}`);
        else if (!finished) {
          finished = true;
          reject(new Error(`the fuzz worker exited with code ${code} before its last case`));
        }
      });
    };
    if (jobs.length) start();
    else resolve(report());
  });
}

/** The worker side: runs the jobs in workerData, reporting each case to the main thread. */
export async function serveCampaign(): Promise<void> {
  if (isMainThread || !parentPort) throw new Error('serveCampaign() runs in a fuzz worker');
  const port = parentPort;
  const { seed, jobs } = workerData as { seed: number; jobs: Job[] };
  const guard = new AllocationGuard().install();
  for (const job of jobs) {
    const target = await loadTarget(job.target);
    port.postMessage({ type: 'baseline', target: job.target, ms: await baseline(target) } satisfies Message);
    for (let index = job.from; index < job.to; index++) {
      guard.reset(Infinity);
      const c = target.make(new Random(caseSeed(seed, job.target, index)), index);
      port.postMessage({ type: 'begin', target: job.target, index, what: c.what } satisfies Message);
      const before = process.memoryUsage().arrayBuffers;
      const limit = ALLOCATION_BASE + ALLOCATION_PER_INPUT_BYTE * c.bytes;
      guard.reset(limit);
      const t = performance.now();
      let outcome = 'accepted';
      let failure: { kind: FailureKind; detail: string } | undefined;
      try {
        await c.run();
      } catch (e) {
        if (e instanceof MobileSsdError) {
          outcome = e.name;
          const named = c.mentions ?? c.source;
          if (!e.message.includes(named))
            failure = { kind: 'unnamed-source', detail: `${e.name} does not name ${named}: ${e.message}` };
        } else {
          outcome = e instanceof Error ? e.name : typeof e;
          failure = {
            kind: 'untyped-error',
            detail: e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 6).join('\n') : String(e),
          };
        }
      }
      const ms = performance.now() - t;
      const { largest, tripped } = guard;
      guard.reset(Infinity);
      const grown = process.memoryUsage().arrayBuffers - before;
      if (tripped) failure = { kind: 'allocation', detail: tripped.message };
      else if (grown > limit)
        failure = {
          kind: 'allocation',
          detail: `ArrayBuffer memory grew by ${grown} bytes during the case (limit ${limit})`,
        };
      port.postMessage({
        type: 'end',
        target: job.target,
        index,
        ms,
        outcome,
        largest,
        ...(failure ? { failure } : {}),
      } satisfies Message);
    }
  }
  guard.uninstall();
  port.postMessage({ type: 'done' } satisfies Message);
}

/** The unmutated file's time (best of two, after a warm-up), which scales the hang limit. */
async function baseline(target: FuzzTarget): Promise<number> {
  let best = Infinity;
  for (let k = 0; k < 3; k++) {
    const c = target.make(new Random(0), -1);
    const t = performance.now();
    await c.run();
    if (k > 0) best = Math.min(best, performance.now() - t);
  }
  return best;
}

/** A table of the campaign per target, then every failure with the command that replays it. */
export function formatReport(r: CampaignReport): string {
  const rows = Object.entries(r.targets).map(([t, s]) => {
    const rejected = Object.entries(s.rejected)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    const mean = s.totalMs / Math.max(1, s.cases);
    return `  ${t.padEnd(16)} ${String(s.cases).padStart(7)} cases ${String(s.accepted).padStart(6)} accepted, mean ${mean.toFixed(1)} ms, max ${s.maxMs.toFixed(0)} ms (unmutated ${s.baselineMs.toFixed(1)} ms), largest allocation ${(s.largestAllocation / 2 ** 20).toFixed(1)} MiB; rejected: ${rejected}`;
  });
  const failures = r.failures.map(
    (f) =>
      `FAIL ${f.target}#${f.index} ${f.kind}: ${f.what}\n  ${f.detail.replace(/\n/g, '\n  ')}\n  replay: ${f.replay}`,
  );
  return [
    `fuzz: ${r.cases} cases in ${(r.wallMs / 1000).toFixed(1)} s, seed ${r.seed}`,
    ...rows,
    ...(failures.length ? failures : ['no failures']),
  ].join('\n');
}
