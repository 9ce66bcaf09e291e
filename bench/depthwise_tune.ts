/**
 * Every depthwise variant on every depthwise layer of a model, with GFLOP/s, against the table's choice
 * (selectDepthwiseVariant). One executor per forced variant (a layer the variant does not support keeps the
 * table's); each round times every executor's whole frame dispatch by dispatch, in rotating order, and a layer's
 * time for a variant is the median over the rounds where that variant ran it. Writes
 * results/depthwise_<model>_<driver>.md.
 *
 *   node .build/bench/depthwise_tune.js [--model oid-v4] [--reps 7] [--driver lavapipe|swiftshader]
 */
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { median, timeDispatches } from '../src/gpu/timing.ts';
import { DEPTHWISE_VARIANTS, type DepthwiseVariant } from '../src/kernels/depthwise_conv2d.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '7'));
const ctx = await benchGpu();
const startLoad = machine(ctx);
const model = await resolveModel(flag('model', 'oid-v4'));
const weights = packModelWeights(ctx, model);
const variants = DEPTHWISE_VARIANTS.filter((v) => v !== 'naive');
const table = await GraphExecutor.create(ctx, model, weights, 1);
const forced = new Map<DepthwiseVariant, GraphExecutor>();
for (const v of variants) forced.set(v, await GraphExecutor.create(ctx, model, weights, 1, { depthwise: v }));

const layers = table.dispatches.flatMap((d, i) =>
  d.op === 'depthwise_conv2d' ? [{ i, label: d.label, flops: d.flops, choice: table.stats.steps[i]!.variant! }] : [],
);
const ms = new Map<string, number[]>(); // `${variant} ${dispatch index}`
const runs = [...forced];
for (let r = 0; r <= reps; r++) {
  const order = [...runs.slice(r % runs.length), ...runs.slice(0, r % runs.length)];
  for (const [v, ex] of order) {
    const t = await timeDispatches(ctx, ex.dispatches);
    if (r === 0) continue; // the first round warms caches
    for (const { i } of layers) {
      if (ex.stats.steps[i]!.variant !== v) continue;
      const key = `${v} ${i}`;
      ms.set(key, [...(ms.get(key) ?? []), t[i]!.ms]);
    }
  }
}

const f = (v: number, d = 2) => v.toFixed(d);
const timeOf = (v: string, i: number) => {
  const t = ms.get(`${v} ${i}`);
  return t ? median(t) : undefined;
};
const rows = layers.map((l) => {
  const timed = variants.flatMap((v) => {
    const t = timeOf(v, l.i);
    return t === undefined ? [] : [{ v, ms: t }];
  });
  const best = timed.reduce((a, b) => (b.ms < a.ms ? b : a));
  return { ...l, timed, best, tableMs: timeOf(l.choice, l.i)! };
});
const tableTotal = rows.reduce((a, r) => a + r.tableMs, 0);
const bestTotal = rows.reduce((a, r) => a + r.best.ms, 0);
const flops = rows.reduce((a, r) => a + r.flops, 0);
const wins = new Map<string, number>();
for (const r of rows) wins.set(r.best.v, (wins.get(r.best.v) ?? 0) + 1);

const name = (label: string) => label.replace(/^.*\/(expanded_conv_\d+|expanded_conv)\/.*$/, '$1');
const md = [
  `# Depthwise variants per layer: ${model.json.name} (${ctx.describe()})`,
  '',
  `Machine: ${startLoad} at the start; load at the end: ${machine(ctx).split('(load ')[1]!.split(')')[0]}.`,
  `Command: \`node .build/bench/depthwise_tune.js --model ${model.json.name} --reps ${reps}` +
    `${flag('driver') ? ` --driver ${flag('driver')}` : ''}\`. Median of ${reps} rounds, each dispatch timed with ` +
    'timestamp queries, executors in rotating order.',
  '',
  `All depthwise layers: the table's variants ${f(tableTotal, 1)} ms (${f(flops / (tableTotal * 1e6))} GFLOP/s), ` +
    `each layer's best ${f(bestTotal, 1)} ms (${f(flops / (bestTotal * 1e6))} GFLOP/s, ` +
    `${f(bestTotal / tableTotal)}x). Best per layer: ${[...wins].map(([v, n]) => `${v} ${n}`).join(', ')}.`,
  '',
  `ms per layer (GFLOP/s of the best in brackets); a blank: the variant does not support the layer.`,
  '',
  `| layer | table | ${variants.join(' | ')} | best |`,
  `|---|---|${variants.map(() => '---|').join('')}---|`,
  ...rows.map(
    (r) =>
      `| ${name(r.label)} | ${r.choice} | ${variants.map((v) => (timeOf(v, r.i) === undefined ? '' : f(timeOf(v, r.i)!))).join(' | ')} | ` +
      `${r.best.v} (${f(r.flops / (r.best.ms * 1e6))}) |`,
  ),
];
const path = writeResult(flag('out', `depthwise_${model.json.name}_${ctx.report.driver}.md`)!, `${md.join('\n')}\n`);
console.log(md.join('\n'));
console.log(`wrote ${path}`);
for (const ex of [table, ...forced.values()]) ex.destroy();
ctx.destroy();
process.exit(0);
