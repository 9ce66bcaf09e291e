/**
 * A short soak: 300 frames of eight sizes (1x1 to 1920x1080) through the Node API, with memory
 * sampled every 50 frames after a forced GC. After a 100-frame warm-up the GPU must hold exactly
 * the same buffers and textures, and RSS and JavaScript memory stay within small bounds. The model
 * is a tiny random SSD (every stage of a real detection, at a fraction of its cost); the long runs
 * (`npm run soak`) use the real models. The checks are proved to catch leaks: a per-frame GPU
 * buffer that is never destroyed, and per-frame pixel copies kept alive, both fail the verdict.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { weightsInfo } from '../src/graph/model_format.ts';
import { load, type ObjectDetector, type RgbaImage } from '../src/index.ts';
import { writeModel } from '../src/node/model_files.ts';
import { repoRoot } from './support/goldens.ts';
import { framesOfManySizes, runSoak, soakVerdict, type SoakTarget } from './support/soak.ts';
import { syntheticModel } from './support/synthetic_model.ts';

const BOUNDS = { warmupFrames: 100, rss: 48 * 2 ** 20, js: 8 * 2 ** 20 };
const dir = mkdtempSync(join(tmpdir(), 'mobilessd-soak-'));
let det: ObjectDetector;
let frames: RgbaImage[];

before(async () => {
  const m = syntheticModel();
  m.json.weights = await weightsInfo(m.weights);
  await writeModel(dir, m);
  det = await load(dir);
  frames = framesOfManySizes(repoRoot());
});
after(() => {
  det?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function target(extra: (i: number) => void = () => undefined): SoakTarget {
  return {
    detect: async (i) => {
      await det.detect(frames[i % frames.length]!);
      extra(i);
    },
    gpu: async () => {
      const m = await det.memory();
      return { live: det.context.liveResources, detectorBytes: m.weightBytes + m.activationBytes };
    },
  };
}

test(
  '300 frames of changing sizes: GPU resources constant after warm-up, RSS and JS memory flat',
  { timeout: 120_000 },
  async () => {
    const samples = await runSoak(target(), 300, 50);
    const verdict = soakVerdict(samples, BOUNDS);
    assert.ok(verdict.flat, verdict.problems.join('\n'));
    // The frame texture grew to the largest frame during warm-up and stayed there.
    assert.ok(samples.at(-1)!.gpu.bytes >= 1920 * 1080 * 4);
  },
);

test('the verdict catches a per-frame GPU buffer that is never destroyed', { timeout: 120_000 }, async () => {
  const leaked: GPUBuffer[] = [];
  const samples = await runSoak(
    target(() => leaked.push(det.context.device.createBuffer({ size: 4096, usage: GPUBufferUsage.STORAGE }))),
    200,
    50,
  );
  const verdict = soakVerdict(samples, BOUNDS);
  assert.ok(!verdict.flat);
  assert.match(verdict.problems.join('\n'), /frame 150: GPU holds \d+ buffers/);
  for (const b of leaked) b.destroy();
});

test('the verdict catches per-frame pixel copies kept alive (64 KB a frame)', { timeout: 120_000 }, async () => {
  const kept: Uint8Array[] = [];
  const keep = (i: number) => {
    const copy = new Uint8Array(65536);
    copy.set(frames[i % frames.length]!.data.subarray(0, 65536));
    kept.push(copy);
  };
  const samples = await runSoak(target(keep), 300, 50);
  const verdict = soakVerdict(samples, BOUNDS);
  assert.ok(!verdict.flat);
  // 200 frames after warm-up x 64 KiB.
  assert.match(verdict.problems.join('\n'), /JavaScript memory grew by 12\.\d MiB/);
  kept.length = 0;
});

test(
  'cycling through many batch sizes keeps the four most recent compiled plans, not one per size',
  { timeout: 120_000 },
  async () => {
    const small = frames[2]!;
    const cycle = async () => {
      for (let batch = 1; batch <= 8; batch++) await det.detectBatch(Array.from({ length: batch }, () => small));
      return det.context.liveResources;
    };
    const once = await cycle();
    // One frame texture per batch slot: the plans for 5, 6, 7 and 8 images.
    assert.equal(once.textures, 5 + 6 + 7 + 8);
    assert.deepEqual(await cycle(), once);
  },
);
