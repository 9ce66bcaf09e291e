/**
 * Speed vs accuracy of the bundled detectors across input resolutions (the MobileNet paper's
 * resolution multiplier rho, applied with resizeModelInput): parameters, multiply-adds at each
 * resolution, steady-state latency on samples/dog.jpg, and mAP@0.5 on coco128-val with the
 * `mobilessd eval` recipe. The face model has no face dataset here: speed only.
 * Writes results/speed_accuracy.md and results/speed_accuracy.svg.
 *
 *   node .build/bench/speed_accuracy.js [--relative-anchors] [--runs 15] [--limit N] [--driver lavapipe]
 *
 * --relative-anchors also scores each reduced resolution with the generator's relative anchor sizes
 * (those of a model trained at that size) instead of the trained pixel sizes: one more pass each.
 */
import { cpus } from 'node:os';
import { evalSettings, evaluateDetector } from '../src/cli/eval.ts';
import { modelStats } from '../src/graph/model_stats.ts';
import { median, percentile } from '../src/gpu/timing.ts';
import { resizeModelInput } from '../src/ssd/resize_input.ts';
import { readImageFile } from '../src/image/decode.ts';
import { load, type AnchorSizing } from '../src/index.ts';
import type { EvaluationResult } from '../src/eval/evaluate.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { COCO_MODEL, DATASETS, driver, limit, loadForEval, readLimited } from './lib/eval_data.ts';
import { flag, writeResult } from './lib/setup.ts';
import { lineChart } from '../src/charts/svg.ts';

const MODELS = [
  {
    name: 'SSD-MobileNetV2 Open Images (oid-v4)',
    short: 'OID MobileNetV2',
    model: 'oid-v4',
    sizes: [300, 224, 192, 160, 128],
    color: '#4e79a7',
    accuracy: true,
  },
  {
    name: 'SSD-MobileNetV1 COCO uint8',
    short: 'COCO MobileNetV1',
    model: COCO_MODEL,
    sizes: [300, 224, 192, 160, 128],
    color: '#e15759',
    accuracy: true,
  },
  {
    name: 'SSD-MobileNetV1 face (face-api)',
    short: 'face MobileNetV1',
    model: 'face',
    sizes: [512, 448, 384, 320, 256],
    color: '#59a14f',
    accuracy: false,
  },
];
const RUNS = Math.max(10, Number(flag('runs', '15')));
const compareAnchors = flag('relative-anchors') === 'true';
const WARMUP = 3;
const IMAGE = 'samples/dog.jpg';

interface Point {
  model: (typeof MODELS)[number];
  size: number;
  anchors: number;
  params: number;
  macs: number;
  latencyMs: number;
  p90Ms: number;
  gpuMs: number | undefined;
  mAP: number | undefined;
  cocoAP: number | undefined;
  classes: number | undefined;
  /** mAP@0.5 with relative anchor sizes (--relative-anchors, reduced sizes only). */
  relativeMAP: number | undefined;
}

async function coco128mAP(model: string, size: number, sizing: AnchorSizing): Promise<EvaluationResult> {
  const det = await loadForEval(model, size, sizing);
  try {
    return (await evaluateDetector(det, coco128, evalSettings())).result;
  } finally {
    det.dispose();
  }
}

/**
 * Detect-call times of one model at every size, measured round-robin (one call per size per round)
 * so that the load of a shared machine falls on every size alike.
 */
async function latencies(model: string, sizes: readonly number[]): Promise<{ wall: number[]; gpu: number[] }[]> {
  const dets = [];
  try {
    for (const size of sizes) dets.push(await load(model, { driver: driver(), inputSize: size }));
    adapter = dets[0]!.adapter.description;
    const times = sizes.map(() => ({ wall: [] as number[], gpu: [] as number[] }));
    for (let round = 0; round < WARMUP + RUNS; round++) {
      for (const [i, det] of dets.entries()) {
        const t0 = performance.now();
        await det.detect(pixels);
        if (round < WARMUP) continue;
        times[i]!.wall.push(performance.now() - t0);
        if (det.lastTimes?.gpu !== undefined) times[i]!.gpu.push(det.lastTimes.gpu);
      }
    }
    return times;
  } finally {
    for (const det of dets) det.dispose();
  }
}

const pixels = await readImageFile(IMAGE);
const coco128 = await readLimited(DATASETS.coco128);
const points: Point[] = [];
let adapter = '';
for (const m of MODELS) {
  const native = await resolveModel(m.model);
  const times = await latencies(m.model, m.sizes);
  for (const [i, size] of m.sizes.entries()) {
    const json = (await resizeModelInput(native, size, size)).json;
    const stats = modelStats(json);
    const { wall, gpu } = times[i]!;
    const result = m.accuracy ? await coco128mAP(m.model, size, 'pixels') : undefined;
    const relative =
      m.accuracy && compareAnchors && size !== m.sizes[0] ? await coco128mAP(m.model, size, 'relative') : undefined;
    const p: Point = {
      model: m,
      size,
      anchors: json.shapes[json.outputs.boxes]![1]!,
      params: stats.params,
      macs: stats.macs,
      latencyMs: median(wall),
      p90Ms: percentile(wall, 90),
      gpuMs: gpu.length ? median(gpu) : undefined,
      mAP: result?.mAP,
      cocoAP: result?.coco.ap,
      classes: result?.sharedClasses.length,
      relativeMAP: relative?.mAP,
    };
    points.push(p);
    console.log(
      `${m.name} @${size}: ${(p.macs / 1e9).toFixed(3)} G MACs, ${p.latencyMs.toFixed(0)} ms${p.mAP === undefined ? '' : `, mAP@0.5 ${p.mAP.toFixed(3)}`}`,
    );
  }
}

const f3 = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(3));
const quick = limit() !== undefined;
const md = [
  '# Speed vs accuracy across input resolutions',
  '',
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}; adapter ${adapter} (a software Vulkan driver on a shared machine: absolute times are`,
  'CPU-bound and noisy, the ratios between resolutions are what carries over).',
  '',
  `Latency: median (and p90) of ${RUNS} warm \`detect()\` calls on ${IMAGE} (${pixels.width}x${pixels.height}) after ${WARMUP} warm-up calls, taken`,
  'round-robin over the sizes of a model (one call per size in turn) so that background load falls on every size alike; with the',
  "model's own post-processing settings: upload, preprocessing, network, SSD head and readback; JPEG decoding excluded. GPU: timestamp-query",
  'time of the same calls where the adapter has timestamps.',
  `Accuracy: mAP@0.5 (VOC all-point) on coco128-val${quick ? ` (**first ${limit()} images only**)` : ' (128 images)'} with the \`mobilessd eval\` recipe (per-class NMS, score >= 0.01,`,
  '100 per class per image); classes = COCO classes a model label maps to that have ground truth. The face model has no face dataset',
  'here, so only its speed is measured.',
  'Resolution: every activation shape is inferred again and the anchors regenerated for the new feature maps with the generator the model',
  'was trained with (`resizeModelInput`); parameters do not change with resolution, multiply-adds scale with about rho^2. The face',
  "model's stored anchors are those of the 2017 TF Object Detection API generator (the interpolated box right after ratio 1), which",
  'reproduces them to float32 rounding, so it is resized the same way.',
  '',
  'Anchors keep the size in pixels they had at the trained resolution (what a network that was not retrained predicts against);',
  ...(compareAnchors
    ? [
        "the last column scores the generator's relative sizes instead (the anchors of a model trained at that size), which shrink every",
        'predicted box by rho.',
      ]
    : ['`--relative-anchors` adds a column with the relative sizes a model trained at that size would use.']),
  '',
  `| model | input | rho | anchors | params (M) | MACs (G) | latency ms | p90 ms | GPU ms | mAP@0.5 | COCO AP | classes |${compareAnchors ? ' mAP@0.5, relative anchors |' : ''}`,
  `|---|---|---|---|---|---|---|---|---|---|---|---|${compareAnchors ? '---|' : ''}`,
  ...points.map((p) => {
    const rho = p.size / p.model.sizes[0]!;
    const row = `| ${p.model.name} | ${p.size}x${p.size} | ${rho.toFixed(2)} | ${p.anchors} | ${(p.params / 1e6).toFixed(2)} | ${(p.macs / 1e9).toFixed(3)} | ${p.latencyMs.toFixed(0)} | ${p.p90Ms.toFixed(0)} | ${p.gpuMs?.toFixed(0) ?? '-'} | ${f3(p.mAP)} | ${f3(p.cocoAP)} | ${p.classes ?? '-'} |`;
    return compareAnchors ? `${row} ${f3(p.relativeMAP)} |` : row;
  }),
  '',
  'The two object detectors are scored on different class sets (13 shared classes for the Open Images model, 73 for the COCO model), so',
  'their mAP values are not comparable with each other, only across resolutions of one model.',
  '',
];
const name = quick ? 'speed_accuracy.quick' : 'speed_accuracy';
const mdPath = writeResult(`${name}.md`, md.join('\n'));
const scored = MODELS.filter((m) => m.accuracy);
const series = scored.map((m) => ({
  name: `${m.short} ${m.sizes[0]}..${m.sizes[m.sizes.length - 1]} px`,
  color: m.color,
  points: points
    .filter((p) => p.model === m && p.mAP !== undefined)
    .map((p) => [p.latencyMs, p.mAP!] as [number, number]),
}));
if (compareAnchors) {
  for (const m of scored) {
    const own = points.filter((p) => p.model === m);
    series.push({
      name: `${m.short}, relative anchors`,
      color: m.color === '#4e79a7' ? '#a0cbe8' : '#ff9d9a',
      points: own.map((p) => [p.latencyMs, p.relativeMAP ?? p.mAP!] as [number, number]),
    });
  }
}
const chart = lineChart(series, {
  title: `mAP@0.5 on coco128-val vs latency (${adapter.split(':')[0]})`,
  xLabel: `latency per image, ms (median of ${RUNS})`,
  yLabel: 'mAP@0.5',
  width: 1000,
});
const svgPath = writeResult(`${name}.svg`, chart);
console.log(`wrote ${mdPath} and ${svgPath}`);
process.exit(0);
