/**
 * FLOP-cost microbenchmark: the report's claim that a depthwise-separable convolution costs
 * 1/N + 1/D_K^2 of a standard one, measured on the GPU for every separable layer of MobileNetV1/V2
 * (and the width/resolution multipliers). Each kernel warm, median of several runs, timed with
 * timestamp queries where the adapter has them. The adapter's best GEMM is the roofline reference.
 *
 *   node .build/bench/flop_cost.js [--reps 5] [--quick] [--driver lavapipe|swiftshader]
 */
import { ACTIVATIONS, convGeometry, type ConvGeometry } from '../src/core/geometry.ts';
import type { Dispatch } from '../src/gpu/dispatch.ts';
import { conv2dCost, conv2dDispatch, conv2dPipeline, selectConv2dVariant } from '../src/kernels/conv2d.ts';
import {
  depthwiseConv2dDispatch,
  depthwiseConv2dPipeline,
  depthwiseCost,
  selectDepthwiseVariant,
} from '../src/kernels/depthwise_conv2d.ts';
import {
  POINTWISE_VARIANTS,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseCost,
  type PointwiseShape,
  type PointwiseVariant,
} from '../src/kernels/pointwise_conv2d.ts';
import { median, timeDispatches, wallTime } from '../src/gpu/timing.ts';
import { tunedPointwise } from '../src/kernels/pointwise_tuning.ts';
import { mobilenetV1Layers, mobilenetV2Layers, theoreticalRatio, type SeparableLayer } from './lib/mobilenet_layers.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';
import { lineChart } from '../src/charts/svg.ts';

const reps = Number(flag('reps', '5'));
const quick = flag('quick') === 'true';

const ctx = await benchGpu();
const maxFloats = Math.min(16 * 1024 * 1024, (ctx.report.limits.maxStorageBufferBindingSize ?? 134217728) / 4);
const big = (label: string) => ctx.createBuffer(label, maxFloats * 4, GPUBufferUsage.STORAGE, undefined);
const bufs = { x: big('x'), w: big('w'), b: ctx.createBuffer('bias', 4096 * 4, GPUBufferUsage.STORAGE), y: big('y') };

async function timed(d: Dispatch): Promise<number> {
  await wallTime(ctx, [d], 1); // warm-up: first use compiles lazily on some drivers
  const ms = ctx.hasTimestamps
    ? (await timeDispatches(ctx, Array(reps).fill(d))).map((t) => t.ms)
    : [await wallTime(ctx, [d], reps)];
  for (const b of d.owned) b.destroy();
  ctx.throwUncaptured(d.label);
  return median(ms);
}

interface Measured {
  layer: SeparableLayer;
  std: { ms: number; flops: number; bytes: number };
  dw: { ms: number; flops: number; bytes: number };
  pw: { ms: number; flops: number; bytes: number };
}

async function measure(l: SeparableLayer): Promise<Measured> {
  const inSize = l.DF * l.stride;
  const geo = (outC: number): ConvGeometry =>
    convGeometry({
      batch: 1,
      inH: inSize,
      inW: inSize,
      inC: l.M,
      outC,
      kH: l.DK,
      kW: l.DK,
      strideH: l.stride,
      strideW: l.stride,
      padding: 'SAME',
    });
  const gStd = geo(l.N);
  const gDw = geo(l.M);
  const io = {
    input: { buffer: bufs.x },
    filter: { buffer: bufs.w },
    bias: { buffer: bufs.b },
    output: { buffer: bufs.y },
  };
  const vStd = selectConv2dVariant(gStd, ctx.report.driver);
  const std = await timed(conv2dDispatch(ctx, await conv2dPipeline(ctx, vStd), vStd, gStd, ACTIVATIONS.relu6, io));
  const vDw = selectDepthwiseVariant(gDw, ctx.report.driver);
  const dw = await timed(
    depthwiseConv2dDispatch(ctx, await depthwiseConv2dPipeline(ctx, vDw), vDw, gDw, ACTIVATIONS.relu6, io),
  );
  const s: PointwiseShape = { M: l.DF * l.DF, K: l.M, N: l.N, HW: l.DF * l.DF };
  const pwChoice = tunedPointwise(ctx.report.driver, s);
  const pw = await timed(
    pointwiseConv2dDispatch(
      ctx,
      await pointwiseConv2dPipeline(ctx, pwChoice.variant, pwChoice.workgroupSize),
      pwChoice.variant,
      s,
      ACTIVATIONS.relu6,
      { input: io.input, weights: io.filter, bias: io.bias, output: io.output },
      { workgroupSize: pwChoice.workgroupSize },
    ),
  );
  return {
    layer: l,
    std: { ms: std, ...conv2dCost(gStd) },
    dw: { ms: dw, ...depthwiseCost(gDw) },
    pw: { ms: pw, ...pointwiseCost(s, false) },
  };
}

async function bestGemm(): Promise<{ variant: PointwiseVariant; gflops: number; all: [string, number][] }> {
  const n = quick ? 512 : 1024;
  const s: PointwiseShape = { M: n, K: n, N: n, HW: n };
  const all: [string, number][] = [];
  for (const v of POINTWISE_VARIANTS) {
    if (v === 'naive') continue;
    const ms = await timed(
      pointwiseConv2dDispatch(ctx, await pointwiseConv2dPipeline(ctx, v), v, s, ACTIVATIONS.none, {
        input: { buffer: bufs.x },
        weights: { buffer: bufs.w },
        bias: { buffer: bufs.b },
        output: { buffer: bufs.y },
      }),
    );
    all.push([v, (2 * n * n * n) / (ms * 1e6)]);
  }
  all.sort((a, b) => b[1] - a[1]);
  return { variant: all[0]![0] as PointwiseVariant, gflops: all[0]![1], all };
}

const gf = (m: { ms: number; flops: number }) => m.flops / (m.ms * 1e6);
const gb = (m: { ms: number; bytes: number }) => m.bytes / (m.ms * 1e6);
const f2 = (v: number, d = 2) => v.toFixed(d);

console.log(`machine: ${machine(ctx)}; timestamps: ${ctx.hasTimestamps}; reps: ${reps}`);
const gemm = await bestGemm();
console.log(
  `best GEMM ${quick ? 512 : 1024}^3: ${gemm.variant} ${f2(gemm.gflops)} GFLOP/s (${gemm.all.map(([v, g]) => `${v} ${f2(g)}`).join(', ')})`,
);

const tables: [string, SeparableLayer[]][] = quick
  ? [['MobileNetV1 224 (quick)', mobilenetV1Layers(224).slice(6, 8)]]
  : [
      ['MobileNetV1 224', mobilenetV1Layers(224)],
      ['MobileNetV1 300', mobilenetV1Layers(300)],
      ['MobileNetV2 224', mobilenetV2Layers(224)],
      ['MobileNetV2 300', mobilenetV2Layers(300)],
    ];

const md: string[] = [
  '# Depthwise-separable vs standard convolution: theory and measurement',
  '',
  `Machine: ${machine(ctx)}. Timestamp queries: ${ctx.hasTimestamps ? 'yes' : 'no (wall clock)'}. Median of ${reps} warm runs per kernel.`,
  `Roofline reference: best fp32 GEMM 1024^3 on this adapter = **${f2(gemm.gflops)} GFLOP/s** (${gemm.variant}).`,
  '',
  'Theory = (D_K^2·M·D_F^2 + M·N·D_F^2) / (D_K^2·M·N·D_F^2) = 1/N + 1/D_K^2. Measured = (t_depthwise + t_pointwise) / t_standard.',
  '',
];
const allRows: Measured[] = [];
const summary: string[] = [
  '| network | theory ratio | measured ratio | measured / theory | standard ms | separable ms | speed-up |',
  '|---|---|---|---|---|---|---|',
];
for (const [title, layers] of tables) {
  md.push(
    `## ${title}`,
    '',
    '| layer | M | N | D_K | D_F | s | theory | measured | meas/theory | std ms | dw ms | pw ms | std GFLOP/s | dw GFLOP/s | dw GB/s | pw GFLOP/s | pw GB/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  const rows: Measured[] = [];
  for (const l of layers) {
    const r = await measure(l);
    rows.push(r);
    const meas = (r.dw.ms + r.pw.ms) / r.std.ms;
    const th = theoreticalRatio(l);
    const line = `| ${l.name} | ${l.M} | ${l.N} | ${l.DK} | ${l.DF} | ${l.stride} | ${f2(th, 3)} | ${f2(meas, 3)} | ${f2(meas / th)} | ${f2(r.std.ms)} | ${f2(r.dw.ms)} | ${f2(r.pw.ms)} | ${f2(gf(r.std))} | ${f2(gf(r.dw))} | ${f2(gb(r.dw))} | ${f2(gf(r.pw))} | ${f2(gb(r.pw))} |`;
    md.push(line);
    console.log(`${title}: ${line}`);
  }
  allRows.push(...rows);
  const tStd = rows.reduce((a, r) => a + r.std.ms, 0),
    tSep = rows.reduce((a, r) => a + r.dw.ms + r.pw.ms, 0);
  const fStd = rows.reduce((a, r) => a + r.std.flops, 0),
    fSep = rows.reduce((a, r) => a + r.dw.flops + r.pw.flops, 0);
  summary.push(
    `| ${title} | ${f2(fSep / fStd, 3)} | ${f2(tSep / tStd, 3)} | ${f2(tSep / tStd / (fSep / fStd))} | ${f2(tStd, 1)} | ${f2(tSep, 1)} | ${f2(tStd / tSep, 1)}x |`,
  );
  const dwShare = rows.reduce((a, r) => a + r.dw.ms, 0) / tSep;
  const dwFlopShare = rows.reduce((a, r) => a + r.dw.flops, 0) / fSep;
  md.push(
    '',
    `Whole network: separable/standard MACs ${f2(fSep / fStd, 3)}, time ${f2(tSep / tStd, 3)}. Depthwise is ${f2(100 * dwFlopShare, 1)}% of the separable FLOPs but ${f2(100 * dwShare, 1)}% of its time.`,
    '',
  );
}

if (!quick) {
  md.push(
    '## Width multiplier alpha x resolution (rho), whole network (all separable layers)',
    '',
    '| net | alpha | resolution | separable MMACs | standard MMACs | theory | measured | separable ms | standard ms |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const net of ['MobileNetV1', 'MobileNetV2'] as const)
    for (const alpha of [1, 0.75, 0.5, 0.25])
      for (const res of [224, 192, 160, 128]) {
        const layers = net === 'MobileNetV1' ? mobilenetV1Layers(res, alpha) : mobilenetV2Layers(res, alpha);
        const rows: Measured[] = [];
        for (const l of layers) rows.push(await measure(l));
        const tStd = rows.reduce((a, r) => a + r.std.ms, 0),
          tSep = rows.reduce((a, r) => a + r.dw.ms + r.pw.ms, 0);
        const fStd = rows.reduce((a, r) => a + r.std.flops, 0),
          fSep = rows.reduce((a, r) => a + r.dw.flops + r.pw.flops, 0);
        const line = `| ${net} | ${alpha} | ${res} | ${f2(fSep / 2e6, 1)} | ${f2(fStd / 2e6, 1)} | ${f2(fSep / fStd, 3)} | ${f2(tSep / tStd, 3)} | ${f2(tSep, 1)} | ${f2(tStd, 1)} |`;
        md.push(line);
        console.log(line);
      }
}

md.splice(7, 0, '## Summary', '', ...summary, '');
const mdPath = writeResult(quick ? 'flop_cost.quick.md' : 'flop_cost.md', md.join('\n') + '\n');
const svgPath = writeResult(
  quick ? 'flop_cost.quick.svg' : 'flop_cost.svg',
  lineChart(
    [
      { name: 'theory 1/N + 1/D_K^2', color: '#1f77b4', points: allRows.map((r, i) => [i, theoreticalRatio(r.layer)]) },
      {
        name: 'measured time ratio',
        color: '#d62728',
        points: allRows.map((r, i) => [i, (r.dw.ms + r.pw.ms) / r.std.ms]),
      },
      {
        name: 'depthwise share of time',
        color: '#2ca02c',
        points: allRows.map((r, i) => [i, r.dw.ms / r.std.ms]),
        line: false,
      },
    ],
    {
      title: `Separable / standard cost per layer (${ctx.describe()})`,
      xLabel: 'layer',
      yLabel: 'ratio to standard conv',
      logY: true,
      xCategories: allRows.map(
        (r) => `${r.layer.net === 'MobileNetV1' ? 'V1' : 'V2'}@${r.layer.DF}:${r.layer.name.split('/')[1]}`,
      ),
      width: 1200,
    },
  ),
);
console.log(summary.join('\n'));
console.log(`wrote ${mdPath} and ${svgPath}`);
ctx.destroy();
process.exit(0);
