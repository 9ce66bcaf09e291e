/**
 * The long soak run (the tests run 300 frames in test/soak.test.ts). Built to .build/scripts/soak.js:
 *   npm run soak -- [--frames 10000] [--model oid-v4|face|synthetic|PATH] [--input-size N] [--video FILE] [--every 500] [--warmup N] [--json FILE]
 * Runs frames through one detector (a real photo at eight sizes in turn, or a video's frames,
 * looped), prints process RSS, JavaScript memory and GPU memory every --every frames, and ends
 * with a verdict: FLAT, or GROWING with what grew (exit code 1). `synthetic` is a tiny random
 * model that exercises the whole detector (frame upload, preprocessing, network, SSD head,
 * readback) at a fraction of a real model's cost.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { weightsInfo } from '../src/graph/model_format.ts';
import { load } from '../src/index.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { packageRoot } from '../src/node/paths.ts';
import { writeModel } from '../src/node/model_files.ts';
import { locateFfmpeg, probeVideo } from '../src/video/ffmpeg.ts';
import { FrameReader, type VideoFrame } from '../src/video/frame_reader.ts';
import { formatSample, framesOfManySizes, mib, runSoak, soakVerdict } from '../test/support/soak.ts';
import { syntheticModel } from '../test/support/synthetic_model.ts';

const opts = parseArgs(process.argv.slice(2));
const root = packageRoot()!;
let modelPath = opts.model;
let tmp: string | undefined;
if (opts.model === 'synthetic') {
  tmp = mkdtempSync(join(tmpdir(), 'mobilessd-soak-'));
  const m = syntheticModel();
  m.json.weights = await weightsInfo(m.weights);
  await writeModel(tmp, m);
  modelPath = tmp;
}
// A smaller network input (the resolution multiplier) runs the same detector machinery more frames per minute.
const det = await load(modelPath, opts.inputSize ? { inputSize: opts.inputSize } : {});
const source = opts.video ? await videoFrames(opts.video) : photoFrames();
console.log(
  `soak: ${opts.frames} frames of ${opts.video ?? 'a photo at eight sizes'} through ${opts.model}${opts.inputSize ? ` at ${opts.inputSize}x${opts.inputSize}` : ''} on ${det.adapter.driver}: ${det.adapter.description}`,
);
const samples = await runSoak(
  {
    detect: async (i) => {
      const frame = await source.next(i);
      await det.detect(frame);
      source.done(frame);
    },
    gpu: async () => {
      const m = await det.memory();
      return { live: det.context.liveResources, detectorBytes: m.weightBytes + m.activationBytes };
    },
  },
  opts.frames,
  opts.every,
  (s) => console.log(formatSample(s)),
);
await source.close();
det.dispose();
if (tmp) rmSync(tmp, { recursive: true, force: true });

const bounds = { warmupFrames: opts.warmup, rss: 64 * 2 ** 20, js: 16 * 2 ** 20 };
const verdict = soakVerdict(samples, bounds);
const first = samples.find((s) => s.frame >= opts.warmup) ?? samples[0]!;
const last = samples.at(-1)!;
console.log(
  `\nafter warm-up (frame ${first.frame} -> ${last.frame}): RSS ${mib(first.rss)} -> ${mib(last.rss)}, JS ${mib(first.js)} -> ${mib(last.js)}, GPU ${first.gpu.buffers} -> ${last.gpu.buffers} buffers, ${mib(first.gpu.bytes)} -> ${mib(last.gpu.bytes)}`,
);
console.log(
  verdict.flat
    ? `verdict: FLAT (bounds: RSS +${mib(bounds.rss)}, JS +${mib(bounds.js)}, GPU resources unchanged)`
    : `verdict: GROWING\n  ${verdict.problems.join('\n  ')}`,
);
if (opts.json)
  writeFileSync(
    opts.json,
    `${JSON.stringify({ model: opts.model, inputSize: opts.inputSize, video: opts.video, adapter: det.adapter.description, frames: opts.frames, bounds, verdict, samples }, null, 1)}\n`,
  );
process.exit(verdict.flat ? 0 : 1);

interface FrameSourceLoop {
  next(i: number): Promise<RgbaImage>;
  done(frame: RgbaImage): void;
  close(): Promise<void>;
}

function photoFrames(): FrameSourceLoop {
  const frames = framesOfManySizes(root);
  return { next: async (i) => frames[i % frames.length]!, done: () => undefined, close: async () => undefined };
}

/** The video's frames, from the start again when it ends; each buffer goes back to the reader after use. */
async function videoFrames(file: string): Promise<FrameSourceLoop> {
  const tools = locateFfmpeg();
  const info = await probeVideo(tools, file);
  let reader = new FrameReader(tools, file, info);
  let frames = reader.frames();
  return {
    async next() {
      let r = await frames.next();
      if (r.done) {
        await reader.close();
        reader = new FrameReader(tools, file, info);
        frames = reader.frames();
        r = await frames.next();
        if (r.done) throw new Error(`${file}: no frames`);
      }
      return r.value;
    },
    done: (frame) => reader.release(frame as VideoFrame),
    close: () => reader.close(),
  };
}

function parseArgs(argv: string[]): {
  frames: number;
  model: string;
  inputSize: number | undefined;
  video: string | undefined;
  every: number;
  warmup: number;
  json: string | undefined;
} {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  const int = (name: string, def: number) => {
    const n = Number(value(name) ?? def);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${value(name)}`);
    return n;
  };
  const frames = int('--frames', 10000);
  const inputSize = value('--input-size') === undefined ? undefined : int('--input-size', 0);
  return {
    frames,
    model: value('--model') ?? 'oid-v4',
    inputSize,
    video: value('--video'),
    every: int('--every', 500),
    warmup: int('--warmup', Math.min(500, Math.ceil(frames / 5))),
    json: value('--json'),
  };
}
