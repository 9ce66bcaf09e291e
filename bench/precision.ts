/**
 * Integer, float16 and float32 execution of a quantized model, side by side on one adapter: the network alone
 * (wall time of its dispatches in one submit, and the sum of per-dispatch kernel times), detect()
 * end to end on samples/dog.jpg, the bytes the network's kernels move per frame, weights and
 * activation memory. Rows: f32, f16 (where the adapter has shader-f16), and for a quantized model int8 with the
 * adapter's packed 4x8-bit dot products (when it has them) and int8 with plain integers.
 *
 *   npm run bench:precision -- [--model PATH] [--reps 10] [--driver lavapipe|swiftshader|hardware]
 *
 * Writes results/precision_<model>_<driver>.md.
 */
import { join } from 'node:path';
import { load, type ObjectDetector } from '../src/index.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import type { PackedWeights } from '../src/graph/weights.ts';

import { integerLowering } from '../src/graph/integer.ts';
import { median, timeDispatches, wallTime } from '../src/gpu/timing.ts';
import { readImageFile } from '../src/image/decode.ts';
import { supportsPackedDot } from '../src/kernels/qcommon.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { benchGpu, flag, machine, writeResult } from './lib/setup.ts';

const root = process.cwd();
const modelPath = flag('model') ?? sharedPath(root, 'models/coco-ssd-mobilenet-v1-quant/detect.tflite');
const reps = Number(flag('reps', '10'));
const ctx = await benchGpu();
const model = await resolveModel(modelPath);
const packedDot = await supportsPackedDot(ctx);
const image = await readImageFile(join(root, 'samples/dog.jpg'));

interface Row {
  mode: string;
  networkMs: number;
  kernelMs: number;
  detectMs: number;
  detectRatio: number;
  dispatches: number;
  bytesMoved: number;
  weightBytes: number;
  activationBytes: number;
}

// A float model (oid-v4) has no integer rows: only f32 against f16.
const quantized = model.json.quantization !== undefined;
const modes = [
  { mode: 'f32', precision: 'f32' as const },
  ...(ctx.hasF16 ? [{ mode: 'f16', precision: 'f16' as const }] : []),
  ...(quantized && packedDot ? [{ mode: 'int8 (dot4)', precision: 'int8' as const, packedDot: true }] : []),
  ...(quantized ? [{ mode: 'int8 (plain integers)', precision: 'int8' as const, packedDot: false }] : []),
];
// Every mode is built first, then timed in turn within each repetition (interleaved), so load elsewhere on the
// machine hits all modes alike and the ratios to f32 hold even when the absolute times drift.
interface Run {
  m: (typeof modes)[number];
  weights: PackedWeights;
  ex: GraphExecutor;
  det: ObjectDetector | undefined;
  network: number[];
  kernels: number[];
  detect: number[];
}
const runs: Run[] = [];
for (const m of modes) {
  const integer = m.precision === 'int8' ? integerLowering(model.json, 'xnnpack', m.packedDot ?? packedDot) : undefined;
  const storage = m.precision === 'f16' ? 'f16' : 'f32';
  const weights = packModelWeights(ctx, model, integer, storage);
  const ex = await GraphExecutor.create(ctx, model, weights, 1, {}, integer, undefined, storage);
  await wallTime(ctx, ex.dispatches, 1); // warm-up
  // End to end through the API; its own choice of dot products (the adapter's), so only one int8 row has it.
  const det = m.packedDot !== false ? await load(modelPath, { precision: m.precision, context: ctx }) : undefined;
  if (det) await det.detect(image);
  runs.push({ m, weights, ex, det, network: [] as number[], kernels: [] as number[], detect: [] as number[] });
}
for (let r = 0; r < reps; r++)
  for (const run of runs) {
    run.network.push(await wallTime(ctx, run.ex.dispatches, 1));
    run.kernels.push((await timeDispatches(ctx, run.ex.dispatches)).reduce((s, t) => s + t.ms, 0));
    if (run.det) {
      await run.det.detect(image);
      run.detect.push(run.det.lastTimes!.total);
    }
  }
const rows: Row[] = [];
for (const run of runs) {
  rows.push({
    mode: run.m.mode,
    networkMs: median(run.network),
    kernelMs: median(run.kernels),
    detectMs: run.detect.length ? median(run.detect) : Number.NaN,
    // Per repetition, this mode's detect time over f32's of the same repetition.
    detectRatio: run.detect.length ? median(run.detect.map((t, i) => t / runs[0]!.detect[i]!)) : Number.NaN,
    dispatches: run.ex.dispatches.length,
    bytesMoved: run.ex.dispatches.reduce((s, d) => s + d.bytes, 0),
    weightBytes: run.weights.byteLength,
    activationBytes: run.ex.stats.activationBytes,
  });
  run.det?.dispose();
  run.ex.destroy();
  run.weights.buffer?.destroy();
}

const mb = (b: number) => (b / 1e6).toFixed(1);
const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1));
const text = [
  `# Integer vs float execution: ${model.json.name}`,
  '',
  `Made by \`npm run bench:precision -- --driver ${ctx.report.driver}${flag('model') ? ` --model ${flag('model')}` : ''}\`. Machine: ${machine(ctx)}.`,
  `Median of ${reps} runs. Network: wall time of the network's dispatches in one submit (no preprocessing, no head);`,
  'kernels: sum of per-dispatch times (timestamp queries, else one submit each); detect: `detect()` on samples/dog.jpg',
  'end to end (upload, preprocess, network, head, readback). Bytes moved: activations read and written plus weights,',
  `as each kernel counts them. WGSL packed 4x8-bit dot products on this adapter: ${packedDot ? 'yes' : 'no'};`,
  `shader-f16: ${ctx.hasF16 ? 'yes' : 'no (no f16 row)'}. Modes run interleaved in each repetition; detect vs f32: median`,
  "over repetitions of the mode's detect time over f32's in the same repetition.",
  '',
  '| mode | network ms | kernels ms | detect ms | detect vs f32 | dispatches | MB moved per frame | weights MB | activations MB |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.mode} | ${ms(r.networkMs)} | ${ms(r.kernelMs)} | ${ms(r.detectMs)} | ${Number.isNaN(r.detectRatio) ? '-' : `${r.detectRatio.toFixed(2)}x`} | ${r.dispatches} | ${mb(r.bytesMoved)} | ${mb(r.weightBytes)} | ${mb(r.activationBytes)} |`,
  ),
  '',
].join('\n');
console.log(text);
writeResult(`precision_${model.json.name}_${ctx.report.driver}.md`, text);
ctx.destroy();
process.exit(0);
