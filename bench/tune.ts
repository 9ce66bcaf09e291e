/**
 * The autotuner against the measured table on one model, measured as a frame runs: a forced tuning run as a load
 * makes it (gemmPlanFor: GEMM configurations, then fusion of each depthwise + 1x1 pair; no time budget, no cache),
 * with the tuner's own whole-network check (what a load commits: its picks, or the table where they are not
 * faster), then the whole network timed as one compute
 * pass (timestamps at its start and end) with the table's plan, the raw picks and the committed plan,
 * back to back in each round (rotating the order) so machine load hits all three alike; medians, quartiles and
 * the median of per-round ratios to the table (drift in load cancels out of those).
 * Writes results/tune_<model>_<driver>_<mode>.md.
 *
 *   node .build/bench/tune.js [--model oid-v4] [--mode fast|full] [--reps 15] [--driver lavapipe|swiftshader|hardware]
 */
import { loadavg } from 'node:os';
import { gemmPlanFor, PLAN_AGREEMENT, PLAN_MARGIN } from '../src/api/tuning.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { median, percentile, timePass } from '../src/gpu/timing.ts';
import type { FusedChoice } from '../src/kernels/dwpw_tuning.ts';
import type { GemmChoice, GemmPlan } from '../src/kernels/pointwise_tuning.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '15'));
const mode = flag('mode', 'full') as 'fast' | 'full';
if (mode !== 'fast' && mode !== 'full') throw new Error(`--mode ${String(mode)}: fast or full`);
const ctx = await benchGpu();
const startLoad = machine(ctx);
const model = await resolveModel(flag('model', 'oid-v4'));
const weights = packModelWeights(ctx, model);
const report = await gemmPlanFor(ctx, model, mode, undefined, Infinity, weights);
const tuned = report.result!;
const fused = report.dwpwResult?.pairs.filter((p) => p.choice) ?? [];
const picks: GemmPlan = new Map<string, GemmChoice | FusedChoice>([
  ...tuned.layers.map((l): [string, GemmChoice] => [l.shape, l.choice]),
  ...fused.map((p): [string, FusedChoice] => [p.shape, p.choice!]),
]);
const check = report.check;
const committed = report.plan;
const plans = {
  table: await GraphExecutor.create(ctx, model, weights, 1),
  picks: await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, picks),
  committed: await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, committed),
};
const names = Object.keys(plans) as (keyof typeof plans)[];
const ms = { table: [] as number[], picks: [] as number[], committed: [] as number[] };
for (const n of names) await timePass(ctx, plans[n].dispatches);
// Each round runs the three plans back to back, rotating which goes first.
for (let r = 0; r < reps; r++)
  for (let i = 0; i < names.length; i++) {
    const n = names[(r + i) % names.length]!;
    ms[n].push(await timePass(ctx, plans[n].dispatches));
  }
/** Median over rounds of this plan's time / the table's in the same round: drift in load cancels out. */
const paired = (n: keyof typeof plans) => median(ms[n].map((t, i) => t / ms.table[i]!));

const f = (v: number) => v.toFixed(1);
const row = (label: string, n: keyof typeof plans) =>
  `| ${label} | ${f(median(ms[n]))} | ${f(percentile(ms[n], 25))} - ${f(percentile(ms[n], 75))} | ${(median(ms[n]) / median(ms.table)).toFixed(3)}x | **${paired(n).toFixed(3)}x** |`;
const count = new Map<string, number>();
for (const l of tuned.layers) {
  const k = `${l.choice.variant} wg${l.choice.workgroupSize}`;
  count.set(k, (count.get(k) ?? 0) + 1);
}
const md = [
  `# Autotuner against the measured table: ${model.json.name}`,
  '',
  `Machine at the start: ${startLoad}; load at the end ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}.`,
  `Tuning mode '${mode}' (no budget, ${tuned.timer} timer, in ${report.storage}): ${tuned.layers.length} GEMM shapes in ${(tuned.elapsedMs / 1000).toFixed(1)} s; ` +
    `${report.pairs?.total ?? 0} depthwise + 1x1 pairs in ${((report.dwpwResult?.elapsedMs ?? 0) / 1000).toFixed(1)} s, ${fused.length} fused.`,
  check
    ? `The tuner's whole-network check (${check.runs} paired runs): table ${f(check.tableMs)} ms, picks ${f(check.tunedMs)} ms, median paired ratio ${check.ratio.toFixed(3)}, picks faster in ${check.faster} of ${check.runs} (kept below ${PLAN_MARGIN} and faster in at least ${PLAN_AGREEMENT * 100}% of runs): it commits **the ${check.kept === 'tuned' ? 'picks' : 'table'}**.`
    : "Every pick is the table's own: nothing to check, the table is committed.",
  '',
  `Then each plan's whole network at batch 1 as one compute pass (GPU time, ${ctx.hasTimestamps ? 'timestamps at the start and end of the pass' : 'wall clock of the submit'}), ${reps} rounds, the three plans interleaved in each.`,
  '',
  '| plan | median ms | quartiles ms | median / table median | median of paired ratios to the table |',
  '|---|---|---|---|---|',
  row('table (pointwise_tuning.ts)', 'table'),
  row("the tuner's per-shape picks", 'picks'),
  row('committed by the tuner (picks, or the table where the check found them no faster)', 'committed'),
  '',
  ...(committed.size
    ? []
    : [
        "The committed plan is the table's own (the same kernels), so its row against the table's measures this " +
          "machine's noise, not a plan.",
        '',
      ]),
  '| configuration picked | shapes |',
  '|---|---|',
  ...[...count].sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${k} | ${n} |`),
  ...fused.map((p) => `| ${p.choice!.variant} wg${p.choice!.workgroupSize} (fused pair ${p.shape}) | 1 |`),
];
const text = md.join('\n') + '\n';
console.log(text);
writeResult(`tune_${model.json.name}_${ctx.report.driver}_${mode}.md`, text);
for (const n of names) plans[n].destroy();
ctx.destroy();
process.exit(0);
