/**
 * A model's network on one adapter twice: a device with the `subgroups` feature (the GEMM table's subgroup choices
 * apply) and one without (the plain table), frames alternating between them so load elsewhere on the machine falls
 * on both alike. Prints the medians, their ratio, the 1x1 layers on subgroup variants, and writes
 * results/subgroups_<model>_<driver>.md.
 *
 *   node .build/bench/subgroups.js [--model oid-v4] [--reps 15] [--driver lavapipe|swiftshader]
 */
import { GpuContext } from '../src/gpu/context.ts';
import type { DriverChoice } from '../src/gpu/provider.ts';
import { wallTime, median } from '../src/gpu/timing.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '15'));
const modelName = flag('model', 'oid-v4')!;
const model = await resolveModel(modelName);
const withSg = await benchGpu();
const without = await GpuContext.acquire({
  driver: (flag('driver') ?? process.env.MOBILESSD_DRIVER ?? 'auto') as DriverChoice,
  wantFeatures: ['timestamp-query'],
});
if (!withSg.subgroups) throw new Error(`${withSg.describe()} offers no subgroups: nothing to compare`);
const runs = await Promise.all(
  [withSg, without].map(async (ctx) => {
    const ex = await GraphExecutor.create(ctx, model, packModelWeights(ctx, model), 1);
    const gemms = ex.stats.steps.filter((s) => s.kind === 'pointwise');
    return { ctx, ex, onSubgroups: gemms.filter((s) => s.variant?.startsWith('subgroup')).length, gemms: gemms.length };
  }),
);
for (const r of runs) await wallTime(r.ctx, r.ex.dispatches, 1);
const ms = runs.map((): number[] => []);
for (let i = 0; i < reps; i++)
  for (const [k, r] of runs.entries()) ms[k]!.push(await wallTime(r.ctx, r.ex.dispatches, 1));
const [a, b] = ms.map((m) => median(m));
const md = [
  `# ${modelName} network with and without subgroups (${withSg.describe()})`,
  '',
  `Machine: ${machine(withSg)}. Wall time per network pass (submit to done), median of ${reps}, frames alternating.`,
  `Command: \`node .build/bench/subgroups.js --model ${modelName} --reps ${reps}${flag('driver') ? ` --driver ${flag('driver')}` : ''}\``,
  '',
  '| device | 1x1 layers on subgroup GEMMs | median ms |',
  '|---|---|---|',
  `| with subgroups (sizes ${withSg.subgroups.min}..${withSg.subgroups.max}) | ${runs[0]!.onSubgroups} of ${runs[0]!.gemms} | ${a!.toFixed(1)} |`,
  `| without | ${runs[1]!.onSubgroups} of ${runs[1]!.gemms} | ${b!.toFixed(1)} |`,
  '',
  `With / without: **${(a! / b!).toFixed(2)}x**.`,
];
console.log(md.join('\n'));
console.log(`wrote ${writeResult(`subgroups_${modelName}_${withSg.report.driver}.md`, md.join('\n') + '\n')}`);
for (const r of runs) r.ctx.destroy();
process.exit(0);
