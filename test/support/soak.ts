/**
 * Soak runs: many frames through a detector, with process and GPU memory sampled at a fixed
 * interval after a forced garbage collection, and a verdict on whether anything grows once the
 * detector has warmed up (its frame textures grown to the largest frame, its plans compiled).
 * Used by scripts/soak.ts (long runs) and test/soak.test.ts (a short one).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { LiveResources } from '../../src/gpu/context.ts';
import { decodeImage } from '../../src/image/decode.ts';
import type { RgbaImage } from '../../src/core/image.ts';

export interface SoakSample {
  frame: number;
  /** Wall time since the start, ms. */
  ms: number;
  rss: number;
  /** V8 heap in use plus ArrayBuffer memory: what JavaScript holds. */
  js: number;
  gpu: LiveResources;
  /** The detector's own count: packed weights plus activation arenas. */
  detectorBytes: number;
}

export interface SoakTarget {
  /** Runs one frame (index i) through the detector. */
  detect(i: number): Promise<unknown>;
  /** The GPU side now. */
  gpu(): Promise<{ live: LiveResources; detectorBytes: number }>;
}

/** `global.gc`, enabled at run time so the commands need no node flag. */
export function collector(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Runs `frames` frames, sampling memory every `every` frames (and before the first). */
export async function runSoak(
  target: SoakTarget,
  frames: number,
  every: number,
  onSample?: (s: SoakSample) => void,
): Promise<SoakSample[]> {
  const gc = collector();
  const samples: SoakSample[] = [];
  const t0 = performance.now();
  const sample = async (frame: number) => {
    gc();
    const m = process.memoryUsage();
    const g = await target.gpu();
    const s: SoakSample = {
      frame,
      ms: performance.now() - t0,
      rss: m.rss,
      js: m.heapUsed + m.arrayBuffers,
      gpu: g.live,
      detectorBytes: g.detectorBytes,
    };
    samples.push(s);
    onSample?.(s);
  };
  await sample(0);
  for (let i = 0; i < frames; i++) {
    await target.detect(i);
    if ((i + 1) % every === 0 || i + 1 === frames) await sample(i + 1);
  }
  return samples;
}

export interface SoakBounds {
  /** Samples before this frame are warm-up. */
  warmupFrames: number;
  /** Largest growth allowed from the first sample after warm-up to any later one, bytes. */
  rss: number;
  js: number;
}

/**
 * Flat means: after warm-up, the GPU holds exactly the same buffers and textures at every sample
 * (a per-frame GPU leak of any size shows as a count), and RSS and JavaScript memory grow by less
 * than their bounds (a per-frame leak of N bytes over F frames grows by N x F).
 */
export function soakVerdict(samples: readonly SoakSample[], bounds: SoakBounds): { flat: boolean; problems: string[] } {
  const warm = samples.filter((s) => s.frame >= bounds.warmupFrames);
  const problems: string[] = [];
  if (warm.length < 2) return { flat: false, problems: ['too few samples after warm-up to judge'] };
  const base = warm[0]!;
  for (const s of warm.slice(1)) {
    const g = s.gpu,
      b = base.gpu;
    if (g.buffers !== b.buffers || g.textures !== b.textures || g.bytes !== b.bytes) {
      problems.push(
        `frame ${s.frame}: GPU holds ${g.buffers} buffers, ${g.textures} textures, ${g.bytes} bytes; at frame ${base.frame} ${b.buffers}, ${b.textures}, ${b.bytes}`,
      );
    }
    if (s.detectorBytes !== base.detectorBytes)
      problems.push(`frame ${s.frame}: detector memory ${s.detectorBytes} bytes, was ${base.detectorBytes}`);
  }
  const peak = (k: 'rss' | 'js') => Math.max(...warm.map((s) => s[k])) - base[k];
  if (peak('rss') > bounds.rss)
    problems.push(`RSS grew by ${mib(peak('rss'))} after warm-up (bound ${mib(bounds.rss)})`);
  if (peak('js') > bounds.js)
    problems.push(`JavaScript memory grew by ${mib(peak('js'))} after warm-up (bound ${mib(bounds.js)})`);
  return { flat: problems.length === 0, problems };
}

export function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

export function formatSample(s: SoakSample): string {
  const fps = s.frame && s.ms ? ((s.frame * 1000) / s.ms).toFixed(2) : '-';
  return `frame ${String(s.frame).padStart(6)}  ${(s.ms / 1000).toFixed(0).padStart(5)} s  ${fps.padStart(6)} frames/s  RSS ${mib(s.rss).padStart(10)}  JS ${mib(s.js).padStart(9)}  GPU ${s.gpu.buffers} buffers ${s.gpu.textures} textures ${mib(s.gpu.bytes)} (detector ${mib(s.detectorBytes)})`;
}

/**
 * Frames of many sizes from one real photo (nearest-neighbour scaled): odd sizes, a 1x1 frame,
 * larger-than-source frames, so the detector's frame textures are exercised, not just reused.
 */
export function framesOfManySizes(root: string): RgbaImage[] {
  const dog = decodeImage(readFileSync(join(root, 'samples/dog.jpg')), 'dog.jpg');
  const sizes: [number, number][] = [
    [768, 576],
    [300, 300],
    [97, 61],
    [1280, 720],
    [1, 1],
    [641, 479],
    [1920, 1080],
    [64, 400],
  ];
  return sizes.map(([w, h]) => scaleNearest(dog, w, h));
}

function scaleNearest(src: RgbaImage, width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    const sy = Math.min(src.height - 1, Math.floor((y * src.height) / height));
    for (let x = 0; x < width; x++) {
      const sx = Math.min(src.width - 1, Math.floor((x * src.width) / width));
      data.set(src.data.subarray((sy * src.width + sx) * 4, (sy * src.width + sx) * 4 + 4), (y * width + x) * 4);
    }
  }
  return { data, width, height };
}
