/**
 * `mobilessd video IN -o OUT.mp4`: detection on every frame of a video, written as an annotated
 * H.264 MP4 (audio kept) and optionally as JSON lines. Progress goes to stderr, the summary and
 * timing to stdout. Ctrl-C stops cleanly, keeping the frames done so far in ".partial" files.
 */
import { existsSync } from 'node:fs';
import { Detector } from '../api/detector.ts';
import { InvalidInputError } from '../errors.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { drawDetections } from '../image/draw.ts';
import { BUNDLED_MODELS, DEFAULT_MODEL, resolveModel } from '../node/model_registry.ts';
import { installNodeGpu } from '../node_gpu.ts';
import { locateFfmpeg } from '../video/ffmpeg.ts';
import { partialPath } from '../video/frame_writer.ts';
import { MAX_VIDEO_BATCH, runVideo, type VideoRunResult } from '../video/run_video.ts';
import { helpText, parseArgs, UsageError, type CommandSpec, type ParsedFlags } from './args.ts';
import { DETECT_FLAGS, detectOptions, reportError } from './common.ts';
import { Progress } from './progress.ts';
import { formatTable } from './table.ts';
import { checkOutputFile } from './outputs.ts';

export const videoCommand: CommandSpec = {
  name: 'video',
  summary: 'detect objects in every frame of a video and write an annotated copy',
  usage: 'mobilessd video IN -o OUT.mp4 [--json FILE.jsonl] [options]',
  flags: [
    {
      name: 'output',
      alias: 'o',
      type: 'string',
      value: 'FILE',
      help: 'annotated video to write (H.264 in MP4, the audio copied)',
    },
    {
      name: 'json',
      type: 'string',
      value: 'FILE',
      help: 'also write the detections as JSON lines: {frame, timeMs, detections} per frame',
    },
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      value: 'NAME|PATH',
      help: `${BUNDLED_MODELS.map((m) => m.name).join(', ')}, or a .tflite / TF.js manifest / converted model folder`,
      default: DEFAULT_MODEL,
    },
    ...DETECT_FLAGS,
    { name: 'batch', type: 'number', value: 'N', help: 'frames per GPU submission', default: 1 },
    { name: 'timing', type: 'boolean', help: 'print the time spent per stage (decode, detect, draw, encode)' },
    {
      name: 'driver',
      type: 'string',
      value: 'auto|hardware|lavapipe|swiftshader',
      help: 'which WebGPU adapter to use',
      default: 'auto',
    },
    { name: 'quiet', alias: 'q', type: 'boolean', help: 'no progress bar' },
  ],
  details: [
    'needs ffmpeg and ffprobe on PATH. Frames are streamed, so memory stays flat for any length;',
    'the output keeps the input frame rate. Until the run completes the outputs are written as',
    'OUT.partial.mp4 / FILE.partial.jsonl; a failed or interrupted run leaves them there, valid.',
    '',
    'examples:',
    '  mobilessd video street.mp4 -o street.boxes.mp4',
    '  mobilessd video cam.mkv -o cam.mp4 --json cam.jsonl --classes person,car --score 0.4 --timing',
  ].join('\n'),
};

/** Largest --max accepted: the detector's readback is sized for it. */
const MAX_DETECTIONS_LIMIT = 1000;

export async function runVideoCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(videoCommand)}\n`);
    return 0;
  }
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  let output: string | undefined;
  let json: string | undefined;
  let detector: Detector | undefined;
  let started = false;
  try {
    const { flags, positional } = parseArgs(videoCommand, argv);
    if (positional.length !== 1)
      throw new UsageError(`expected one input video, got ${positional.length} (see \`mobilessd video --help\`)`);
    const input = positional[0]!;
    output = stringFlag(flags, 'output');
    if (output === undefined) throw new UsageError('missing -o/--output FILE for the annotated video');
    json = stringFlag(flags, 'json');
    const batch = flags.batch as number;
    if (!(Number.isInteger(batch) && batch >= 1 && batch <= MAX_VIDEO_BATCH))
      throw new UsageError(`--batch must be an integer from 1 to ${MAX_VIDEO_BATCH}, got ${batch}`);
    if (!existsSync(input)) throw new InvalidInputError(`${input}: no such file`);
    // Before the model and the whole video: a wrong output path must not cost the run its frames.
    checkOutputFile(output, '-o/--output');
    if (json !== undefined) checkOutputFile(json, '--json');
    // Before the model: a missing ffmpeg should not cost a model load (or conversion) first.
    const tools = locateFfmpeg();
    const detect = detectOptions(flags);

    installNodeGpu();
    const model = await resolveModel(flags.model as string, {
      log: (m) => flags.quiet || process.stderr.write(`mobilessd: ${m}\n`),
    });
    const max = detect.maxDetections ?? 0;
    detector = await Detector.create(model, {
      ...detect,
      driver: flags.driver as DriverChoice,
      maxDetectionsCap: Math.max(100, Math.min(max, MAX_DETECTIONS_LIMIT)),
    });

    process.once('SIGINT', onSigint);
    let progress: Progress | undefined;
    let expected = 0;
    let ticked = 0;
    const result = await runVideo(detector, (img, detections) => drawDetections(img, detections), {
      input,
      output,
      ...(json !== undefined ? { json } : {}),
      detect,
      batch,
      signal: controller.signal,
      tools,
      onStart: (info) => {
        started = true;
        expected = info.frameCount ?? 0;
        if (!flags.quiet && expected) progress = new Progress(expected, 'video');
      },
      // The count from ffprobe is an estimate: the bar stops at its end.
      onProgress: (done) => {
        for (; progress && ticked < Math.min(done, expected); ticked++) progress.tick();
      },
      onWarning: (line) => process.stderr.write(`ffmpeg: ${line}\n`),
    });
    if (progress && ticked < expected && process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(summary(result, output, json));
    if (result.endedEarly)
      process.stderr.write(
        `mobilessd: note: ${input}: the input ended early: ${result.frames} of the ${result.endedEarly.expected} frames its container lists were decoded (the file may be truncated)\n`,
      );
    if (flags.timing) process.stdout.write(`${timingTable(result)}\n`);
    return 0;
  } catch (e) {
    const kept = started
      ? [output, json]
          .filter((f): f is string => f !== undefined)
          .map(partialPath)
          .filter(existsSync)
      : [];
    const keptNote = kept.length ? `the frames done so far are in ${kept.join(' and ')}` : '';
    if (controller.signal.aborted) {
      process.stderr.write(`\nmobilessd: interrupted${keptNote ? `; ${keptNote}` : ''}\n`);
      return 130;
    }
    const code = reportError(e);
    if (keptNote) process.stderr.write(`mobilessd: ${keptNote}\n`);
    return code;
  } finally {
    process.removeListener('SIGINT', onSigint);
    detector?.dispose();
  }
}

function stringFlag(flags: ParsedFlags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

function summary(r: VideoRunResult, output: string, json: string | undefined): string {
  const lines = [
    `${output}: ${r.frames} frames, ${r.info.width}x${r.info.height} at ${round(r.info.fps, 3)} fps, processed in ${(r.wallMs / 1000).toFixed(1)} s (${r.fps.toFixed(1)} frames/s)`,
  ];
  if (json !== undefined) lines.push(`${json}: ${r.frames} JSON lines`);
  return `${lines.join('\n')}\n`;
}

function timingTable(r: VideoRunResult): string {
  const row = (stage: string, ms: number): (string | number)[] => [
    stage,
    ms.toFixed(0),
    (ms / r.frames).toFixed(2),
    `${((100 * ms) / r.wallMs).toFixed(1)}%`,
  ];
  const d = r.detector;
  const rows = [
    row('decode (wait)', r.stages.decode),
    row('detect', r.stages.detect),
    ...(d
      ? [
          row('  upload', d.upload),
          ...(d.gpu === undefined ? [] : [row('  gpu', d.gpu)]),
          row('  submit-to-result', d.submitToResult),
        ]
      : []),
    row('draw', r.stages.draw),
    row('encode (wait)', r.stages.encode),
    row('total', r.wallMs),
  ];
  return formatTable(['stage', 'ms', 'ms/frame', 'share'], rows);
}

function round(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}
