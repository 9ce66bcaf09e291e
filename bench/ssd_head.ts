/**
 * SSD head on the GPU: time per frame (all head dispatches, one pass) for the COCO layout
 * (1917 anchors x 91 classes, per-class NMS) and the face layout (5118 x 3, class-agnostic), at
 * an application threshold and at the evaluation one. Median of --reps frames (default 20),
 * timestamp queries when the adapter has them, else submit + onSubmittedWorkDone wall time;
 * plus the median time of each pass, timed alone. Where the device has subgroups, the plain and the subgroup score
 * pass (SsdHead's `subgroups`) run side by side, frames interleaved, with the ratio of their medians.
 *
 *   node .build/bench/ssd_head.js [--reps 20] [--candidate-cap 1024] [--driver lavapipe|swiftshader]
 */
import type { GpuContext } from '../src/gpu/context.ts';
import { median, timeDispatches, wallTime } from '../src/gpu/timing.ts';
import { encodeDispatches, type Dispatch } from '../src/gpu/dispatch.ts';
import { SsdHead, headUsesSubgroups, parseCandidateCounts, parseDetections } from '../src/ssd/head.ts';
import { benchGpu, flag, machine } from './lib/setup.ts';

const reps = Number(flag('reps', '20'));
const candidateCap = Number(flag('candidate-cap', '1024'));

/** Deterministic uniform floats in [0, 1). */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Mostly confident background, 1% of the logits near or above 0: a few hundred objects' worth. */
function inputs(a: number, c: number, seed: number) {
  const r = uniform(seed);
  const anchors = Float32Array.from({ length: a * 4 }, (_, i) => (i % 4 < 2 ? r() : 0.05 + 0.5 * r()));
  const boxes = Float32Array.from({ length: a * 4 }, () => 2 * r() - 1);
  const logits = Float32Array.from({ length: a * c }, () => (r() < 0.01 ? -3 + 7 * r() : -12 + 9 * r()));
  return { anchors, boxes, logits };
}

async function frameMs(ctx: GpuContext, list: readonly Dispatch[]): Promise<number> {
  if (!ctx.hasTimestamps) return wallTime(ctx, list, 1);
  const querySet = ctx.device.createQuerySet({ type: 'timestamp', count: 2 });
  const resolve = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const enc = ctx.device.createCommandEncoder();
  const pass = enc.beginComputePass({
    timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 },
  });
  encodeDispatches(pass, list);
  pass.end();
  enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
  ctx.queue.submit([enc.finish()]);
  const t = new BigInt64Array(await ctx.readBuffer(resolve, 0, 16));
  querySet.destroy();
  resolve.destroy();
  return Number(t[1]! - t[0]!) / 1e6;
}

const ctx = await benchGpu();
console.log(`machine: ${machine(ctx)}; timestamps: ${ctx.hasTimestamps}; reps: ${reps}; candidateCap: ${candidateCap}`);
const sizes = ctx.subgroups ? `${ctx.subgroups.min}..${ctx.subgroups.max}` : 'none';
const paths = ctx.subgroups && ctx.subgroups.max <= 64 ? [false, true] : [false];
console.log(`subgroup sizes: ${sizes}; default score pass: ${headUsesSubgroups(ctx) ? 'subgroups' : 'plain'}`);
const configs = [
  { name: 'COCO 1917x91 per-class', a: 1917, c: 91, perClassNms: true, thresholds: [0.5, 0.01] },
  { name: 'face 5118x3 agnostic', a: 5118, c: 3, perClassNms: false, thresholds: [0.5, 0.01] },
];
for (const cfg of configs) {
  const { anchors, boxes, logits } = inputs(cfg.a, cfg.c, cfg.a + cfg.c);
  const spec = { scales: { y: 10, x: 10, h: 5, w: 5 }, scoreFunction: 'sigmoid' as const, backgroundClass: 0 };
  const bBoxes = ctx.createBuffer('boxes', boxes.byteLength, GPUBufferUsage.STORAGE, boxes);
  const bLogits = ctx.createBuffer('logits', logits.byteLength, GPUBufferUsage.STORAGE, logits);
  const runs = await Promise.all(
    paths.map(async (subgroups) => {
      const head = await SsdHead.create(ctx, {
        batch: 1,
        numAnchors: cfg.a,
        numClasses: cfg.c,
        anchors,
        spec,
        maxDetectionsCap: 100,
        candidateCap,
        subgroups,
      });
      return {
        name: subgroups ? 'subgroups' : 'plain',
        head,
        list: head.dispatches({ buffer: bBoxes }, { buffer: bLogits }),
      };
    }),
  );
  for (const scoreThreshold of cfg.thresholds) {
    const o = { scoreThreshold, iouThreshold: 0.5, maxDetections: 100, perClassNms: cfg.perClassNms };
    for (const r of runs) {
      r.head.setOptions(o);
      await wallTime(ctx, r.list, 2);
    }
    // Frames alternate between the passes, so load on a shared machine falls on both alike.
    const ms = runs.map((): number[] => []);
    for (let i = 0; i < reps; i++) for (const [k, r] of runs.entries()) ms[k]!.push(await frameMs(ctx, r.list));
    const outs: Uint32Array[] = [];
    for (const [k, r] of runs.entries()) {
      const perPass = new Map<string, number[]>();
      for (let i = 0; i < Math.min(reps, 5); i++)
        for (const t of await timeDispatches(ctx, r.list))
          perPass.set(t.label, [...(perPass.get(t.label) ?? []), t.ms]);
      ctx.throwUncaptured(cfg.name);
      const out = await ctx.readBuffer(r.head.output, 0, r.head.outputBytes);
      outs.push(new Uint32Array(out));
      const { candidates, considered } = parseCandidateCounts(out, 1, 100)[0]!;
      const kept = parseDetections(out, 1, 100)[0]!.length;
      const m = ms[k]!;
      console.log(
        `\n${cfg.name}, threshold ${scoreThreshold}, ${r.name}: ${candidates} candidates, ${considered} into NMS, ${kept} kept`,
      );
      console.log(
        `  frame: median ${median(m).toFixed(3)} ms (min ${Math.min(...m).toFixed(3)}, max ${Math.max(...m).toFixed(3)}), ${r.list.length} dispatches`,
      );
      console.log(`  passes alone: ${[...perPass].map(([label, t]) => `${label} ${median(t).toFixed(3)}`).join(', ')}`);
    }
    if (runs.length === 2) {
      const same = outs[0]!.every((w, i) => w === outs[1]![i]);
      console.log(
        `  subgroups / plain frame median: ${(median(ms[1]!) / median(ms[0]!)).toFixed(2)}x; outputs ${same ? 'identical' : 'DIFFER'}`,
      );
    }
  }
  for (const r of runs) r.head.destroy();
  bBoxes.destroy();
  bLogits.destroy();
}
ctx.destroy();
process.exit(0);
