/**
 * GEMM (1x1 convolution) tuning sweep: every register tile x workgroup size on the 1x1 layer
 * shapes of the bundled models plus 1024^3, timed with timestamp queries. Prints the best config
 * per shape class and the single best default, and writes results/gemm_tuning_<driver>.md; the
 * winners go into src/kernels/pointwise_tuning.ts by hand, with this file as the evidence.
 *
 *   node .build/bench/gemm_tune.js [--driver lavapipe|swiftshader] [--reps 3] [--models oid-v4,face]
 *       [--variants blocked8x2,unrolled4x2,...] [--wgs 32,64,128,256] [--out gemm_tuning_<driver>.md]
 *
 * --variants and --wgs narrow the sweep where a full one takes too long (SwiftShader runs the
 * array-tiled kernels at a tenth of the unrolled ones' speed); --out names the results file, so a narrowed
 * sweep does not overwrite the full one the tuning table cites. The subgroup variants (subgroup4x1, ...) are
 * named in --variants where wanted; they run at the workgroup sizes where they are correct for the adapter's
 * subgroup sizes, and each is set beside the blocked variant with its register tile. Configurations of a shape
 * are timed round robin, so load elsewhere on the machine falls on all of them alike.
 */
import { lowerGraph } from '../src/graph/lower.ts';
import { PointwiseStep } from '../src/ops/conv2d.ts';
import { median, timeDispatches } from '../src/gpu/timing.ts';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import {
  POINTWISE_SUBGROUP_VARIANTS,
  POINTWISE_VARIANTS,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseSubgroupReady,
  type PointwiseShape,
  type PointwiseVariant,
} from '../src/kernels/pointwise_conv2d.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '3'));
const models = (flag('models', 'oid-v4,face') ?? '').split(',');
const ctx = await benchGpu();

const shapes = new Map<string, PointwiseShape & { weight: number }>();
for (const name of models) {
  const m = await resolveModel(name);
  for (const st of lowerGraph(m.json, 1).steps) {
    if (!(st instanceof PointwiseStep)) continue;
    const key = `${st.s.M}x${st.s.K}x${st.s.N}`;
    const e = shapes.get(key);
    if (e) e.weight++;
    else shapes.set(key, { ...st.s, weight: 1 });
  }
}
shapes.set('1024x1024x1024', { M: 1024, K: 1024, N: 1024, HW: 1024, weight: 0 });

const maxFloats = Math.max(...[...shapes.values()].map((s) => Math.max(s.M * s.K, s.K * s.N, s.M * s.N)));
const buf = () => ctx.createBuffer('t', maxFloats * 4 + 64, GPUBufferUsage.STORAGE);
const io = { input: { buffer: buf() }, weights: { buffer: buf() }, bias: { buffer: buf() }, output: { buffer: buf() } };
const variants = listFlag(
  'variants',
  POINTWISE_VARIANTS.filter((v) => v !== 'naive'),
).map((v) => {
  const known: readonly string[] = [...POINTWISE_VARIANTS, ...POINTWISE_SUBGROUP_VARIANTS];
  if (!known.includes(v)) throw new Error(`--variants: unknown GEMM variant ${v} (known: ${known.join(', ')})`);
  return v as PointwiseVariant;
});
const wgs = listFlag('wgs', ['32', '64', '128', '256']).map(Number);
/** Workgroup sizes a variant runs at here: the subgroup ones only where they are correct (pointwiseSubgroupReady). */
const wgsOf = (v: PointwiseVariant) =>
  v === 'shared'
    ? [64]
    : v.startsWith('subgroup')
      ? wgs.filter((wg) => pointwiseSubgroupReady(ctx.subgroups, wg))
      : wgs;

function listFlag(name: string, fallback: readonly string[]): string[] {
  const v = flag(name);
  return v
    ? v
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
    : [...fallback];
}

interface Cell {
  variant: PointwiseVariant;
  wg: number;
  ms: number;
}
const results = new Map<string, Cell[]>();
for (const [key, s] of shapes) {
  const runs = [];
  for (const variant of variants)
    for (const wg of wgsOf(variant)) {
      const pipe = await pointwiseConv2dPipeline(ctx, variant, wg);
      const d = pointwiseConv2dDispatch(ctx, pipe, variant, s, ACTIVATIONS.relu6, io, { workgroupSize: wg });
      await timeDispatches(ctx, [d]);
      runs.push({ variant, wg, d, ms: [] as number[] });
    }
  for (let r = 0; r < reps; r++) for (const run of runs) run.ms.push((await timeDispatches(ctx, [run.d]))[0]!.ms);
  const cells: Cell[] = runs.map(({ variant, wg, ms }) => ({ variant, wg, ms: median(ms) }));
  for (const run of runs) for (const b of run.d.owned) b.destroy();
  cells.sort((a, b) => a.ms - b.ms);
  results.set(key, cells);
  const best = cells[0]!;
  console.log(
    `${key} (x${s.weight}): best ${best.variant}/wg${best.wg} ${best.ms.toFixed(2)} ms = ${((2 * s.M * s.K * s.N) / (best.ms * 1e6)).toFixed(2)} GFLOP/s`,
  );
}

// The single config that minimizes the models' total GEMM time, and the total with per-shape bests.
const configs = variants.flatMap((v) => wgsOf(v).map((wg) => ({ v, wg })));
const totalFor = (v: string, wg: number) =>
  [...shapes].reduce(
    (a, [key, s]) => a + s.weight * (results.get(key)!.find((c) => c.variant === v && c.wg === wg)?.ms ?? Infinity),
    0,
  );
const ranked = configs.map(({ v, wg }) => ({ v, wg, total: totalFor(v, wg) })).sort((a, b) => a.total - b.total);
const oracle = [...shapes].reduce((a, [key, s]) => a + s.weight * results.get(key)![0]!.ms, 0);

// One row per variant at its best workgroup size: the models' GEMM work over its total time, and 1024^3.
const modelFlops = [...shapes.values()].reduce((a, s) => a + s.weight * 2 * s.M * s.K * s.N, 0);
const byVariant = variants
  .filter((v) => wgsOf(v).length)
  .map((v) => {
    const best = ranked.find((r) => r.v === v)!;
    const big = results.get('1024x1024x1024')!.find((c) => c.variant === v && c.wg === best.wg)!;
    return { v, wg: best.wg, total: best.total, big };
  });

const md = [
  `# GEMM tuning sweep (${ctx.describe()})`,
  '',
  `Machine: ${machine(ctx)}. Median of ${reps} timestamp-query runs per config. Models: ${models.join(', ')}.`,
  '',
  `Best single config for the models' 1x1 layers: **${ranked[0]!.v}, workgroup ${ranked[0]!.wg}** (${ranked[0]!.total.toFixed(1)} ms total); per-shape best would give ${oracle.toFixed(1)} ms.`,
  '',
  '| config | total ms (all 1x1 layers, weighted by count) |',
  '|---|---|',
  ...ranked.slice(0, 10).map((r) => `| ${r.v} wg${r.wg} | ${r.total.toFixed(1)} |`),
  '',
  '| variant (best workgroup) | total ms | GFLOP/s on the models | GFLOP/s at 1024^3 |',
  '|---|---|---|---|',
  ...byVariant.map(
    (r) =>
      `| ${r.v} wg${r.wg} | ${r.total.toFixed(1)} | ${(modelFlops / (r.total * 1e6)).toFixed(2)} | ${(2 ** 31 / (r.big.ms * 1e6)).toFixed(2)} |`,
  ),
  ...subgroupPairs(),
  '',
  `| shape M x K x N | layers | best | ms | GFLOP/s | runner-up | ${variants[0]} wg${wgs[0]} ms |`,
  '|---|---|---|---|---|---|---|',
  ...[...shapes].map(([key, s]) => {
    const c = results.get(key)!;
    const base = c.find((x) => x.variant === variants[0] && x.wg === (variants[0] === 'shared' ? 64 : wgs[0]));
    const runnerUp = c[1] ? `${c[1].variant} wg${c[1].wg}` : '-';
    return `| ${key} | ${s.weight} | ${c[0]!.variant} wg${c[0]!.wg} | ${c[0]!.ms.toFixed(2)} | ${((2 * s.M * s.K * s.N) / (c[0]!.ms * 1e6)).toFixed(2)} | ${runnerUp} | ${base?.ms.toFixed(2) ?? '-'} |`;
  }),
];
/** Each subgroup variant beside the blocked variant with its register tile, at each workgroup size both ran. */
function subgroupPairs(): string[] {
  const rows = ranked
    .filter((r) => r.v.startsWith('subgroup'))
    .flatMap((r) => {
      const plain = ranked.find((b) => b.v === r.v.replace('subgroup', 'blocked') && b.wg === r.wg);
      return plain ? [`| ${r.v} / ${plain.v} wg${r.wg} | ${(r.total / plain.total).toFixed(2)}x |`] : [];
    });
  const sizes = ctx.subgroups ? `${ctx.subgroups.min}..${ctx.subgroups.max}` : 'none';
  return rows.length
    ? ['', `Subgroup sizes ${sizes}. Time of the subgroup variant over its blocked twin (all 1x1 layers):`, ''].concat(
        ['| pair | ratio |', '|---|---|'],
        rows,
      )
    : [];
}

const path = writeResult(flag('out', `gemm_tuning_${ctx.report.driver}.md`)!, md.join('\n') + '\n');
console.log(md.slice(0, 19 + variants.length).join('\n'));
console.log(`wrote ${path}`);
ctx.destroy();
process.exit(0);
