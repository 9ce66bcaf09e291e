import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Detection } from '../src/detect_types.ts';
import type { FrameSource } from '../src/api/detector.ts';
import { ToolMissingError, VideoError } from '../src/errors.ts';
import { writeModel } from '../src/node/model_files.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { locateFfmpeg } from '../src/video/ffmpeg.ts';
import { partialPath } from '../src/video/frame_writer.ts';
import { runVideo, type DrawDetections, type VideoDetector } from '../src/video/run_video.ts';
import { syntheticModel } from './support/synthetic_model.ts';

const dir = mkdtempSync(join(tmpdir(), 'mobilessd-video-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => join(dir, name);

function ffmpeg(...args: string[]): Buffer {
  const r = spawnSync('ffmpeg', ['-hide_banner', '-nostdin', '-v', 'error', ...args], { maxBuffer: 1 << 28 });
  assert.equal(r.status, 0, `ffmpeg ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  pix_fmt?: string;
  sample_aspect_ratio?: string;
  r_frame_rate: string;
  nb_read_frames?: string;
}

/** Streams with frames counted by decoding (not the container's claim), and the duration. */
function probe(path: string): { streams: ProbedStream[]; duration: number } {
  const r = spawnSync('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-print_format',
    'json',
    '-show_streams',
    '-show_format',
    path,
  ]);
  assert.equal(r.status, 0, `ffprobe ${path}: ${r.stderr}`);
  const j = JSON.parse(r.stdout.toString()) as { streams: ProbedStream[]; format: { duration: string } };
  return { streams: j.streams, duration: Number(j.format.duration) };
}
const videoStream = (p: { streams: ProbedStream[] }) => p.streams.find((s) => s.codec_type === 'video')!;

/** Every frame of `path` decoded independently of the pipeline, as hashes. */
function referenceHashes(path: string, width: number, height: number): string[] {
  const raw = ffmpeg('-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgba', '-');
  const size = width * height * 4;
  assert.equal(raw.length % size, 0);
  return Array.from({ length: raw.length / size }, (_, i) => hash(raw.subarray(i * size, (i + 1) * size)));
}
const hash = (b: Uint8Array) => createHash('sha1').update(b).digest('hex');

/** The pixels a FrameSource hands to the GPU, caught by a stand-in queue. */
function uploadedPixels(f: FrameSource): Uint8Array {
  let got: Uint8Array | undefined;
  const queue = {
    writeTexture(_dst: unknown, data: Uint8Array, layout: { bytesPerRow: number }, size: number[]) {
      assert.equal(layout.bytesPerRow, f.width * 4);
      assert.deepEqual(size, [f.width, f.height]);
      got = new Uint8Array(data.buffer, data.byteOffset, f.width * f.height * 4);
    },
  };
  f.upload({ queue } as unknown as GpuContext, {} as GPUTexture);
  return got!;
}

/** The box the fake detector reports for frame i: steps right 24 px a frame, so neighbours never overlap. */
function markerBox(i: number) {
  return { x: 4 + (i % 6) * 24, y: 40, width: 16, height: 16 };
}

interface FakeOptions {
  reference?: string[];
  size?: [number, number];
  onFrame?: (index: number) => void | Promise<void>;
}

/** A detector that checks each frame against the reference decode and reports one box per frame. */
function fakeDetector(o: FakeOptions = {}): VideoDetector & { batches: number[] } {
  let next = 0;
  const batches: number[] = [];
  return {
    labels: ['background', 'marker'],
    batches,
    async detectBatch(frames) {
      batches.push(frames.length);
      const out: Detection[][] = [];
      for (const [k, f] of frames.entries()) {
        // Padding repeats the previous source of the batch; it must not count as a frame.
        if (k > 0 && f === frames[k - 1]) {
          out.push([]);
          continue;
        }
        const i = next++;
        if (o.size) assert.deepEqual([f.width, f.height], o.size, `frame ${i} size`);
        if (o.reference)
          assert.equal(hash(uploadedPixels(f)), o.reference[i], `frame ${i} arrives in order and unmodified`);
        await o.onFrame?.(i);
        out.push([{ label: 'marker', classId: 1, score: 0.5 + (i % 10) / 20, box: markerBox(i) }]);
      }
      return out;
    },
  };
}

const MAGENTA = [255, 0, 255];

/** Test drawing, in place: fills each box with magenta (solid, so it survives 4:2:0 chroma subsampling). */
const fillBoxes: DrawDetections = (img, detections) => {
  for (const d of detections)
    for (let y = d.box.y; y < d.box.y + d.box.height; y++)
      for (let x = d.box.x; x < d.box.x + d.box.width; x++) img.data.set([...MAGENTA, 255], (y * img.width + x) * 4);
  return img;
};

function meanColour(
  img: RgbaImage,
  box: { x: number; y: number; width: number; height: number },
  inset: number,
): number[] {
  const sum = [0, 0, 0];
  let n = 0;
  for (let y = box.y + inset; y < box.y + box.height - inset; y++)
    for (let x = box.x + inset; x < box.x + box.width - inset; x++, n++)
      for (let c = 0; c < 3; c++) sum[c]! += img.data[(y * img.width + x) * 4 + c]!;
  return sum.map((s) => s / n);
}
const isMagenta = (rgb: number[]) => rgb[0]! > 200 && rgb[1]! < 60 && rgb[2]! > 200;

function frameOf(path: string, index: number, width: number, height: number): RgbaImage {
  const data = ffmpeg(
    '-i',
    path,
    '-vf',
    `select=eq(n\\,${index})`,
    '-frames:v',
    '1',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgba',
    '-',
  );
  assert.equal(data.length, width * height * 4);
  return { data, width, height };
}

/** ffmpeg and ffprobe processes whose parent is this test process. */
function childTools(): string[] {
  if (process.platform !== 'linux') return [];
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (m && Number(m[2]) === process.pid && /^ff(mpeg|probe)$/.test(m[1]!)) found.push(`${pid} ${m[1]}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

const clip = file('clip.mp4');
const long = file('long.mp4');
before(() => {
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x120:rate=10',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    clip,
  );
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=320x240:rate=30',
    '-t',
    '10',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    long,
  );
});

test('video: frames stream in order and unmodified, come out annotated at the same rate, one JSON line each', async () => {
  const out = file('clip.out.mp4');
  const json = file('clip.jsonl');
  const reference = referenceHashes(clip, 160, 120);
  assert.equal(reference.length, 20);
  const detector = fakeDetector({ reference, size: [160, 120] });
  const progress: number[] = [];
  const r = await runVideo(detector, fillBoxes, {
    input: clip,
    output: out,
    json,
    batch: 3,
    onProgress: (n) => progress.push(n),
  });

  assert.equal(r.frames, 20);
  assert.deepEqual(detector.batches, [3, 3, 3, 3, 3, 3, 3], 'the short last batch is padded to the same size');
  assert.deepEqual(progress, [3, 6, 9, 12, 15, 18, 20]);
  assert.equal(r.info.frameCount, 20);
  for (const ms of Object.values(r.stages)) assert.ok(ms >= 0 && ms <= r.wallMs);

  const p = probe(out);
  const v = videoStream(p);
  assert.deepEqual(
    [v.codec_name, v.pix_fmt, v.width, v.height, v.r_frame_rate, v.nb_read_frames],
    ['h264', 'yuv420p', 160, 120, '10/1', '20'],
  );
  assert.ok(Math.abs(p.duration - 2) < 0.05, `duration ${p.duration}`);
  assert.equal(p.streams.length, 1, 'no audio in, none out');

  const k = 7;
  const annotated = frameOf(out, k, 160, 120);
  const source = frameOf(clip, k, 160, 120);
  assert.ok(isMagenta(meanColour(annotated, markerBox(k), 3)), 'frame 7 carries its own box');
  assert.ok(!isMagenta(meanColour(source, markerBox(k), 3)), 'the box colour is not in the source there');
  assert.ok(!isMagenta(meanColour(annotated, markerBox(k + 1), 3)), 'frame 7 does not carry frame 8 box');

  const lines = readFileSync(json, 'utf8').split('\n');
  assert.equal(lines.pop(), '', 'ends with a newline');
  assert.equal(lines.length, 20);
  lines.forEach((line, i) => {
    const o = JSON.parse(line) as { frame: number; timeMs: number; detections: Detection[] };
    assert.equal(o.frame, i);
    assert.equal(o.timeMs, i * 100);
    assert.deepEqual(
      o.detections.map((d) => [d.label, d.classId, d.box]),
      [['marker', 1, markerBox(i)]],
    );
  });
  assert.ok(!existsSync(partialPath(out)) && !existsSync(partialPath(json)), 'partial files renamed into place');
});

test('video: odd sizes are padded to even for H.264, frames reach the detector at their own size, pixel aspect kept', async () => {
  const odd = file('odd.mkv');
  // testsrc2 rounds its size down to even; scaling afterwards (in RGB, lossless ffv1) keeps 161x121.
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x120:rate=10,scale=161:121,format=bgr0,setsar=8/9',
    '-t',
    '1',
    '-c:v',
    'ffv1',
    odd,
  );
  const out = file('odd.out.mp4');
  const r = await runVideo(fakeDetector({ reference: referenceHashes(odd, 161, 121), size: [161, 121] }), fillBoxes, {
    input: odd,
    output: out,
  });
  assert.equal(r.frames, 10);
  const v = videoStream(probe(out));
  assert.deepEqual(
    [v.width, v.height, v.nb_read_frames, v.r_frame_rate, v.sample_aspect_ratio],
    [162, 122, '10', '10/1', '8:9'],
  );
  assert.ok(isMagenta(meanColour(frameOf(out, 3, 162, 122), markerBox(3), 3)));
});

test('video: the audio track is kept (copied) and the duration preserved', async () => {
  const withAudio = file('audio.mp4');
  ffmpeg(
    '-f',
    'lavfi',
    '-i',
    'testsrc2=size=160x120:rate=10',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440',
    '-t',
    '2',
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-pix_fmt',
    'yuv420p',
    '-c:a',
    'aac',
    withAudio,
  );
  const out = file('audio.out.mp4');
  // Drawing into a copy (as image/draw.ts does) instead of in place.
  const drawCopy: DrawDetections = (img, detections, labels) =>
    fillBoxes({ ...img, data: new Uint8Array(img.data) }, detections, labels);
  await runVideo(fakeDetector({ reference: referenceHashes(withAudio, 160, 120) }), drawCopy, {
    input: withAudio,
    output: out,
    batch: 4,
  });
  assert.ok(isMagenta(meanColour(frameOf(out, 9, 160, 120), markerBox(9), 3)));
  const p = probe(out);
  const audio = p.streams.filter((s) => s.codec_type === 'audio');
  assert.deepEqual(
    audio.map((s) => s.codec_name),
    ['aac'],
  );
  assert.equal(
    audio[0]!.nb_read_frames,
    probe(withAudio).streams.find((s) => s.codec_type === 'audio')!.nb_read_frames,
    'same audio packets',
  );
  assert.equal(videoStream(p).nb_read_frames, '20');
  assert.ok(Math.abs(p.duration - 2) < 0.1, `duration ${p.duration}`);
});

test('video: a rotated video is detected and written upright', async () => {
  const rotated = file('rotated.mp4');
  ffmpeg('-i', clip, '-c', 'copy', '-metadata:s:v:0', 'rotate=90', rotated);
  const out = file('rotated.out.mp4');
  const r = await runVideo(
    fakeDetector({ reference: referenceHashes(rotated, 120, 160), size: [120, 160] }),
    fillBoxes,
    { input: rotated, output: out },
  );
  assert.deepEqual([r.info.width, r.info.height, r.frames], [120, 160, 20]);
  const v = videoStream(probe(out));
  assert.deepEqual([v.width, v.height], [120, 160]);
});

test('video: memory stays flat while a slow detector holds the decoder back (300 frames, 320x240)', async () => {
  const rss: number[] = [];
  const detector = fakeDetector({
    onFrame: async () => {
      rss.push(process.memoryUsage().rss);
      // Slower than the decoder, so without backpressure its frames would pile up (92 MB in all).
      await new Promise((r) => setTimeout(r, 2));
    },
  });
  const r = await runVideo(detector, fillBoxes, {
    input: long,
    output: file('long.out.mp4'),
    json: file('long.jsonl'),
    batch: 2,
  });
  assert.equal(r.frames, 300);
  const warm = rss[30]!;
  const growth = Math.max(...rss.slice(30)) - warm;
  assert.ok(growth < 24 * 2 ** 20, `RSS grew ${(growth / 2 ** 20).toFixed(1)} MB after frame 30`);
  assert.equal(videoStream(probe(file('long.out.mp4'))).nb_read_frames, '300');
});

test('video: missing ffmpeg or ffprobe is a ToolMissingError with an install hint', async () => {
  const empty = file('empty-bin');
  mkdirSync(empty);
  assert.throws(
    () => locateFfmpeg(empty),
    (e: unknown) =>
      e instanceof ToolMissingError &&
      /ffmpeg was not found on PATH/.test(e.message) &&
      /apt-get install ffmpeg/.test(e.hint ?? ''),
  );
  const onlyFfmpeg = file('only-ffmpeg');
  mkdirSync(onlyFfmpeg);
  symlinkSync(locateFfmpeg().ffmpeg, join(onlyFfmpeg, 'ffmpeg'));
  assert.throws(
    () => locateFfmpeg(onlyFfmpeg),
    (e: unknown) => e instanceof ToolMissingError && /^ffprobe was not found/.test(e.message),
  );

  const savedPath = process.env.PATH;
  process.env.PATH = empty;
  try {
    await assert.rejects(
      runVideo(fakeDetector(), fillBoxes, { input: clip, output: file('never.mp4') }),
      ToolMissingError,
    );
  } finally {
    process.env.PATH = savedPath;
  }
});

test("video: a corrupt or truncated input is a VideoError naming the file, with ffmpeg's words", async () => {
  const garbage = file('garbage.mp4');
  writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
  const truncated = file('truncated.mp4');
  writeFileSync(truncated, readFileSync(clip).subarray(0, 2000));
  for (const input of [garbage, truncated]) {
    const out = file('corrupt.out.mp4');
    const err = await runVideo(fakeDetector(), fillBoxes, { input, output: out, json: file('corrupt.jsonl') }).then(
      () => assert.fail('expected a VideoError'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof VideoError, String(err));
    assert.equal(err.code, 'VIDEO');
    assert.equal(err.file, input);
    assert.ok(err.message.startsWith(`${input}: `), err.message);
    assert.ok(
      err.toolOutput.length > 0 && err.message.includes(err.toolOutput.at(-1)!),
      "ends with ffmpeg's last lines",
    );
    for (const f of [out, partialPath(out), partialPath(file('corrupt.jsonl'))])
      assert.ok(!existsSync(f), `${f} not created`);
  }
  assert.deepEqual(childTools(), []);
});

test('video: a decoder failing midway is a VideoError naming the input; the frames done stay in the partial files', async () => {
  // Stands in for ffmpeg: decoding stops after two and a half frames with an error, encoding is real.
  const bin = file('failing-bin');
  mkdirSync(bin);
  const script = join(bin, 'ffmpeg');
  const real = locateFfmpeg().ffmpeg;
  writeFileSync(
    script,
    `#!/bin/sh\ncase "$*" in *pipe:1*) "${real}" "$@" | head -c ${Math.round(2.5 * 160 * 120 * 4)}; echo "decode_slice: damaged macroblock" >&2; exit 1;; esac\nexec "${real}" "$@"\n`,
    { mode: 0o755 },
  );
  const out = file('failing.mp4');
  const json = file('failing.jsonl');
  const err = await runVideo(fakeDetector(), fillBoxes, {
    input: clip,
    output: out,
    json,
    tools: { ...locateFfmpeg(), ffmpeg: script },
  }).then(
    () => assert.fail('expected a VideoError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VideoError && err.file === clip, String(err));
  assert.match(err.message, /exited with code 1[^]*damaged macroblock/);
  assert.equal(videoStream(probe(partialPath(out))).nb_read_frames, '2');
  assert.equal(readFileSync(partialPath(json), 'utf8').trim().split('\n').length, 2);
  assert.ok(!existsSync(out) && !existsSync(json));
  assert.deepEqual(childTools(), []);
});

test('video: an encoder failure is a VideoError naming the output, and stops the decoder', async () => {
  const out = file('no-such-folder/out.mp4');
  const err = await runVideo(fakeDetector(), fillBoxes, { input: long, output: out }).then(
    () => assert.fail('expected a VideoError'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof VideoError && err.file === out, String(err));
  assert.match(err.message, /No such file or directory/);
  assert.deepEqual(childTools(), []);
});

test('video: aborting stops both ffmpeg processes and leaves valid partial outputs', async () => {
  const controller = new AbortController();
  const out = file('aborted.mp4');
  const json = file('aborted.jsonl');
  const detector = fakeDetector({ onFrame: (i) => void (i === 40 && controller.abort()) });
  await assert.rejects(runVideo(detector, fillBoxes, { input: long, output: out, json, signal: controller.signal }), {
    name: 'AbortError',
  });
  assert.deepEqual(childTools(), [], 'no ffmpeg left running');
  assert.ok(!existsSync(out) && !existsSync(json), 'final names only for complete outputs');
  const frames = Number(videoStream(probe(partialPath(out))).nb_read_frames);
  assert.equal(frames, 40, 'the partial video holds the frames written before the abort');
  const lines = readFileSync(partialPath(json), 'utf8').trim().split('\n');
  assert.equal(lines.length, 40);
  lines.forEach((line, i) => assert.equal((JSON.parse(line) as { frame: number }).frame, i));
});

// The command end to end, in a process of its own, with a small random-weight model on the real detector.
const cliEntry = fileURLToPath(new URL('./support/video_cli.js', import.meta.url));
const modelDir = file('model');

before(async () => {
  const model = syntheticModel();
  const bytes = new Uint8Array(model.weights.buffer, model.weights.byteOffset, model.weights.byteLength);
  model.json.weights.sha256 = createHash('sha256').update(bytes).digest('hex');
  await writeModel(modelDir, model);
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the command; `onStderr` sees stderr as it arrives and may signal the process. */
function cli(
  args: string[],
  o: { env?: NodeJS.ProcessEnv; onStderr?: (text: string, pid: number) => void } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliEntry, ...args], {
      env: o.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c;
      o.onStderr?.(stderr, child.pid!);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** ffmpeg processes anywhere whose command line mentions `text` (the command's children are not ours). */
function ffmpegsMentioning(text: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/ffmpeg$/.test(cmd[0]!) && cmd.some((a) => a.includes(text))) found.push(`${pid} ${cmd.join(' ')}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

test('mobilessd video: --help, usage errors (exit 2), and a missing ffmpeg (exit 1) before any model is loaded', async () => {
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^mobilessd video: .*\n\nusage: mobilessd video IN -o OUT.mp4/);
  for (const [args, message] of [
    [[clip], /missing -o\/--output/],
    [[clip, '-o', file('x.mp4'), '--batch', '0'], /--batch must be an integer from 1 to 64/],
    [[clip, '-o', file('x.mp4'), '--bogus'], /unknown option --bogus/],
    [['-o', file('x.mp4')], /expected one input video, got 0/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  const empty = file('cli-empty-bin');
  mkdirSync(empty, { recursive: true });
  const missing = await cli([clip, '-o', file('x.mp4'), '--model', join(dir, 'no-such-model')], {
    env: { ...process.env, PATH: empty },
  });
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /^mobilessd: error \[TOOL_MISSING\]: ffmpeg was not found on PATH\n {2}hint: install ffmpeg/,
  );
});

test('mobilessd video: annotated video, JSON lines and the timing table from a real detector', async () => {
  const out = file('cli.out.mp4');
  const json = file('cli.jsonl');
  const r = await cli([
    clip,
    '-o',
    out,
    '--json',
    json,
    '--model',
    modelDir,
    '--batch',
    '2',
    '--timing',
    '--score',
    '0.3',
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stdout,
    new RegExp(
      `^${out}: 20 frames, 160x120 at 10 fps, processed in [\\d.]+ s \\([\\d.]+ frames/s\\)\n${json}: 20 JSON lines\n`,
    ),
  );
  for (const stage of ['decode', 'detect', 'draw', 'encode', 'total'])
    assert.match(r.stdout, new RegExp(`^${stage}\\b.*\\d`, 'm'));
  assert.equal(videoStream(probe(out)).nb_read_frames, '20');
  const lines = readFileSync(json, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { frame: number; detections: Detection[] });
  assert.deepEqual(
    lines.map((l) => l.frame),
    [...Array(20).keys()],
  );
  for (const d of lines.flatMap((l) => l.detections))
    assert.ok(d.score >= 0.3 && /^class\d$/.test(d.label), JSON.stringify(d));
});

test(
  'mobilessd video: Ctrl-C exits 130, finishes the partial video and leaves no ffmpeg running',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async () => {
    const out = file('interrupted.mp4');
    let doneAtSignal = 0;
    const r = await cli([long, '-o', out, '--model', modelDir], {
      // Without a terminal, progress prints a line every 10% or so: interrupt after the first.
      onStderr: (text, pid) => {
        const m = /video: (\d+)\/300/.exec(text);
        if (!doneAtSignal && m) {
          doneAtSignal = Number(m[1]);
          process.kill(pid, 'SIGINT');
        }
      },
    });
    assert.ok(doneAtSignal > 0, `progress never showed: ${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, new RegExp(`mobilessd: interrupted; the frames done so far are in ${partialPath(out)}`));
    assert.deepEqual(ffmpegsMentioning(partialPath(out)), []);
    assert.ok(!existsSync(out));
    const frames = Number(videoStream(probe(partialPath(out))).nb_read_frames);
    assert.ok(
      frames >= doneAtSignal && frames < 300,
      `${frames} frames in the partial video, ${doneAtSignal} done at Ctrl-C`,
    );
  },
);
