/**
 * Integer vs float execution of a quantized model, side by side on one adapter: the network alone
 * (wall time of its dispatches in one submit, and the sum of per-dispatch kernel times), detect()
 * end to end on samples/dog.jpg, the bytes the network's kernels move per frame, weights and
 * activation memory. Rows: f32, int8 with the adapter's packed 4x8-bit dot products (when it has
 * them) and int8 with plain integers.
 *
 *   npm run bench:precision -- [--model PATH] [--reps 10] [--driver lavapipe|swiftshader|hardware]
 *
 * Writes results/precision_<model>_<driver>.md.
 */
import { join } from 'node:path';
import { load } from '../src/index.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
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
  dispatches: number;
  bytesMoved: number;
  weightBytes: number;
  activationBytes: number;
}

const modes = [
  { mode: 'f32', precision: 'f32' as const },
  ...(packedDot ? [{ mode: 'int8 (dot4)', precision: 'int8' as const, packedDot: true }] : []),
  { mode: 'int8 (plain integers)', precision: 'int8' as const, packedDot: false },
];
const rows: Row[] = [];
for (const m of modes) {
  const integer = m.precision === 'int8' ? integerLowering(model.json, 'xnnpack', m.packedDot ?? packedDot) : undefined;
  const weights = packModelWeights(ctx, model, integer);
  const ex = await GraphExecutor.create(ctx, model, weights, 1, {}, integer);
  await wallTime(ctx, ex.dispatches, 1); // warm-up
  const network: number[] = [];
  const kernels: number[] = [];
  for (let r = 0; r < reps; r++) {
    network.push(await wallTime(ctx, ex.dispatches, 1));
    kernels.push((await timeDispatches(ctx, ex.dispatches)).reduce((s, t) => s + t.ms, 0));
  }
  // End to end through the API; its own choice of dot products (the adapter's), so only one int8 row has it.
  let detectMs = Number.NaN;
  if (m.packedDot !== false) {
    const det = await load(modelPath, { precision: m.precision, context: ctx });
    await det.detect(image);
    const times: number[] = [];
    for (let r = 0; r < reps; r++) {
      await det.detect(image);
      times.push(det.lastTimes!.total);
    }
    detectMs = median(times);
    det.dispose();
  }
  rows.push({
    mode: m.mode,
    networkMs: median(network),
    kernelMs: median(kernels),
    detectMs,
    dispatches: ex.dispatches.length,
    bytesMoved: ex.dispatches.reduce((s, d) => s + d.bytes, 0),
    weightBytes: weights.byteLength,
    activationBytes: ex.stats.activationBytes,
  });
  ex.destroy();
  weights.buffer?.destroy();
}

const mb = (b: number) => (b / 1e6).toFixed(1);
const ms = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(1));
const text = [
  `# Integer vs float execution: ${model.json.name}`,
  '',
  `Made by \`npm run bench:precision -- --driver ${ctx.report.driver}\`. Machine: ${machine(ctx)}.`,
  `Median of ${reps} runs. Network: wall time of the network's dispatches in one submit (no preprocessing, no head);`,
  'kernels: sum of per-dispatch times (timestamp queries, else one submit each); detect: `detect()` on samples/dog.jpg',
  'end to end (upload, preprocess, network, head, readback). Bytes moved: activations read and written plus weights,',
  `as each kernel counts them. WGSL packed 4x8-bit dot products on this adapter: ${packedDot ? 'yes' : 'no'}.`,
  '',
  '| mode | network ms | kernels ms | detect ms | dispatches | MB moved per frame | weights MB | activations MB |',
  '|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.mode} | ${ms(r.networkMs)} | ${ms(r.kernelMs)} | ${ms(r.detectMs)} | ${r.dispatches} | ${mb(r.bytesMoved)} | ${mb(r.weightBytes)} | ${mb(r.activationBytes)} |`,
  ),
  '',
].join('\n');
console.log(text);
writeResult(`precision_${model.json.name}_${ctx.report.driver}.md`, text);
ctx.destroy();
process.exit(0);
