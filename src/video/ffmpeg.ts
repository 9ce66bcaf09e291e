/**
 * ffmpeg and ffprobe as child processes: finding them on PATH, reading a video's metadata, and
 * spawning them with their stderr kept, since its last lines are the only account of why a video
 * could not be read or written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { ToolMissingError, VideoError } from '../errors.ts';

export interface FfmpegTools {
  ffmpeg: string;
  ffprobe: string;
}

const INSTALL_HINT =
  'install ffmpeg (Debian/Ubuntu: sudo apt-get install ffmpeg; Fedora: sudo dnf install ffmpeg; macOS: brew install ffmpeg; Windows: winget install ffmpeg) and make sure its folder is on PATH';

/** Both tools from PATH (`pathEnv` defaults to the process's PATH); ToolMissingError names the one absent. */
export function locateFfmpeg(pathEnv = process.env.PATH ?? ''): FfmpegTools {
  return { ffmpeg: findOnPath('ffmpeg', pathEnv), ffprobe: findOnPath('ffprobe', pathEnv) };
}

function findOnPath(name: string, pathEnv: string): string {
  const suffixes = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue;
    for (const suffix of suffixes) {
      const file = join(dir, name + suffix);
      if (isExecutableFile(file)) return file;
    }
  }
  throw new ToolMissingError(name, name === 'ffprobe' ? `ffprobe ships with ffmpeg: ${INSTALL_HINT}` : INSTALL_HINT);
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * ffmpeg treats "name:rest" as a protocol URL; the file: prefix makes any local path (one with a
 * colon, or named like "pipe:0") mean that file.
 */
export function fileUrl(path: string): string {
  return `file:${path}`;
}

export interface VideoInfo {
  /** Index of the video stream in the file (cover art and other still pictures are passed over). */
  streamIndex: number;
  /** Size of the decoded frames: the stored size, turned when the file asks for a 90-degree rotation. */
  width: number;
  height: number;
  /** The constant frame rate frames are decoded and encoded at, as ffmpeg's rational ("30000/1001"). */
  frameRate: string;
  fps: number;
  /** Frames to expect, from the container or duration x fps (for progress; the decoder is the truth). */
  frameCount: number | undefined;
  /** frameCount is the container's own count (nb_frames), not an estimate from the duration. */
  frameCountExact: boolean;
  durationSec: number | undefined;
  /** Codec of the first audio stream, if there is one. */
  audioCodec: string | undefined;
  /** Pixel aspect ratio of non-square-pixel video ("8:9"), to be kept in the output. */
  sampleAspectRatio: string | undefined;
}

interface ProbeStream {
  index?: number;
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  r_frame_rate?: string;
  avg_frame_rate?: string;
  sample_aspect_ratio?: string;
  nb_frames?: string;
  duration?: string;
  side_data_list?: { rotation?: number }[];
  tags?: { rotate?: string };
  disposition?: { attached_pic?: number };
}

export async function probeVideo(tools: FfmpegTools, file: string, signal?: AbortSignal): Promise<VideoInfo> {
  const args = ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', '-i', fileUrl(file)];
  const proc = spawnTool(tools.ffprobe, args, 'probe');
  const chunks: Buffer[] = [];
  proc.child.stdout!.on('data', (c: Buffer) => chunks.push(c));
  const code = await proc.exit(signal);
  if (code !== 0) throw new VideoError(file, `cannot read video: ffprobe ${exitText(code)}`, proc.stderrTail());
  let parsed: { streams?: ProbeStream[]; format?: { duration?: string } };
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new VideoError(file, 'ffprobe printed no readable metadata', proc.stderrTail());
  }
  const streams = parsed.streams ?? [];
  const video = streams.find(
    (s) => s.codec_type === 'video' && (s.width ?? 0) > 0 && (s.height ?? 0) > 0 && s.disposition?.attached_pic !== 1,
  );
  if (!video) throw new VideoError(file, 'no video stream found', [], 'give a video file (ffprobe lists its streams)');
  const turned = Math.abs(rotation(video)) % 180 === 90;
  const rate = chooseFrameRate(video);
  const durationSec = positive(Number(video.duration)) ?? positive(Number(parsed.format?.duration));
  const counted = positive(Number(video.nb_frames));
  return {
    streamIndex: video.index ?? 0,
    width: turned ? video.height! : video.width!,
    height: turned ? video.width! : video.height!,
    frameRate: rate.text,
    fps: rate.value,
    frameCount: counted ?? (durationSec === undefined ? undefined : Math.round(durationSec * rate.value)),
    frameCountExact: counted !== undefined,
    durationSec,
    audioCodec: streams.find((s) => s.codec_type === 'audio')?.codec_name,
    sampleAspectRatio: pixelAspect(video.sample_aspect_ratio, turned),
  };
}

function pixelAspect(sar: string | undefined, turned: boolean): string | undefined {
  const m = /^(\d+):(\d+)$/.exec(sar ?? '');
  if (!m || m[1] === m[2] || m[1] === '0' || m[2] === '0') return undefined;
  return turned ? `${m[2]}:${m[1]}` : `${m[1]}:${m[2]}`;
}

function rotation(s: ProbeStream): number {
  const fromMatrix = s.side_data_list?.find((d) => typeof d.rotation === 'number')?.rotation;
  return fromMatrix ?? (Number(s.tags?.rotate) || 0);
}

/**
 * avg_frame_rate first: for variable-rate files r_frame_rate is often a timebase (1000/1, 90000/1)
 * that would make the constant-rate decode duplicate every frame many times over.
 */
function chooseFrameRate(s: ProbeStream): { text: string; value: number } {
  for (const text of [s.avg_frame_rate, s.r_frame_rate]) {
    const m = /^(\d+)\/(\d+)$/.exec(text ?? '');
    const value = m ? Number(m[1]) / Number(m[2]) : NaN;
    if (value > 0 && value <= 240) return { text: text!, value };
  }
  return { text: '25/1', value: 25 };
}

function positive(n: number): number | undefined {
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export function exitText(code: number | null): string {
  return code === null ? 'was killed' : `exited with code ${code}`;
}

export interface ToolProcess {
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once stdio is closed; kills the tool if `signal` aborts first. */
  exit(signal?: AbortSignal): Promise<number | null>;
  /** The last stderr lines so far. */
  stderrTail(): string[];
  /** Closes our ends of its pipes and SIGKILLs it unless it already exited; resolves once it has. */
  kill(): Promise<void>;
}

const TAIL_LINES = 12;
const TAIL_LINE_CHARS = 300;

/**
 * Spawns a tool with stderr piped and only its last lines kept (memory stays bounded however much
 * it prints). `what` names the job in the error when the tool cannot be started at all.
 */
export function spawnTool(
  path: string,
  args: readonly string[],
  what: string,
  stdio: { stdin?: boolean; stdout?: boolean } = { stdout: true },
): ToolProcess {
  // detached: Ctrl-C in a terminal signals the whole foreground process group; the pipeline, not
  // the terminal, decides how its children stop (the encoder must finish the file it is writing).
  const child = spawn(path, ['-hide_banner', ...args], {
    stdio: [stdio.stdin ? 'pipe' : 'ignore', stdio.stdout ? 'pipe' : 'ignore', 'pipe'],
    detached: true,
    windowsHide: true,
  });
  const tail: string[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (text: string) => {
    const lines = (partial + text).split(/\r?\n|\r/);
    partial = lines.pop()!.slice(-TAIL_LINE_CHARS);
    for (const line of lines) if (line.trim()) tail.push(line.slice(0, TAIL_LINE_CHARS));
    tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
  });
  let spawnError: Error | undefined;
  const closed = new Promise<number | null>((resolve) => {
    child.on('error', (e) => {
      // Only a failed start ends it here; other errors (a failed kill) are followed by 'close' as usual.
      if (child.pid !== undefined) return;
      spawnError = e;
      resolve(null);
    });
    child.once('close', (code) => resolve(code));
  });
  const stderrTail = () => (partial.trim() ? [...tail, partial].slice(-TAIL_LINES) : [...tail]);
  const kill = async () => {
    // A paused stdout holding unread data would otherwise keep 'close' from ever firing.
    child.stdin?.destroy();
    child.stdout?.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await closed;
  };
  return {
    child,
    stderrTail,
    kill,
    async exit(signal) {
      if (!signal) return checkSpawned(await closed);
      const onAbort = () => void kill();
      if (signal.aborted) onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const code = await closed;
        signal.throwIfAborted();
        return checkSpawned(code);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
  };

  function checkSpawned(code: number | null): number | null {
    if (spawnError)
      throw new VideoError(
        path,
        `cannot start it to ${what}: ${spawnError.message}`,
        [],
        'check that ffmpeg is installed and runnable',
      );
    return code;
  }
}
