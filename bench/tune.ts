/**
 * The autotuner against the measured table on one model: a forced tuning run (no time budget, nothing read
 * from or written to the cache), then the network's GEMM kernels timed with the table's plan and with the
 * tuned one, interleaved pass by pass so machine load hits both alike. Writes results/tune_<model>_<driver>.md.
 *
 *   node .build/bench/tune.js [--model oid-v4] [--mode fast|full] [--reps 5] [--driver lavapipe|swiftshader|hardware]
 */
import { modelGemmShapes } from '../src/api/tuning.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { median, timeDispatches } from '../src/gpu/timing.ts';
import { tuneGemms } from '../src/kernels/pointwise_autotune.ts';
import type { GemmPlan } from '../src/kernels/pointwise_tuning.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '5'));
const mode = flag('mode', 'full') as 'fast' | 'full';
if (mode !== 'fast' && mode !== 'full') throw new Error(`--mode ${String(mode)}: fast or full`);
const ctx = await benchGpu();
const model = await resolveModel(flag('model', 'oid-v4'));
const tuned = await tuneGemms(ctx, modelGemmShapes(model, ctx.report), mode, Infinity);
const plan: GemmPlan = new Map(tuned.layers.map((l) => [l.shape, l.choice]));
const weights = packModelWeights(ctx, model);
const table = await GraphExecutor.create(ctx, model, weights, 1);
const withPlan = await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, plan);

/** Sum of the GEMM dispatch times and of all dispatch times of one pass. */
async function pass(ex: GraphExecutor): Promise<{ gemm: number; all: number }> {
  const t = await timeDispatches(ctx, ex.dispatches);
  const gemm = t.filter((_, i) => ex.stats.steps[i]!.kind === 'pointwise').reduce((a, x) => a + x.ms, 0);
  return { gemm, all: t.reduce((a, x) => a + x.ms, 0) };
}
await pass(table);
await pass(withPlan);
const runs = { table: [] as { gemm: number; all: number }[], tuned: [] as { gemm: number; all: number }[] };
for (let r = 0; r < reps; r++) {
  runs.table.push(await pass(table));
  runs.tuned.push(await pass(withPlan));
}
const med = (xs: { gemm: number; all: number }[], k: 'gemm' | 'all') => median(xs.map((x) => x[k]));
const f = (v: number) => v.toFixed(2);
const picks = new Map<string, number>();
for (const l of tuned.layers) {
  const k = `${l.choice.variant} wg${l.choice.workgroupSize}`;
  picks.set(k, (picks.get(k) ?? 0) + 1);
}
const md = [
  `# Autotuner against the measured table: ${model.json.name}`,
  '',
  `Machine: ${machine(ctx)}. Tuning mode '${mode}' (no budget, ${tuned.timer} timer): ${tuned.layers.length} GEMM shapes in ${(tuned.elapsedMs / 1000).toFixed(1)} s. ` +
    `Then the whole network with each plan, timestamp queries per dispatch, median of ${reps} interleaved passes.`,
  '',
  '| plan | GEMM kernels ms | all kernels ms |',
  '|---|---|---|',
  `| table (pointwise_tuning.ts) | ${f(med(runs.table, 'gemm'))} | ${f(med(runs.table, 'all'))} |`,
  `| tuned | ${f(med(runs.tuned, 'gemm'))} | ${f(med(runs.tuned, 'all'))} |`,
  '',
  `Tuned / table, GEMM kernels: **${f(med(runs.tuned, 'gemm') / med(runs.table, 'gemm'))}x** the time.`,
  '',
  '| configuration picked | shapes |',
  '|---|---|',
  ...[...picks].sort((a, b) => b[1] - a[1]).map(([k, n]) => `| ${k} | ${n} |`),
];
const text = md.join('\n') + '\n';
console.log(text);
writeResult(`tune_${model.json.name}_${ctx.report.driver}_${mode}.md`, text);
table.destroy();
withPlan.destroy();
ctx.destroy();
process.exit(0);
