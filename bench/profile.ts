/**
 * Per-kernel profile of a model: every dispatch timed with timestamp queries (median of several
 * passes), with GFLOP/s and GB/s per layer, the share of the total per op type, and each kernel
 * compared with the adapter's best GEMM measured in the same run.
 *
 *   node .build/bench/profile.js [--model oid-v4|face|PATH] [--reps 5] [--driver ...] [--layers] [--precision int8]
 *       [--conv2d VARIANT] [--depthwise VARIANT] [--pointwise VARIANT] [--gemm-variants A,B]
 *
 * --conv2d / --depthwise / --pointwise force a kernel variant on every layer that supports it (the others keep
 * the default choice) to compare variants in the whole network; a forced run writes
 * results/profile_<model>_<driver>_<variant>.md. --gemm-variants limits the best-GEMM search.
 */
import type { Precision } from '../src/core/quant.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { integerLowering, resolvePrecision } from '../src/graph/integer.ts';
import { supportsPackedDot } from '../src/kernels/qcommon.ts';
import { median, timeDispatches } from '../src/gpu/timing.ts';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import { CONV2D_VARIANTS } from '../src/kernels/conv2d.ts';
import { DEPTHWISE_VARIANTS } from '../src/kernels/depthwise_conv2d.ts';
import {
  POINTWISE_VARIANTS,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
} from '../src/kernels/pointwise_conv2d.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const reps = Number(flag('reps', '5'));
const modelName = flag('model', 'oid-v4')!;
const ctx = await benchGpu();
const model = await resolveModel(modelName);
const conv2d = known(flag('conv2d'), CONV2D_VARIANTS, 'conv2d');
const depthwise = known(flag('depthwise'), DEPTHWISE_VARIANTS, 'depthwise');
const pointwise = known(flag('pointwise'), POINTWISE_VARIANTS, 'pointwise');
const gemmVariants =
  flag('gemm-variants')
    ?.split(',')
    .map((v) => known(v, POINTWISE_VARIANTS, 'GEMM')!) ?? POINTWISE_VARIANTS.filter((v) => v !== 'naive');
// --precision int8: the integer kernels of a quantized model (docs/integer.md), profiled the same way.
const precision = resolvePrecision(model.json, (flag('precision') ?? 'f32') as Precision);
const integer = precision === 'int8' ? integerLowering(model.json, 'xnnpack', await supportsPackedDot(ctx)) : undefined;
const ex = await GraphExecutor.create(
  ctx,
  model,
  packModelWeights(ctx, model, integer),
  1,
  {
    ...(conv2d ? { conv2d } : {}),
    ...(depthwise ? { depthwise } : {}),
    ...(pointwise ? { pointwise } : {}),
  },
  integer,
);

function known<T extends string>(v: string | undefined, list: readonly T[], what: string): T | undefined {
  if (v === undefined) return undefined;
  if (!(list as readonly string[]).includes(v))
    throw new Error(`unknown ${what} variant ${v} (known: ${list.join(', ')})`);
  return v as T;
}

// Best GEMM on this adapter, same run (1024^3, every tile variant).
const n = 1024;
const buf = () => ctx.createBuffer('gemm', n * n * 4, GPUBufferUsage.STORAGE);
const [gx, gw, gb, gy] = [buf(), buf(), buf(), buf()];
let best = 0,
  bestVariant = '';
for (const v of gemmVariants) {
  const d = pointwiseConv2dDispatch(
    ctx,
    await pointwiseConv2dPipeline(ctx, v),
    v,
    { M: n, K: n, N: n, HW: n },
    ACTIVATIONS.none,
    { input: { buffer: gx }, weights: { buffer: gw }, bias: { buffer: gb }, output: { buffer: gy } },
  );
  const ms = median((await timeDispatches(ctx, [d, d, d])).map((t) => t.ms));
  const gf = (2 * n * n * n) / (ms * 1e6);
  if (gf > best) [best, bestVariant] = [gf, v];
}

const perLayer: number[][] = ex.dispatches.map(() => []);
for (let r = 0; r < reps + 1; r++) {
  const t = await timeDispatches(ctx, ex.dispatches);
  if (r > 0) t.forEach((x, i) => perLayer[i]!.push(x.ms)); // first pass warms caches
}
const rows = ex.dispatches.map((d, i) => ({
  label: d.label,
  op: d.op,
  variant: ex.stats.steps[i]!.variant ?? '',
  ms: median(perLayer[i]!),
  flops: d.flops,
  bytes: d.bytes,
}));
const total = rows.reduce((a, r) => a + r.ms, 0);
const totalFlops = rows.reduce((a, r) => a + r.flops, 0);
const byOp = new Map<string, { ms: number; flops: number; bytes: number; n: number }>();
for (const r of rows) {
  const e = byOp.get(r.op) ?? { ms: 0, flops: 0, bytes: 0, n: 0 };
  e.ms += r.ms;
  e.flops += r.flops;
  e.bytes += r.bytes;
  e.n++;
  byOp.set(r.op, e);
}
const f = (v: number, d = 2) => v.toFixed(d);
const md = [
  `# Kernel profile: ${model.json.name}${integer ? ' (precision int8)' : ''}`,
  '',
  `Machine: ${machine(ctx)}. Median of ${reps} passes, each dispatch timed with timestamp queries (sum of kernel times; the frame also pays dispatch overhead).`,
  `Best GEMM on this adapter in the same run: **${f(best)} GFLOP/s** (${bestVariant}, 1024^3).`,
  '',
  `Network: ${f(total, 1)} ms of kernel time for ${f(totalFlops / 1e9, 3)} GFLOP = **${f(totalFlops / (total * 1e6))} GFLOP/s** (${f((100 * totalFlops) / (total * 1e6) / best, 0)}% of the best GEMM).`,
  '',
  '| op | dispatches | ms | share | GFLOP | GFLOP/s | GB/s | % of best GEMM |',
  '|---|---|---|---|---|---|---|---|',
  ...[...byOp]
    .sort((a, b) => b[1].ms - a[1].ms)
    .map(
      ([op, e]) =>
        `| ${op} | ${e.n} | ${f(e.ms, 1)} | ${f((100 * e.ms) / total, 1)}% | ${f(e.flops / 1e9, 3)} | ${f(e.flops / (e.ms * 1e6))} | ${f(e.bytes / (e.ms * 1e6))} | ${f((100 * e.flops) / (e.ms * 1e6) / best, 0)}% |`,
    ),
];
if (flag('layers') === 'true') {
  md.push('', '| layer | op | variant | ms | MFLOP | GFLOP/s | GB/s |', '|---|---|---|---|---|---|---|');
  for (const r of rows)
    md.push(
      `| ${r.label} | ${r.op} | ${r.variant} | ${f(r.ms)} | ${f(r.flops / 1e6, 1)} | ${f(r.flops / (r.ms * 1e6))} | ${f(r.bytes / (r.ms * 1e6))} |`,
    );
}
const text = md.join('\n') + '\n';
console.log(text);
const forced = [conv2d, depthwise, pointwise]
  .filter(Boolean)
  .map((v) => `_${v}`)
  .join('');
writeResult(`profile_${model.json.name}_${ctx.report.driver}${forced}${integer ? '_int8' : ''}.md`, text);
ctx.destroy();
process.exit(0);
