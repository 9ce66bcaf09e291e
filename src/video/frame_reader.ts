/**
 * The frames of a video file, decoded by ffmpeg into a pipe of raw RGBA and cut into frames of
 * exactly width*height*4 bytes. The pipe is read only when the consumer asks for the next frame:
 * while it is busy, Node stops reading, the pipe fills and ffmpeg blocks on its write, so a video
 * of any length holds only a few frames in memory.
 */
import { VideoError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';
import { exitText, fileUrl, spawnTool, type FfmpegTools, type ToolProcess, type VideoInfo } from './ffmpeg.ts';

export interface VideoFrame extends RgbaImage {
  data: Buffer;
  /** 0-based position in the decoded (constant-rate) sequence. */
  index: number;
}

/** Buffers kept for reuse (enough for two batches of 8); any more released are left to the GC. */
const MAX_FREE_BUFFERS = 16;

export class FrameReader {
  readonly frameBytes: number;
  private readonly proc: ToolProcess;
  private readonly free: Buffer[] = [];
  private closing = false;

  constructor(
    tools: FfmpegTools,
    readonly file: string,
    readonly info: VideoInfo,
    private readonly onWarning: (line: string) => void = () => undefined,
  ) {
    this.frameBytes = info.width * info.height * 4;
    // -r: a constant rate (variable-rate input gets frames repeated or dropped) keeps the output in
    // step with the copied audio. -s: the byte count per frame holds whatever the decoder does.
    const args = [
      '-nostdin',
      '-nostats',
      '-v',
      'error',
      '-i',
      fileUrl(file),
      '-map',
      `0:${info.streamIndex}`,
      '-r',
      info.frameRate,
      '-s',
      `${info.width}x${info.height}`,
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgba',
      'pipe:1',
    ];
    this.proc = spawnTool(tools.ffmpeg, args, 'decode video');
  }

  /** The frames in order; throws VideoError when ffmpeg fails or stops inside a frame. */
  async *frames(): AsyncGenerator<VideoFrame, void, undefined> {
    const { width, height } = this.info;
    let index = 0;
    let frame = this.take();
    let filled = 0;
    try {
      for await (const chunk of this.proc.child.stdout! as AsyncIterable<Buffer>) {
        for (let at = 0; at < chunk.length;) {
          const n = chunk.copy(frame, filled, at);
          filled += n;
          at += n;
          if (filled === this.frameBytes) {
            yield { index: index++, width, height, data: frame };
            frame = this.take();
            filled = 0;
          }
        }
      }
    } catch (e) {
      if (!this.closing) throw e;
    }
    if (this.closing) return;
    const code = await this.proc.exit();
    if (code !== 0)
      throw new VideoError(this.file, `cannot decode video: ffmpeg ${exitText(code)}`, this.proc.stderrTail());
    if (filled)
      throw new VideoError(
        this.file,
        `the decoder stopped inside frame ${index} (${filled} of ${this.frameBytes} bytes)`,
        this.proc.stderrTail(),
      );
    // Exit code 0 with messages: damaged packets that ffmpeg concealed or skipped.
    for (const line of this.proc.stderrTail()) this.onWarning(line);
  }

  /** Hands a frame's buffer back for reuse; only once nothing reads or writes it any more. */
  release(frame: VideoFrame): void {
    if (frame.data.length === this.frameBytes && this.free.length < MAX_FREE_BUFFERS) this.free.push(frame.data);
  }

  /** Stops the decoder (idempotent); resolves once it has exited. */
  async close(): Promise<void> {
    this.closing = true;
    await this.proc.kill();
  }

  private take(): Buffer {
    // allocUnsafeSlow: never a slice of Node's shared pool, so the frame's view starts its buffer.
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.frameBytes);
  }
}
