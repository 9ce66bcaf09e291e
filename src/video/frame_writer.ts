/**
 * Raw RGBA frames piped into an ffmpeg that encodes H.264 (yuv420p) in MP4, optionally with the
 * audio of another file. The file is written under a ".partial" name and renamed into place only
 * when ffmpeg succeeds; a stopped run leaves a valid, shorter video under the partial name.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { VideoError } from '../errors.ts';
import { exitText, fileUrl, spawnTool, type FfmpegTools, type ToolProcess } from './ffmpeg.ts';

export interface EncoderOptions {
  output: string;
  width: number;
  height: number;
  /** ffmpeg rational, the input's rate. */
  frameRate: string;
  /** Pixel aspect ratio ("8:9") when the pixels are not square. */
  sampleAspectRatio?: string;
  /** Carry over the audio streams of this file (ffmpeg's codec name of the first one). */
  audioFrom?: { file: string; codec: string };
  onWarning?: (line: string) => void;
}

/** Where `file` is written until it is complete: "out.mp4" -> "out.partial.mp4". */
export function partialPath(file: string): string {
  const ext = extname(file);
  return join(dirname(file), `${basename(file, ext)}.partial${ext}`);
}

/** Audio codecs the MP4 muxer stores as they are; anything else is re-encoded to AAC. */
const MP4_AUDIO = new Set(['aac', 'mp3', 'ac3', 'eac3', 'alac']);

/** Grace for ffmpeg to finish the partial file after its input ends, before it is killed. */
const FINALIZE_TIMEOUT_MS = 10_000;

const ENCODE_HINT =
  'check that the output folder exists and is writable, and that this ffmpeg has libx264 (ffmpeg -hide_banner -encoders | grep 264)';

export class FrameWriter {
  readonly partialFile: string;
  private readonly proc: ToolProcess;
  /** Rejects with the encoder's error as soon as it exits; awaited only while it should be running. */
  private readonly earlyExit: Promise<never>;
  private exited = false;

  constructor(
    tools: FfmpegTools,
    private readonly options: EncoderOptions,
  ) {
    this.partialFile = partialPath(options.output);
    const { width, height, frameRate, audioFrom } = options;
    const input = [
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      '-s',
      `${width}x${height}`,
      '-framerate',
      frameRate,
      '-i',
      'pipe:0',
    ];
    const audioIn = audioFrom ? ['-i', fileUrl(audioFrom.file)] : [];
    const maps = ['-map', '0:v:0', ...(audioFrom ? ['-map', '1:a?'] : [])];
    // 4:2:0 chroma needs even sizes: an odd width or height gets one black column or row.
    const even = (n: number) => n + (n % 2);
    const pad = width % 2 || height % 2 ? [`pad=${even(width)}:${even(height)}`] : [];
    // RGB to YUV with BT.709, tagged as such: untagged video is guessed 601 or 709 by size, player by player.
    const sar = options.sampleAspectRatio ? [`setsar=${options.sampleAspectRatio.replace(':', '/')}`] : [];
    const filters = ['-vf', [...pad, 'scale=out_color_matrix=bt709:out_range=tv', 'format=yuv420p', ...sar].join(',')];
    const colour = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'];
    // veryfast: the detector, not the encoder, should set the pace on a machine shared by both.
    const video = ['-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', ...colour];
    const audio = audioFrom ? ['-c:a', MP4_AUDIO.has(audioFrom.codec) ? 'copy' : 'aac'] : [];
    const args = [
      '-nostdin',
      '-nostats',
      '-v',
      'error',
      '-y',
      ...input,
      ...audioIn,
      ...maps,
      ...filters,
      ...video,
      ...audio,
      '-movflags',
      '+faststart',
      '-f',
      'mp4',
      fileUrl(this.partialFile),
    ];
    this.proc = spawnTool(tools.ffmpeg, args, 'encode video', { stdin: true });
    // Writing to an encoder that died raises EPIPE here; its exit code and stderr say why.
    this.proc.child.stdin!.on('error', () => undefined);
    this.earlyExit = this.proc.exit().then((code) => {
      this.exited = true;
      throw this.failure(code);
    });
    this.earlyExit.catch(() => undefined);
  }

  /**
   * Queues one frame (width*height*4 bytes). Resolves when the encoder can take more (after 'drain'
   * when write() asked to wait); `flushed` is called once the bytes have left `data`, which may then
   * be reused.
   */
  async write(data: Uint8Array, flushed?: () => void): Promise<void> {
    if (this.exited) await this.earlyExit;
    const stdin = this.proc.child.stdin!;
    const ready = stdin.write(data, (err) => {
      if (!err) flushed?.();
    });
    if (!ready) await Promise.race([once(stdin, 'drain').catch(() => this.earlyExit), this.earlyExit]);
  }

  /** Ends the input, waits for ffmpeg and moves the finished file to its name. */
  async finish(): Promise<void> {
    this.proc.child.stdin!.end();
    const code = await this.proc.exit();
    if (code !== 0) throw this.failure(code);
    for (const line of this.proc.stderrTail()) this.options.onWarning?.(line);
    await rename(this.partialFile, this.options.output);
  }

  /**
   * Stops early: ends the input so ffmpeg closes a valid file of the frames so far (killed if it
   * takes too long). `keep` false removes the partial file. Returns the partial file's path if kept.
   */
  async abort(keep: boolean): Promise<string | undefined> {
    this.proc.child.stdin!.end();
    const timer = setTimeout(() => void this.proc.kill(), FINALIZE_TIMEOUT_MS);
    try {
      await this.proc.exit();
    } finally {
      clearTimeout(timer);
    }
    if (!keep) await rm(this.partialFile, { force: true });
    return keep && existsSync(this.partialFile) ? this.partialFile : undefined;
  }

  private failure(code: number | null): VideoError {
    const how = code === 0 ? 'ffmpeg stopped before the last frame' : `ffmpeg ${exitText(code)}`;
    return new VideoError(this.options.output, `cannot write video: ${how}`, this.proc.stderrTail(), ENCODE_HINT);
  }
}
