/** Helpers shared by the CLI commands: option mapping, error reporting, timing summaries. */
import type { Precision } from '../core/quant.ts';
import type { DetectOptions } from '../detect_types.ts';
import { MobileSsdError } from '../errors.ts';
import { DEFAULT_MAX_PIXELS, resolveLimits, type DecodeLimits } from '../image/limits.ts';
import { median, percentile } from '../gpu/timing.ts';
import { UsageError, type FlagSpec, type ParsedFlags } from './args.ts';

export const DETECT_FLAGS: FlagSpec[] = [
  {
    name: 'score',
    type: 'number',
    value: '0..1',
    help: "minimum score (default: the model's own, 0.5 for the bundled models)",
  },
  { name: 'iou', type: 'number', value: '0..1', help: "NMS overlap threshold (default: the model's own)" },
  { name: 'max', type: 'number', value: 'N', help: 'at most N detections per image (default 100)' },
  {
    name: 'per-class',
    type: 'boolean',
    help: 'suppress overlaps within each class only (the SSD paper) instead of across classes',
  },
  { name: 'classes', type: 'list', value: 'A,B', help: 'report only these classes (names or ids, comma separated)' },
];

export const INPUT_SIZE_FLAG: FlagSpec = {
  name: 'input-size',
  type: 'string',
  value: 'N|HxW',
  help: "run the network at this input size instead of the model's own (faster, less accurate; the anchors follow the new feature maps)",
};

export const PRECISION_FLAG: FlagSpec = {
  name: 'precision',
  type: 'string',
  value: 'auto|f32|f16|int8',
  help: "int8: a quantized model on integer kernels, TFLite's bytes; f32: float kernels; f16: float16 weights and activations, float32 sums (adapters with shader-f16); auto: int8 when the model is quantized, else f16 on a hardware GPU with shader-f16, else f32",
  default: 'auto',
};

/** --precision (the argument parser accepts only the values PRECISION_FLAG lists). */
export function precisionOption(flags: ParsedFlags): Precision {
  return (flags.precision ?? 'auto') as Precision;
}

export const MAX_PIXELS_FLAG: FlagSpec = {
  name: 'max-pixels',
  type: 'number',
  value: 'N',
  help: 'refuse images larger than N pixels (width x height) from their header, before decoding; decoding takes about 3 bytes of memory per byte of RGBA',
  default: DEFAULT_MAX_PIXELS,
};

/** --max-pixels, checked before any work starts. */
export function decodeLimits(flags: ParsedFlags): Required<DecodeLimits> {
  const n = flags['max-pixels'] as number;
  if (!(Number.isInteger(n) && n >= 1)) throw new UsageError(`--max-pixels must be a positive integer, got ${n}`);
  return resolveLimits({ maxPixels: n });
}

/** --input-size 224 or 224x160 (height x width). */
export function inputSizeOption(flags: ParsedFlags): [number, number] | undefined {
  const v = flags['input-size'];
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:x(\d+))?$/i.exec(String(v).trim());
  const size: [number, number] | undefined = m ? [Number(m[1]), Number(m[2] ?? m[1])] : undefined;
  if (!size || !size.every((d) => d >= 1))
    throw new UsageError(`--input-size must be N or HxW in pixels (e.g. 224 or 224x160), got "${v}"`);
  return size;
}

export function detectOptions(flags: ParsedFlags): DetectOptions {
  const o: DetectOptions = {};
  if (flags.score !== undefined) o.scoreThreshold = flags.score as number;
  if (flags.iou !== undefined) o.iouThreshold = flags.iou as number;
  if (flags.max !== undefined) o.maxDetections = flags.max as number;
  if (flags['per-class'] !== undefined) o.perClassNms = flags['per-class'] as boolean;
  if (flags.classes !== undefined)
    o.classes = (flags.classes as string[]).map((c) => (/^\d+$/.test(c) ? Number(c) : c));
  return o;
}

/** One line per error on stderr; returns the CLI exit code for it (2 usage, 1 otherwise). */
export function reportError(e: unknown, prefix = 'mobilessd'): number {
  if (e instanceof UsageError) {
    process.stderr.write(`${prefix}: ${e.message}\n`);
    return 2;
  }
  if (e instanceof MobileSsdError) {
    process.stderr.write(`${prefix}: error [${e.code}]: ${e.message}\n`);
    return e.code === 'INVALID_OPTION' ? 2 : 1;
  }
  const err = e as Error;
  process.stderr.write(
    `${prefix}: unexpected error: ${err?.message ?? String(e)}\n${process.env.MOBILESSD_DEBUG ? `${err?.stack}\n` : ''}`,
  );
  return 1;
}

export function msStats(samples: readonly number[]): string {
  if (!samples.length) return 'n/a';
  return `median ${median(samples).toFixed(1)} ms, p90 ${percentile(samples, 90).toFixed(1)} ms (n=${samples.length})`;
}

export function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Peak resident memory of this process so far, in bytes. */
export function peakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
