/** `mobilessd models` and `mobilessd info`: what is bundled, and what the adapter and a model are. */
import { readFileSync } from 'node:fs';
import {
  POST_PROCESS_OP,
  supportedTfliteOperators,
  tfliteOperatorInventory,
  type TfliteOperatorUse,
} from '../convert/tflite_to_ir.ts';
import { modelStats, type ModelStats } from '../graph/model_stats.ts';
import { GpuContext } from '../gpu/context.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { BUNDLED_MODELS, DEFAULT_MODEL, resolveModel } from '../node/model_registry.ts';
import { installNodeGpu } from '../node_gpu.ts';
import { load, type SubgroupUse } from '../index.ts';
import type { RunPrecision } from '../api/detector.ts';
import type { GemmPlanReport, PairsReport } from '../api/tuning.ts';
import type { Precision } from '../core/quant.ts';
import type { TuneMode } from '../kernels/pointwise_autotune.ts';
import { helpText, parseArgs, type CommandSpec } from './args.ts';
import { PRECISION_FLAG, precisionOption, reportError } from './common.ts';
import { formatTable } from './table.ts';

export const modelsCommand: CommandSpec = {
  name: 'models',
  summary: 'list the bundled models with their classes, parameters and multiply-adds',
  usage: 'mobilessd models [--json]',
  flags: [
    { name: 'json', type: 'boolean', help: 'print JSON instead of tables' },
    { name: 'classes', type: 'boolean', help: 'also list every class name' },
  ],
};

export const infoCommand: CommandSpec = {
  name: 'info',
  summary:
    "the WebGPU adapter and its limits, a model's parameters and multiply-adds per layer type, and a .tflite file's " +
    'operators (which ones mobilessd lacks)',
  usage: 'mobilessd info [--model NAME|PATH] [--precision auto|f32|f16|int8] [--tune off|fast|full] [--json]',
  flags: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      value: 'NAME|PATH',
      help: 'model to describe',
      default: DEFAULT_MODEL,
    },
    {
      name: 'driver',
      type: 'string',
      value: 'auto|hardware|lavapipe|swiftshader',
      help: 'which WebGPU adapter to describe',
      default: 'auto',
    },
    {
      name: 'tune',
      type: 'string',
      value: 'off|fast|full',
      help: "GEMM autotuning before the kernel list (default: 'off' where the measured table covers the adapter, else 'fast')",
    },
    PRECISION_FLAG,
    { name: 'json', type: 'boolean', help: 'print JSON instead of tables' },
  ],
};

const M = (n: number) => `${(n / 1e6).toFixed(2)}`;

export async function runModelsCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(modelsCommand)}\n`);
    return 0;
  }
  try {
    const { flags } = parseArgs(modelsCommand, argv);
    const rows = [];
    for (const b of BUNDLED_MODELS) {
      const m = await resolveModel(b.name, { log: (s) => process.stderr.write(`mobilessd: ${s}\n`) });
      const s = modelStats(m.json);
      const classes = m.json.labels.filter((l, i) => i !== m.json.ssd.backgroundClass && l !== '???');
      rows.push({
        name: b.name,
        description: b.description,
        input: `${m.json.preprocess.width}x${m.json.preprocess.height}`,
        classes,
        stats: s,
        defaults: m.json.ssd.defaults,
        dir: m.dir,
      });
    }
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(
      `${formatTable(
        ['model', 'input', 'classes', 'params (M)', 'mult-adds (M)', 'description'],
        rows.map((r) => [
          r.name + (r.name === DEFAULT_MODEL ? ' (default)' : ''),
          r.input,
          r.classes.length,
          M(r.stats.params),
          M(r.stats.macs),
          r.description,
        ]),
      )}\n`,
    );
    process.stdout.write('\nAny .tflite SSD (with a labels.txt beside it) or TF.js manifest also loads by path.\n');
    if (flags.classes) for (const r of rows) process.stdout.write(`\n${r.name}: ${r.classes.join(', ')}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}

export async function runInfoCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(infoCommand)}\n`);
    return 0;
  }
  let ctx: GpuContext | undefined;
  try {
    const { flags } = parseArgs(infoCommand, argv);
    installNodeGpu();
    ctx = await GpuContext.acquire({ driver: flags.driver as DriverChoice });
    const path = flags.model as string;
    // A TFLite file's operators are listed before conversion, which stops at the first one it lacks.
    const inventory = path.endsWith('.tflite') ? tfliteOperatorInventory(readFileSync(path), path) : undefined;
    const missing = inventory?.filter((u) => !u.supported) ?? [];
    if (inventory && !flags.json) process.stdout.write(`${operatorTable(path, inventory)}\n\n`);
    if (missing.length) {
      if (flags.json)
        process.stdout.write(`${JSON.stringify({ adapter: ctx.report, operators: inventory }, null, 2)}\n`);
      process.stderr.write(
        `mobilessd: ${path} uses ${missing.length} operator type(s) mobilessd does not convert: ` +
          `${missing.map((u) => `${u.name} (operator ${u.indices.join(', ')})`).join('; ')}. ` +
          `Supported: ${supportedTfliteOperators().join(', ')}, and the custom op ${POST_PROCESS_OP}.\n`,
      );
      return 1;
    }
    const model = await resolveModel(flags.model as string, { log: (s) => process.stderr.write(`mobilessd: ${s}\n`) });
    const s = modelStats(model.json);
    const kernels = await kernelPlan(
      ctx,
      flags.model as string,
      flags.tune as TuneMode | undefined,
      precisionOption(flags),
    );
    if (flags.json) {
      const report = { adapter: ctx.report, model: { name: model.json.name, stats: s }, operators: inventory, kernels };
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const r = ctx.report;
    process.stdout.write(
      `adapter: ${r.driver}: ${r.description} (vendor ${r.vendor || '?'}, architecture ${r.architecture || '?'})\n`,
    );
    process.stdout.write(`features: ${r.features.join(', ')}\n\nlimits:\n`);
    process.stdout.write(
      `${formatTable(
        ['limit', 'value'],
        Object.entries(r.limits).map(([k, v]) => [k, v]),
      )}\n\n`,
    );
    process.stdout.write(`model ${model.json.name}: ${model.json.description}\n`);
    process.stdout.write(`${layerTable(s)}\n\n`);
    process.stdout.write(`${kernelTable(kernels)}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    ctx?.destroy();
  }
}

interface KernelPlan {
  /** What the detector runs in, 'auto' resolved. */
  precision: RunPrecision;
  tuning: TuningSummary;
  dispatchesPerFrame: { preprocess: number; network: number; head: number; total: number };
  steps: { name: string; kind: string; variant?: string; workgroupSize?: number }[];
  subgroups: SubgroupUse;
}

/** The kernels a detector of this model runs here (GEMMs as tuned or from the table), and its dispatches per frame. */
async function kernelPlan(
  ctx: GpuContext,
  model: string,
  tune: TuneMode | undefined,
  precision: Precision,
): Promise<KernelPlan> {
  const detector = await load(model, { context: ctx, precision, ...(tune ? { tune } : {}) });
  try {
    const tuning = tuningSummary(detector.gemmTuning);
    const steps = (await detector.stats(1)).steps.map(({ name, kind, variant, workgroupSize }) => ({
      name,
      kind,
      ...(variant ? { variant } : {}),
      ...(workgroupSize ? { workgroupSize } : {}),
    }));
    return {
      precision: detector.precision,
      tuning,
      dispatchesPerFrame: await detector.dispatchCounts(1),
      steps,
      subgroups: await detector.subgroupUse(1),
    };
  } finally {
    detector.dispose();
  }
}

/** What `info` says about the tuner: where the plan came from, what it was timed in, and its fusion decisions. */
export interface TuningSummary {
  mode: string;
  source: string;
  rejected?: string;
  storage?: string;
  pairs?: PairsReport;
  /** The whole-network check's verdict, when one ran. */
  kept?: 'tuned' | 'table';
}

export function tuningSummary(g: GemmPlanReport): TuningSummary {
  return {
    mode: g.mode,
    source: g.source,
    ...(g.rejected ? { rejected: g.rejected } : {}),
    ...(g.storage ? { storage: g.storage } : {}),
    ...(g.pairs ? { pairs: g.pairs } : {}),
    ...(g.check ? { kept: g.check.kept } : {}),
  };
}

/**
 * The depthwise + 1x1 pairs the tuner decided (absent with tune 'off', where no pair fuses): how many were timed
 * during this load and how many fuse, and whether those fusions run (the whole-network check can keep the table).
 */
export function fusionLine(t: TuningSummary): string | undefined {
  const p = t.pairs;
  if (!p) return undefined;
  const timed = t.source === 'cache' ? 'decisions from the cache' : `${p.timed} timed now`;
  const left = p.untimed ? `, ${p.untimed} left to later loads (they run as the pair)` : '';
  const unused = p.fused && t.kept === 'table' ? ' (not in use: the whole-network check kept the table)' : '';
  return (
    `fused depthwise + 1x1: ${p.fused} of ${p.total} distinct pairs fused by the tuner${unused}; ` +
    `${timed}${left}${t.storage ? `; timed in ${t.storage}` : ''}`
  );
}

function kernelTable(k: KernelPlan): string {
  const d = k.dispatchesPerFrame;
  const from = { table: 'the measured table', cache: 'a cached tuning run', tuned: 'a tuning run now' }[
    k.tuning.source
  ];
  const fusion = fusionLine(k.tuning);
  return (
    `kernels per layer (tune ${k.tuning.mode}: GEMMs${k.tuning.pairs ? ' and fusion' : ''} from ${from ?? k.tuning.source}${k.tuning.rejected ? `; a stored entry was ignored: ${k.tuning.rejected}` : ''}):\n` +
    `${formatTable(
      ['layer', 'kernel', 'variant', 'workgroup'],
      k.steps.map((st) => [st.name, st.kind, st.variant ?? '-', st.workgroupSize ?? '-']),
    )}\n` +
    (fusion ? `${fusion}\n` : '') +
    `dispatches per frame: ${d.total} (preprocess ${d.preprocess}, network ${d.network}, SSD head ${d.head}), one submit\n` +
    `${precisionLine(k.precision)}\n` +
    subgroupLine(k.subgroups)
  );
}

/** What the network runs in. */
function precisionLine(p: RunPrecision): string {
  const what = {
    f32: 'float32 weights and activations',
    f16: 'float16 weights and activations, float32 sums (shader-f16)',
    int8: 'integer kernels on 8-bit tensors',
  }[p];
  return `precision: ${p} (${what})`;
}

/** Whether subgroup operations are in use, and where; shared with `mobilessd doctor`. */
export function subgroupLine(u: SubgroupUse): string {
  if (!u.sizes) return 'subgroups: not offered by this device (every kernel runs its plain form)';
  const where = [
    ...(u.ssdHead ? ['SSD head score pass'] : []),
    ...(u.gemmLayers ? [`${u.gemmLayers} of ${u.gemmLayersTotal} 1x1-convolution GEMMs`] : []),
  ];
  return (
    `subgroups: offered (sizes ${u.sizes.min}..${u.sizes.max}); in use: ${where.length ? where.join(', ') : 'no'}` +
    (where.length ? '' : ' (the plain kernels measured faster on software adapters; see the README)')
  );
}

/** A TFLite file's operator types, how often each occurs, and whether mobilessd converts it. */
function operatorTable(file: string, uses: readonly TfliteOperatorUse[]): string {
  const rows = uses.map((u) => [u.name, u.indices.length, u.supported ? 'yes' : 'MISSING', u.indices[0]!]);
  return `operators of ${file}:\n${formatTable(['operator', 'count', 'supported', 'first index'], rows)}`;
}

/** The MobileNet paper's Table 2: resources per layer type. */
export function layerTable(s: ModelStats): string {
  const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)}%`;
  const rows = (
    [
      ['conv 1x1 (pointwise)', s.pointwise],
      ['conv dw 3x3 (depthwise)', s.depthwise],
      ['conv KxK (standard)', s.standard],
    ] as const
  ).map(([name, t]) => [name, t.layers, M(t.macs), pct(t.macs, s.macs), M(t.params), pct(t.params, s.params)]);
  rows.push([
    'total',
    s.pointwise.layers + s.depthwise.layers + s.standard.layers,
    M(s.macs),
    '100%',
    M(s.params),
    '100%',
  ]);
  return formatTable(['type', 'layers', 'mult-adds (M)', 'share', 'params (M)', 'share'], rows);
}
