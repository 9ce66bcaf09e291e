/**
 * `mobilessd detect`: detection on images, folders or globs. Prints a table, optionally writes
 * JSON and annotated PNGs. A bad image is reported (file and problem) and skipped: the others are
 * still processed and their results written; the exit code is then 1. The JSON is saved (atomically,
 * `"complete": false`) every few seconds during the run and when it stops early (Ctrl-C, an
 * unexpected error), so a long run that is killed keeps what it has done.
 */
import { basename, extname, join } from 'node:path';
import type { Detection } from '../detect_types.ts';
import { MobileSsdError } from '../errors.ts';
import { drawDetections } from '../image/draw.ts';
import { encodePng } from '../image/encode_png.ts';
import { readImageFile } from '../image/decode.ts';
import type { RgbaImage } from '../core/image.ts';
import { BUNDLED_MODELS, DEFAULT_MODEL } from '../node/model_registry.ts';
import { writeAtomic } from '../node/model_files.ts';
import { load, type ObjectDetector } from '../index.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { helpText, parseArgs, UsageError, type CommandSpec } from './args.ts';
import {
  decodeLimits,
  DETECT_FLAGS,
  detectOptions,
  INPUT_SIZE_FLAG,
  inputSizeOption,
  MAX_PIXELS_FLAG,
  mb,
  msStats,
  peakRss,
  reportError,
} from './common.ts';
import { expandInputs } from './expand.ts';
import { checkOutputDir, checkOutputFile } from './outputs.ts';
import { Progress } from './progress.ts';
import { formatTable } from './table.ts';

export const detectCommand: CommandSpec = {
  name: 'detect',
  summary: 'detect objects in images',
  usage: 'mobilessd detect <image|folder|glob>... [options]',
  flags: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      value: 'NAME|PATH',
      help: `${BUNDLED_MODELS.map((m) => m.name).join(', ')}, or a .tflite / TF.js manifest / converted model folder`,
      default: DEFAULT_MODEL,
    },
    ...DETECT_FLAGS,
    INPUT_SIZE_FLAG,
    MAX_PIXELS_FLAG,
    { name: 'json', type: 'string', value: 'FILE', help: 'write all results as JSON (written atomically)' },
    {
      name: 'out',
      alias: 'o',
      type: 'string',
      value: 'FILE.png|DIR',
      help: 'write annotated images: a .png path for one input, else a folder',
    },
    { name: 'batch', type: 'number', value: 'N', help: 'images per GPU submission', default: 1 },
    { name: 'timing', type: 'boolean', help: 'report load, compile, first-image and steady-state times and memory' },
    {
      name: 'repeat',
      type: 'number',
      value: 'N',
      help: 'with --timing: run each image N more times for steady-state figures',
      default: 0,
    },
    {
      name: 'driver',
      type: 'string',
      value: 'auto|hardware|lavapipe|swiftshader',
      help: 'which WebGPU adapter to use',
      default: 'auto',
    },
    { name: 'quiet', alias: 'q', type: 'boolean', help: 'no table, no progress bar' },
  ],
  details: [
    'examples:',
    '  mobilessd detect samples/dog.jpg --out dog.boxes.png',
    '  mobilessd detect photos/ --json results.json --out annotated/ --classes Person,Car',
    "  mobilessd detect 'shots/**/*.jpg' --model face --score 0.6",
  ].join('\n'),
};

/** Longest a run goes without saving its JSON results so far. */
const CHECKPOINT_MS = 2000;

interface ImageResult {
  file: string;
  width?: number;
  height?: number;
  detections?: Detection[];
  error?: { code: string; message: string };
}

export async function runDetectCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(detectCommand)}\n`);
    return 0;
  }
  let detector: ObjectDetector | undefined;
  let savePartial: (() => Promise<void>) | undefined;
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  try {
    const { flags, positional } = parseArgs(detectCommand, argv);
    if (!positional.length) throw new UsageError('no images given (see `mobilessd detect --help`)');
    const batch = flags.batch as number;
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= 64))
      throw new UsageError(`--batch must be an integer from 1 to 64, got ${batch}`);
    const repeat = flags.repeat as number;
    if (!(Number.isInteger(repeat) && repeat >= 0))
      throw new UsageError(`--repeat must be a non-negative integer, got ${repeat}`);
    const options = detectOptions(flags);
    const inputSize = inputSizeOption(flags);
    const limits = decodeLimits(flags);
    const quiet = flags.quiet === true;
    const { files, missing } = expandInputs(positional);
    const results: ImageResult[] = missing.map((m) => ({
      file: m.arg,
      error: { code: 'INVALID_INPUT', message: `${m.arg}: ${m.reason}` },
    }));
    const outArg = flags.out as string | undefined;
    const outFile = outArg && /\.png$/i.test(outArg) ? outArg : undefined;
    if (outFile && files.length > 1)
      throw new UsageError(
        `--out ${outArg} names one PNG file but there are ${files.length} inputs: give a folder instead`,
      );
    const outDir = outArg && !outFile ? outArg : undefined;
    // Every output is checked before the model loads: a wrong path must not cost the run its results.
    if (outDir) checkOutputDir(outDir, '--out');
    if (outFile) checkOutputFile(outFile, '--out');
    if (flags.json !== undefined) checkOutputFile(flags.json as string, '--json');

    const t0 = performance.now();
    detector = await load(flags.model as string, {
      driver: flags.driver as DriverChoice,
      log: (m) => quiet || process.stderr.write(`mobilessd: ${m}\n`),
      ...options,
      ...(inputSize ? { inputSize } : {}),
    });
    const loadMs = performance.now() - t0;
    const progress = new Progress(files.length, 'detect', quiet);
    const decodeMs: number[] = [];
    const callMs: number[] = [];
    const gpuMs: number[] = [];
    const usedNames = new Set<string>();
    const jsonFile = flags.json as string | undefined;
    const loaded = detector;
    const jsonText = (extra: Record<string, unknown>) =>
      `${JSON.stringify({ model: loaded.info.name, adapter: loaded.adapter.description, options, images: inInputOrder(results, files), ...extra }, null, 2)}\n`;
    let savedAt = performance.now();
    if (jsonFile) savePartial = () => writeAtomic(jsonFile, jsonText({ complete: false }));
    // Ctrl-C ends the run after the batch in flight, with its results saved.
    process.once('SIGINT', onSigint);
    for (let i = 0; i < files.length && !interrupted; i += batch) {
      if (savePartial && performance.now() - savedAt >= CHECKPOINT_MS) {
        await savePartial().catch((e: Error) =>
          process.stderr.write(`mobilessd: ${jsonFile}: cannot save the results so far: ${e.message}\n`),
        );
        savedAt = performance.now();
      }
      const chunk = files.slice(i, i + batch);
      const images: { file: string; image: RgbaImage }[] = [];
      for (const file of chunk) {
        const td = performance.now();
        try {
          images.push({ file, image: await readImageFile(file, limits) });
          decodeMs.push(performance.now() - td);
        } catch (e) {
          results.push(failure(file, e));
          progress.tick();
        }
      }
      if (!images.length) continue;
      let lists: Detection[][];
      try {
        const tc = performance.now();
        lists = await detector.detectBatch(
          images.map((x) => x.image),
          options,
        );
        callMs.push(performance.now() - tc);
        if (detector.lastTimes?.gpu !== undefined) gpuMs.push(detector.lastTimes.gpu);
        for (let r = 0; r < repeat; r++) {
          const tr = performance.now();
          await detector.detectBatch(
            images.map((x) => x.image),
            options,
          );
          callMs.push(performance.now() - tr);
          if (detector.lastTimes?.gpu !== undefined) gpuMs.push(detector.lastTimes.gpu);
        }
      } catch (e) {
        for (const x of images) {
          results.push(failure(x.file, e));
          progress.tick();
        }
        continue;
      }
      for (const [j, x] of images.entries()) {
        const detections = lists[j]!;
        results.push({ file: x.file, width: x.image.width, height: x.image.height, detections });
        const target = outFile ?? (outDir ? join(outDir, uniqueName(x.file, usedNames)) : undefined);
        if (target) {
          try {
            await writeAtomic(target, encodePng(drawDetections(x.image, detections)));
          } catch (e) {
            results[results.length - 1]!.error = {
              code: 'OUTPUT',
              message: `${target}: cannot write the annotated image of ${x.file}: ${(e as Error).message}`,
            };
          }
        }
        progress.tick();
      }
    }
    if (interrupted) {
      if (savePartial) await savePartial();
      reportFailures(results);
      process.stderr.write(
        `\nmobilessd: interrupted after ${results.length} of ${files.length + missing.length} input(s)${jsonFile ? `; their results are in ${jsonFile}` : ''}\n`,
      );
      return 130;
    }
    results.sort((a, b) => order(files, a.file) - order(files, b.file));

    if (!quiet) {
      const rows = results.flatMap((r) =>
        r.error
          ? [[r.file, `error: ${r.error.code}`, '', '', '', '', '']]
          : r.detections!.length
            ? r.detections!.map((d) => [
                r.file,
                d.label,
                d.score.toFixed(3),
                Math.round(d.box.x),
                Math.round(d.box.y),
                Math.round(d.box.width),
                Math.round(d.box.height),
              ])
            : [[r.file, '(none)', '', '', '', '', '']],
      );
      process.stdout.write(`${formatTable(['image', 'label', 'score', 'x', 'y', 'width', 'height'], rows)}\n`);
    }
    const timing = flags.timing
      ? {
          adapter: `${detector.adapter.driver}: ${detector.adapter.description}`,
          loadMs: detector.info.loadMs,
          uploadWeightsMs: detector.info.uploadWeightsMs,
          compileMs: detector.info.compileMs,
          loadTotalMs: loadMs,
          firstRunMs: detector.firstRunMs,
          steadyStateMs: callMs.slice(1),
          gpuMs,
          decodeMs,
          peakRssBytes: peakRss(),
          gpuBytes: await detector.memory(),
        }
      : undefined;
    if (timing) {
      process.stdout.write(
        [
          '',
          `adapter            ${timing.adapter}`,
          `model load         ${timing.loadMs.toFixed(0)} ms (read or convert), weights upload ${timing.uploadWeightsMs.toFixed(0)} ms, pipeline compile ${timing.compileMs.toFixed(0)} ms`,
          `first image        ${timing.firstRunMs?.toFixed(1) ?? 'n/a'} ms`,
          `steady state       ${msStats(timing.steadyStateMs)} per call of ${batch} image(s)`,
          `GPU time           ${msStats(gpuMs.slice(1))}`,
          `decode             ${msStats(decodeMs)}`,
          `memory             peak RSS ${mb(timing.peakRssBytes)}; GPU weights ${mb(timing.gpuBytes.weightBytes)}, activations ${mb(timing.gpuBytes.activationBytes)}`,
        ].join('\n') + '\n',
      );
    }
    if (jsonFile) await writeAtomic(jsonFile, jsonText({ complete: true, ...(timing ? { timing } : {}) }));
    savePartial = undefined;
    const failed = reportFailures(results);
    if (failed === results.length)
      process.stderr.write(`mobilessd: all ${failed} input(s) failed${jsonFile ? `; ${jsonFile} lists them` : ''}\n`);
    else if (failed)
      process.stderr.write(
        `mobilessd: ${failed} of ${results.length} input(s) failed, ${results.length - failed} processed${jsonFile ? ` (all are in ${jsonFile})` : ''}\n`,
      );
    return failed ? 1 : 0;
  } catch (e) {
    // Whatever stopped the run, the results gathered so far are saved.
    await savePartial?.().catch(() => undefined);
    return reportError(e);
  } finally {
    process.removeListener('SIGINT', onSigint);
    detector?.dispose();
  }
}

function inInputOrder(results: readonly ImageResult[], files: readonly string[]): ImageResult[] {
  return [...results].sort((a, b) => order(files, a.file) - order(files, b.file));
}

function failure(file: string, e: unknown): ImageResult {
  const code = e instanceof MobileSsdError ? e.code : 'ERROR';
  const message = (e as Error)?.message ?? String(e);
  return { file, error: { code, message: message.includes(file) ? message : `${file}: ${message}` } };
}

/** Each failed input once, on stderr, after the table (whose rows only mark them); returns how many failed. */
function reportFailures(results: readonly ImageResult[]): number {
  const failed = results.filter((r) => r.error);
  for (const r of failed) process.stderr.write(`mobilessd: ${r.error!.message}\n`);
  return failed.length;
}

function uniqueName(file: string, used: Set<string>): string {
  const stem = file === '-' ? 'stdin' : basename(file, extname(file));
  let name = `${stem}.png`;
  for (let i = 2; used.has(name); i++) name = `${stem}-${i}.png`;
  used.add(name);
  return name;
}

function order(files: readonly string[], f: string): number {
  const i = files.indexOf(f);
  return i < 0 ? -1 : i;
}
