/**
 * Video detection as a streaming pipeline: ffmpeg decodes into a pipe, frames go to the detector in
 * batches, boxes are drawn on them, and the annotated frames are piped into an encoding ffmpeg.
 * Each stage waits for the next one (pipe backpressure), so memory holds a couple of batches
 * whatever the video's length. The next batch is read while the current one is detected.
 */
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DetectOptions, Detection, StageTimes } from '../detect_types.ts';
import type { FrameSource } from '../api/detector.ts';
import { InvalidInputError, InvalidOptionError, VideoError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';
import { rgbaFrame } from '../api/rgba_frame.ts';
import { locateFfmpeg, probeVideo, type FfmpegTools, type VideoInfo } from './ffmpeg.ts';
import { FrameReader, type VideoFrame } from './frame_reader.ts';
import { FrameWriter, partialPath } from './frame_writer.ts';

/** What the pipeline needs of a detector (the Detector class, or a fake in tests). */
export interface VideoDetector {
  readonly labels: readonly string[];
  detectBatch(frames: readonly FrameSource[], options?: DetectOptions): Promise<Detection[][]>;
  /** Stage split of the latest call, when the detector measures it. */
  readonly lastTimes?: StageTimes | undefined;
}

/** Returns the frame with the detections drawn: the same image drawn in place, or a new one of the same size. */
export type DrawDetections = (
  image: RgbaImage,
  detections: readonly Detection[],
  labels: readonly string[],
) => RgbaImage;

export interface RunVideoOptions {
  input: string;
  /** Annotated H.264 MP4 to write. */
  output: string;
  /** JSON lines file: one {frame, timeMs, detections} object per frame, written as frames complete. */
  json?: string;
  detect?: DetectOptions;
  /** Frames per detectBatch call (default 1); a short last batch is padded with its last frame. */
  batch?: number;
  signal?: AbortSignal;
  /** ffmpeg and ffprobe to use; found on PATH when not given. */
  tools?: FfmpegTools;
  /** Called once the input is probed (before the first frame). */
  onStart?: (info: VideoInfo) => void;
  /** Called after each batch with the number of frames done so far. */
  onProgress?: (framesDone: number) => void;
  /** ffmpeg messages from runs that still succeeded (damaged packets concealed, and the like). */
  onWarning?: (line: string) => void;
}

/** Milliseconds the pipeline spent in each stage; for decode and encode, which run in ffmpeg alongside, the time spent waiting on them. */
export interface VideoStageTimes {
  decode: number;
  detect: number;
  draw: number;
  encode: number;
}

export interface VideoRunResult {
  info: VideoInfo;
  frames: number;
  wallMs: number;
  fps: number;
  stages: VideoStageTimes;
  /** Sums of the detector's own split of its calls, when it reports lastTimes. */
  detector: { upload: number; gpu: number | undefined; submitToResult: number } | undefined;
  /** The container lists more frames than could be decoded: the file is probably truncated. */
  endedEarly?: { expected: number };
}

/** Largest --batch: each batch slot holds a frame texture and its share of the activations. */
export const MAX_VIDEO_BATCH = 64;

export async function runVideo(
  detector: VideoDetector,
  draw: DrawDetections,
  options: RunVideoOptions,
): Promise<VideoRunResult> {
  const { input, output, json, signal } = options;
  const batch = options.batch ?? 1;
  if (!(Number.isInteger(batch) && batch >= 1 && batch <= MAX_VIDEO_BATCH))
    throw new InvalidOptionError('batch', batch, `an integer from 1 to ${MAX_VIDEO_BATCH}`);
  for (const out of [output, json]) {
    if (out !== undefined && resolve(out) === resolve(input))
      throw new InvalidInputError(`${out}: output would overwrite the input video`, 'choose another output file name');
  }
  if (json !== undefined && resolve(json) === resolve(output))
    throw new InvalidInputError(`${json}: the JSON lines and the video would be the same file`);
  signal?.throwIfAborted();
  const tools = options.tools ?? locateFfmpeg();
  const t0 = performance.now();
  const info = await probeVideo(tools, input, signal);
  options.onStart?.(info);

  const stages: VideoStageTimes = { decode: 0, detect: 0, draw: 0, encode: 0 };
  let detectorSplit: VideoRunResult['detector'];
  let reader: FrameReader | undefined;
  let writer: FrameWriter | undefined;
  let lines: JsonLinesFile | undefined;
  let done = 0;
  let detecting: Promise<unknown> | undefined;
  try {
    if (json !== undefined) lines = await JsonLinesFile.open(json);
    reader = new FrameReader(tools, input, info, options.onWarning);
    writer = new FrameWriter(tools, {
      output,
      width: info.width,
      height: info.height,
      frameRate: info.frameRate,
      ...(info.audioCodec ? { audioFrom: { file: input, codec: info.audioCodec } } : {}),
      ...(info.sampleAspectRatio ? { sampleAspectRatio: info.sampleAspectRatio } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
    });
    const frames = reader.frames();
    const readBatch = async (): Promise<VideoFrame[]> => {
      const out: VideoFrame[] = [];
      while (out.length < batch) {
        const next = await frames.next();
        if (next.done) break;
        out.push(next.value);
      }
      return out;
    };
    let t = performance.now();
    const lap = (): number => {
      const now = performance.now();
      const ms = now - t;
      t = now;
      return ms;
    };
    let pending = readBatch();
    for (;;) {
      const current = await abortable(pending, signal);
      stages.decode += lap();
      if (!current.length) break;
      pending = readBatch();
      // Its failure surfaces when it is awaited on the next turn; until then it must not count as unhandled.
      pending.catch(() => undefined);

      const sources = current.map(rgbaFrame);
      // A short last batch repeats its last frame: one batch size means one compiled detector plan.
      while (sources.length < batch) sources.push(sources.at(-1)!);
      const detection = detector.detectBatch(sources, options.detect);
      detecting = detection;
      const detections = await abortable(detection, signal);
      stages.detect += lap();
      detectorSplit = addTimes(detectorSplit, detector.lastTimes);

      const annotated = current.map((f, i) => checkDrawn(draw(f, detections[i] ?? [], detector.labels), f));
      stages.draw += lap();

      await lines?.write(current.map((f, i) => frameLine(f.index, info, detections[i] ?? [])));
      for (let i = 0; i < current.length; i++) {
        const frame = current[i]!;
        const pixels = annotated[i]!.data;
        // The decoded buffer is reused once nothing holds it: after the encoder took it, or now if the drawing is a copy.
        const drawnInPlace = pixels.buffer === frame.data.buffer;
        if (!drawnInPlace) reader.release(frame);
        await abortable(
          writer.write(
            new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength),
            drawnInPlace ? () => reader!.release(frame) : undefined,
          ),
          signal,
        );
      }
      done += current.length;
      stages.encode += lap();
      options.onProgress?.(done);
    }
    if (done === 0) throw new VideoError(input, 'ffmpeg decoded no frames from the video stream');
    await abortable(writer.finish(), signal);
    await lines?.finish();
    stages.encode += lap();
  } catch (e) {
    // Frames that completed stay in the partial files; a run that completed none leaves nothing.
    // A batch still on the detector is waited for, so that nothing runs on once this call settles.
    await Promise.allSettled([reader?.close(), writer?.abort(done > 0), lines?.abort(done > 0), detecting]);
    throw signal?.aborted ? signal.reason : e;
  }
  await reader.close();
  const wallMs = performance.now() - t0;
  const endedEarly =
    info.frameCountExact && info.frameCount !== undefined && done < info.frameCount
      ? { endedEarly: { expected: info.frameCount } }
      : {};
  return { info, frames: done, wallMs, fps: (done * 1000) / wallMs, stages, detector: detectorSplit, ...endedEarly };
}

function checkDrawn(drawn: RgbaImage, frame: VideoFrame): RgbaImage {
  if (drawn.width !== frame.width || drawn.height !== frame.height || drawn.data.length !== frame.data.length) {
    throw new InvalidInputError(
      `the draw function returned a ${drawn.width}x${drawn.height} image (${drawn.data.length} bytes) for a ${frame.width}x${frame.height} frame`,
    );
  }
  return drawn;
}

/** One JSON line: the frame's index, its presentation time and its detections. */
function frameLine(index: number, info: VideoInfo, detections: readonly Detection[]): string {
  const timeMs = Math.round((index * 1e6) / info.fps) / 1000;
  return `${JSON.stringify({ frame: index, timeMs, detections })}\n`;
}

function addTimes(sum: VideoRunResult['detector'], t: StageTimes | undefined): VideoRunResult['detector'] {
  if (!t) return sum;
  const s = sum ?? { upload: 0, gpu: 0, submitToResult: 0 };
  return {
    upload: s.upload + t.upload,
    gpu: s.gpu === undefined || t.gpu === undefined ? undefined : s.gpu + t.gpu,
    submitToResult: s.submitToResult + t.submitToResult,
  };
}

/** Settles with `p`, or rejects with the abort reason as soon as `signal` aborts (`p` runs on, ignored). */
function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolvePromise, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolvePromise, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** A JSON lines file written under its partial name, each batch handed to the OS before the next. */
class JsonLinesFile {
  private constructor(
    private readonly file: string,
    private readonly partial: string,
    private readonly handle: FileHandle,
  ) {}

  static async open(file: string): Promise<JsonLinesFile> {
    const partial = partialPath(file);
    return new JsonLinesFile(file, partial, await open(partial, 'w'));
  }

  async write(lines: readonly string[]): Promise<void> {
    await this.handle.write(lines.join(''));
  }

  async finish(): Promise<void> {
    await this.handle.close();
    await rename(this.partial, this.file);
  }

  async abort(keep: boolean): Promise<void> {
    await this.handle.close().catch(() => undefined);
    if (!keep) await rm(this.partial, { force: true });
  }
}
