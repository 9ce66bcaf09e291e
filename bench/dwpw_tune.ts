/**
 * Fused depthwise + 1x1 (dwpw_conv2d) against the pair, per layer and on the whole network. Per layer: every
 * depthwise + 1x1 pair of the model, the pair's two dispatches (the table's depthwise variant and GEMM
 * configuration) as one timed compute pass against every fused tile x workgroup size, round robin (the
 * load-time tuner's own timing, kernels/dwpw_autotune.ts). Whole network: batch-1 frames with the table's
 * plan (pairs), every pair fused with one configuration (the best in total), and each pair fused with its
 * own best, in rotating order each round; medians and the median of per-round ratios to the pairs.
 * Writes results/dwpw_<driver>.md.
 *
 *   node .build/bench/dwpw_tune.js [--model oid-v4] [--reps 5] [--frames 11] [--driver lavapipe|swiftshader]
 */
import { modelDwpwPairs } from '../src/api/tuning.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { median, percentile, timePass } from '../src/gpu/timing.ts';
import { tuneDwpw } from '../src/kernels/dwpw_autotune.ts';
import { dwpwShapeKey } from '../src/kernels/dwpw_tuning.ts';
import type { GemmPlan } from '../src/kernels/pointwise_tuning.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '5'));
const frames = Number(flag('frames', '11'));
const ctx = await benchGpu();
const startLoad = machine(ctx);
const model = await resolveModel(flag('model', 'oid-v4'));
const pairs = modelDwpwPairs(model, ctx.report, undefined, ctx.subgroups);
const t0 = performance.now();
const tuned = await tuneDwpw(ctx, pairs, 'full', Infinity, reps);
const tuneS = (performance.now() - t0) / 1000;
const count = (key: string) => pairs.filter((p) => dwpwShapeKey(p.s) === key).length;

// The one configuration with the least total time over all pairs, weighted by how often each shape occurs.
const configs = tuned.pairs[0]!.timed.map((t) => `${t.variant} wg${t.workgroupSize}`);
const totalOf = (cfg: string) =>
  tuned.pairs.reduce(
    (a, p) => a + (p.timed.find((t) => `${t.variant} wg${t.workgroupSize}` === cfg)?.ms ?? Infinity),
    0,
  );
const ranked = configs.map((c) => ({ c, total: totalOf(c) })).sort((a, b) => a.total - b.total);
const pairTotal = tuned.pairs.reduce((a, p) => a + p.pairMs, 0);
const oracle = tuned.pairs.reduce((a, p) => a + p.timed[0]!.ms, 0);

const weights = packModelWeights(ctx, model);
const [bestVariant, bestWg] = ranked[0]!.c.split(' wg') as [string, string];
const keys = tuned.pairs.map((p) => p.shape);
const onePlan: GemmPlan = new Map(
  keys.map((k) => [k, { variant: bestVariant as never, workgroupSize: Number(bestWg) }]),
);
const ownPlan: GemmPlan = new Map(
  tuned.pairs.map((p) => [p.shape, { variant: p.timed[0]!.variant, workgroupSize: p.timed[0]!.workgroupSize }]),
);
const nets = {
  pairs: await GraphExecutor.create(ctx, model, weights, 1),
  fusedOne: await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, onePlan),
  fusedOwn: await GraphExecutor.create(ctx, model, weights, 1, {}, undefined, ownPlan),
};
const names = Object.keys(nets) as (keyof typeof nets)[];
const dispatches = Object.fromEntries(names.map((n) => [n, nets[n].dispatches.length]));
const ms = { pairs: [] as number[], fusedOne: [] as number[], fusedOwn: [] as number[] };
for (const n of names) await timePass(ctx, nets[n].dispatches);
for (let r = 0; r < frames; r++) {
  const order = [...names.slice(r % 3), ...names.slice(0, r % 3)];
  for (const n of order) ms[n].push(await timePass(ctx, nets[n].dispatches));
}
const ratio = (n: keyof typeof ms) => median(ms[n].map((t, i) => t / ms.pairs[i]!));
const label = {
  pairs: 'pairs (the table: no fusion)',
  fusedOne: `every pair fused, ${ranked[0]!.c}`,
  fusedOwn: 'every pair fused, its own best configuration',
};

const md = [
  `# Fused depthwise + 1x1 against the pair: ${model.json.name} (${ctx.describe()})`,
  '',
  `Machine: ${startLoad} at the start; load at the end: ${machine(ctx).split('(load ')[1]!.split(')')[0]}.`,
  `Command: \`nice -n 10 node .build/bench/dwpw_tune.js --model ${model.json.name} --reps ${reps} --frames ${frames}` +
    `${flag('driver') ? ` --driver ${flag('driver')}` : ''}\` (${tuneS.toFixed(0)} s of per-layer timing, ${tuned.timer} timer).`,
  '',
  '## Per layer',
  '',
  `Median of ${reps} round-robin timings each; pair = the table's depthwise variant and GEMM configuration as one ` +
    'compute pass; ratio = best fused / pair (below 1: fusion wins).',
  '',
  '| pair (depthwise geometry, N) | layers | pair ms | best fused | fused ms | ratio |',
  '|---|---|---|---|---|---|',
  ...tuned.pairs.map((p) => {
    const b = p.timed[0]!;
    return `| ${p.shape} | ${count(p.shape)} | ${p.pairMs.toFixed(2)} | ${b.variant} wg${b.workgroupSize} | ${b.ms.toFixed(2)} | ${(b.ms / p.pairMs).toFixed(2)} |`;
  }),
  '',
  `Sum over distinct pairs: pairs ${pairTotal.toFixed(1)} ms; each fused with its own best ${oracle.toFixed(1)} ms ` +
    `(${(oracle / pairTotal).toFixed(2)}x); one configuration for all:`,
  '',
  '| fused configuration | total ms | / pairs |',
  '|---|---|---|',
  ...ranked.map((r) => `| ${r.c} | ${r.total.toFixed(1)} | ${(r.total / pairTotal).toFixed(2)}x |`),
  '',
  `Pairs the tuner's ${Math.round(0.95 * 100)}% margin would fuse: ${tuned.pairs.filter((p) => p.choice).length} of ${tuned.pairs.length}.`,
  '',
  '## Whole network (batch 1, one compute pass per frame)',
  '',
  `${frames} rounds, the three plans back to back in rotating order.`,
  '',
  '| plan | dispatches | median ms | p25 | p75 | median ratio to pairs |',
  '|---|---|---|---|---|---|',
  ...names.map(
    (n) =>
      `| ${label[n]} | ${dispatches[n]} | ${median(ms[n]).toFixed(1)} | ${percentile(ms[n], 25).toFixed(1)} | ${percentile(ms[n], 75).toFixed(1)} | ${ratio(n).toFixed(2)}x |`,
  ),
];
const path = writeResult(flag('out', `dwpw_${ctx.report.driver}.md`)!, `${md.join('\n')}\n`);
console.log(md.join('\n'));
console.log(`wrote ${path}`);
for (const n of names) nets[n].destroy();
ctx.destroy();
process.exit(0);
