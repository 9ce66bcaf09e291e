/**
 * `mobilessd doctor`: can this machine run mobilessd, and if not, what to install. Lists every adapter Dawn
 * finds (driver kind, features, the limits the engine sizes itself by), says which one detectors use, and
 * prints the platform's driver help when there is none.
 */
import { GpuContext, LIMIT_NAMES } from '../gpu/context.ts';
import { driverHelp } from '../gpu/driver_help.ts';
import { nodeGpuProvider, systemFacts } from '../gpu/node_provider.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { installNodeGpu } from '../node_gpu.ts';
import { helpText, parseArgs, type CommandSpec } from './args.ts';
import { reportError } from './common.ts';
import { formatTable } from './table.ts';
import { tunedPointwise } from '../kernels/pointwise_tuning.ts';
import { adapterPrecision } from '../api/detector.ts';

const DRIVERS = ['auto', 'hardware', 'lavapipe', 'swiftshader'];

/** Optional features and what their absence costs; the engine runs without either. */
const OPTIONAL_FEATURES: Record<string, string> = {
  'timestamp-query': 'no GPU times in detector.lastTimes and --timing (wall-clock times still work)',
  'shader-f16': "no precision 'f16' (float16 weights and activations); float models run in f32",
  subgroups: 'no subgroup kernels (not needed: each has a plain form, the default on software adapters)',
};

export const doctorCommand: CommandSpec = {
  name: 'doctor',
  summary: 'check the WebGPU setup: adapters, driver kind, features and limits, and what to install if missing',
  usage: 'mobilessd doctor [--driver auto|hardware|lavapipe|swiftshader]',
  flags: [
    {
      name: 'driver',
      type: 'string',
      value: DRIVERS.join('|'),
      help: 'which adapters to look for',
      default: 'auto',
    },
  ],
};

/** Whether detectors here use subgroups by default: the GEMM table's choice for a large 1x1 layer says it. */
function subgroupUse(ctx: GpuContext): string {
  if (!ctx.subgroups) return 'subgroups: not offered (every kernel runs its plain form)';
  const large = { M: 1444, K: 96, N: 96, HW: 1444 };
  const gemm = tunedPointwise(ctx.report.driver, large, ctx.subgroups).variant.startsWith('subgroup');
  return (
    `subgroups: offered (sizes ${ctx.subgroups.min}..${ctx.subgroups.max}); in use by default: ` +
    `${gemm ? 'the 1x1-convolution GEMMs of layers over 64 pixels' : 'no'}; the SSD head's subgroup pass with load ` +
    "option `subgroups: true` ('mobilessd info' lists the kernel of every layer)"
  );
}

/** The precision float models load at here by default, and whether 'f16' is available (api/detector.ts decides). */
function precisionUse(ctx: GpuContext): string {
  if (!ctx.hasF16) return "precision: float models run in f32 ('f16' needs shader-f16, which this adapter lacks)";
  const auto = adapterPrecision(ctx, 'auto', 'f32');
  return (
    `precision: float models run in ${auto} by default (precision 'auto'); shader-f16 offered, so ` +
    (auto === 'f16' ? "'f32' on request" : "'f16' on request (--precision f16): half the bytes, f32 sums")
  );
}

export async function runDoctorCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(doctorCommand)}\n`);
    return 0;
  }
  let ctx: GpuContext | undefined;
  try {
    const { flags } = parseArgs(doctorCommand, argv);
    const choice = flags.driver as DriverChoice;
    const out = (s: string) => process.stdout.write(`${s}\n`);
    out(`platform: ${process.platform} ${process.arch}, Node ${process.versions.node}`);
    let count = 0;
    for await (const { adapter, driver } of nodeGpuProvider().adapters(choice)) {
      count++;
      const i = adapter.info;
      out(
        `\nadapter ${count}: ${driver}: ${i.description || '?'} (vendor ${i.vendor || '?'}, architecture ${i.architecture || '?'})`,
      );
      const features = [...adapter.features].sort();
      out(`features: ${features.join(', ') || 'none'}`);
      for (const [f, cost] of Object.entries(OPTIONAL_FEATURES))
        if (!adapter.features.has(f)) out(`  without ${f}: ${cost}`);
      const limits = adapter.limits as unknown as Record<string, number>;
      out(
        formatTable(
          ['limit', 'value'],
          LIMIT_NAMES.map((n) => [n, limits[n] ?? '?']),
        ),
      );
    }
    if (!count) {
      out(
        `\nno ${choice === 'auto' ? '' : `${choice} `}WebGPU adapter found. What to install:\n  ${driverHelp(systemFacts())}`,
      );
      return 1;
    }
    installNodeGpu();
    ctx = await GpuContext.acquire({ driver: choice });
    const r = ctx.report;
    out(`\nok: detectors run on ${r.driver}: ${r.description || r.vendor}`);
    out(`  ${precisionUse(ctx)}`);
    out(`  ${subgroupUse(ctx)}`);
    if (r.driver !== 'hardware')
      out('  (a software driver: expect 0.2-1 s per image; on a machine with a GPU, install its Vulkan driver)');
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    ctx?.destroy();
  }
}
