/**
 * `mobilessd eval`: runs a detector over a labeled dataset and scores it: per-class table, PASCAL
 * VOC mAP (all-point and 11-point) and the COCO metrics, optionally a JSON report and a PR chart.
 *
 * The default recipe is the one the reference figures in the shared datasets README were measured
 * with: per-class NMS, score >= 0.01, at most 100 detections per class per image, no total limit.
 * Our GPU head keeps at most `maxDetections` per image in total, out of the `candidateCap`
 * best-scoring candidates, so evaluation raises both caps (EVAL_RECIPE), lets only the classes that
 * can be scored compete for them, and applies the per-class cap afterwards. Images that still fill
 * the total cap are counted and reported, as their lowest-scoring detections may be missing.
 */
import { readImageFile } from '../image/decode.ts';
import type { Detection, DetectOptions } from '../detect_types.ts';
import { InvalidInputError, MobileSsdError } from '../errors.ts';
import {
  buildClassMapping,
  COCO_TO_VOC,
  loadClassMapFile,
  OPEN_IMAGES_TO_COCO,
  OPEN_IMAGES_TO_VOC,
  type UserClassMap,
} from '../eval/class_map.ts';
import { readDataset } from '../eval/datasets/index.ts';
import { evaluate, type EvaluationResult } from '../eval/evaluate.ts';
import type { IouConvention } from '../eval/iou.ts';
import { evaluationPrChart } from '../eval/pr_chart.ts';
import { evaluationToJson, formatEvaluationReport, type MetricFamily } from '../eval/report.ts';
import type { Dataset, DatasetFormat } from '../eval/types.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { median } from '../gpu/timing.ts';
import { load, type ObjectDetector } from '../index.ts';
import { BUNDLED_MODELS, DEFAULT_MODEL } from '../node/model_registry.ts';
import { writeAtomic } from '../node/model_files.ts';
import { helpText, parseArgs, UsageError, type CommandSpec } from './args.ts';
import { INPUT_SIZE_FLAG, inputSizeOption, reportError } from './common.ts';
import { checkOutputFile } from './outputs.ts';
import { Progress } from './progress.ts';

/**
 * The reference recipe, and head caps that do not bind on the shared datasets: a total cap equal to
 * the candidate cap can never be reached first, and 8192 candidates gave the same mAP as an exact
 * CPU implementation of the recipe (every candidate, per-class NMS) on all four reference runs.
 */
export const EVAL_RECIPE = {
  scoreThreshold: 0.01,
  maxPerClass: 100,
  perClassNms: true,
  maxDetectionsCap: 8192,
  candidateCap: 8192,
} as const;

const BUILT_IN_CLASS_MAPS: Readonly<Record<string, UserClassMap>> = {
  'openimages-coco': OPEN_IMAGES_TO_COCO,
  'openimages-voc': OPEN_IMAGES_TO_VOC,
  'coco-voc': COCO_TO_VOC,
};

const FORMATS: readonly DatasetFormat[] = ['voc', 'coco', 'yolo'];
const METRICS: readonly MetricFamily[] = ['voc', 'coco', 'all'];
const CONVENTIONS: readonly IouConvention[] = ['continuous', 'pixel-inclusive'];

export const evalCommand: CommandSpec = {
  name: 'eval',
  summary: 'measure accuracy (VOC and COCO mAP) on a labeled dataset',
  usage: 'mobilessd eval <dataset-path> [options]',
  flags: [
    {
      name: 'model',
      alias: 'm',
      type: 'string',
      value: 'NAME|PATH',
      help: `${BUNDLED_MODELS.map((m) => m.name).join(', ')}, or a .tflite / TF.js manifest / converted model folder`,
      default: DEFAULT_MODEL,
    },
    { name: 'format', type: 'string', value: 'voc|coco|yolo', help: 'dataset format (default: told from the path)' },
    {
      name: 'strict',
      type: 'boolean',
      help: 'stop at the first malformed annotation file (default: skip it with a warning, exit code 1)',
    },
    {
      name: 'split',
      type: 'string',
      value: 'NAME',
      help: 'VOC: ImageSets/Main/NAME.txt; YOLO: images/NAME and labels/NAME',
    },
    {
      name: 'images',
      type: 'string',
      value: 'DIR',
      help: 'COCO: the folder holding the images (default: found beside the JSON)',
    },
    {
      name: 'class-map',
      type: 'string',
      value: 'FILE.json|NAME',
      help: `model label -> dataset class: a JSON object ("label": "class" or null), or ${Object.keys(BUILT_IN_CLASS_MAPS).join(', ')} (default: same names, then those built-in tables)`,
    },
    {
      name: 'score',
      type: 'number',
      value: '0..1',
      help: 'minimum detection score',
      default: EVAL_RECIPE.scoreThreshold,
    },
    {
      name: 'iou',
      type: 'number',
      value: '0..1',
      help: "NMS overlap threshold (default: the model's own, 0.5 for oid-v4, 0.6 for the COCO model)",
    },
    {
      name: 'max',
      type: 'number',
      value: 'N',
      help: 'at most N detections per class per image',
      default: EVAL_RECIPE.maxPerClass,
    },
    {
      name: 'per-class',
      type: 'boolean',
      help: 'per-class NMS (the SSD recipe); --no-per-class suppresses across classes',
      default: EVAL_RECIPE.perClassNms,
    },
    {
      name: 'max-total',
      type: 'number',
      value: 'N',
      help: 'the GPU head keeps at most N detections per image',
      default: EVAL_RECIPE.maxDetectionsCap,
    },
    {
      name: 'candidates',
      type: 'number',
      value: 'N',
      help: 'the GPU head suppresses among at most N top-scoring candidates per image',
      default: EVAL_RECIPE.candidateCap,
    },
    INPUT_SIZE_FLAG,
    {
      name: 'match-iou',
      type: 'number',
      value: '0..1',
      help: 'VOC: IoU a detection needs to match a ground truth',
      default: 0.5,
    },
    {
      name: 'iou-convention',
      type: 'string',
      value: 'continuous|pixel-inclusive',
      help: "box areas as continuous (pycocotools) or inclusive pixels (the VOC devkit's +1)",
      default: 'continuous',
    },
    { name: 'metric', type: 'string', value: 'voc|coco|all', help: 'which metrics to print', default: 'all' },
    { name: 'limit', type: 'number', value: 'N', help: 'evaluate only the first N images' },
    { name: 'json', type: 'string', value: 'FILE', help: 'write the settings and results as JSON' },
    { name: 'chart', type: 'string', value: 'FILE.svg', help: 'write the precision-recall curves as SVG' },
    {
      name: 'driver',
      type: 'string',
      value: 'auto|hardware|lavapipe|swiftshader',
      help: 'which WebGPU adapter to use',
      default: 'auto',
    },
    { name: 'quiet', alias: 'q', type: 'boolean', help: 'no progress bar' },
  ],
  details: [
    'examples:',
    '  mobilessd eval ../shared/datasets/voc2012-100 --json voc.json --chart voc.svg',
    '  mobilessd eval ../shared/datasets/coco128-val --model ../shared/models/coco-ssd-mobilenet-v1-quant/detect.tflite',
    '  mobilessd eval data/instances_val.json --images data/val2017 --class-map my_map.json --limit 50',
  ].join('\n'),
};

/** How detections are made and scored; defaults in EVAL_RECIPE and the flags below. */
export interface EvalSettings {
  scoreThreshold: number;
  /** NMS IoU; undefined: the model's own. */
  iouThreshold?: number;
  perClassNms: boolean;
  maxPerClass: number;
  /** The head's total cap per image (the detector's maxDetectionsCap or less). */
  maxTotal: number;
  classMap: UserClassMap;
  iouConvention: IouConvention;
  /** VOC matching IoU. */
  matchIou: number;
}

export function evalSettings(overrides: Partial<EvalSettings> = {}): EvalSettings {
  const r = EVAL_RECIPE;
  return {
    scoreThreshold: r.scoreThreshold,
    perClassNms: r.perClassNms,
    maxPerClass: r.maxPerClass,
    maxTotal: r.maxDetectionsCap,
    classMap: {},
    iouConvention: 'continuous',
    matchIou: 0.5,
    ...overrides,
  };
}

export interface DetectorEvaluation {
  result: EvaluationResult;
  run: DatasetRun;
  /** The options every detect() call got. */
  detect: DetectOptions;
}

/**
 * Runs `detector` (loaded with caps >= settings.maxTotal) over `dataset` and scores it. Only the
 * model labels that map to a dataset class are detected: the others would be dropped by the scoring
 * anyway, and here they would compete for the head's caps. Unreadable images are left out.
 */
export async function evaluateDetector(
  detector: ObjectDetector,
  dataset: Dataset,
  s: EvalSettings,
  progress?: Progress,
): Promise<DetectorEvaluation> {
  const classes = scorableLabels(detector.labels, dataset, s.classMap);
  if (!classes.length) {
    throw new InvalidInputError(
      `no label of ${detector.info.name} maps to a class of ${dataset.source} (dataset classes: ${dataset.classes.slice(0, 8).join(', ')}...)`,
      'pass --class-map with a JSON object of "model label": "dataset class"',
    );
  }
  const detect: DetectOptions = {
    scoreThreshold: s.scoreThreshold,
    perClassNms: s.perClassNms,
    maxDetections: s.maxTotal,
    classes,
    iouThreshold: s.iouThreshold ?? detector.info.defaults.iouThreshold,
  };
  const run = await detectDataset(detector, dataset, {
    detect,
    maxPerClass: s.maxPerClass,
    ...(progress ? { progress } : {}),
  });
  const failed = new Set(run.failed.map((f) => f.file));
  const scored = failed.size ? { ...dataset, images: dataset.images.filter((im) => !failed.has(im.file)) } : dataset;
  const result = evaluate(scored, run.detections, {
    modelLabels: detector.labels,
    classMap: s.classMap,
    iouConvention: s.iouConvention,
    iouThreshold: s.matchIou,
    maxDetections: s.maxPerClass,
  });
  return { result, run, detect };
}

interface DatasetRunOptions {
  detect: DetectOptions;
  /** Detections kept per class per image, best first. */
  maxPerClass: number;
  progress?: Progress;
}

export interface DatasetRun {
  detections: Map<string, Detection[]>;
  /** Images whose detections filled the head's total cap: their lowest-scoring ones may be missing. */
  cappedImages: number;
  /** Images that could not be read, left out of the evaluation. */
  failed: { file: string; message: string }[];
  /** Wall time of each detect() call (decode excluded), ms. */
  detectMs: number[];
}

/** Detects every image of `dataset`; per-class cap applied on the CPU (the head's cap is per image). */
async function detectDataset(detector: ObjectDetector, dataset: Dataset, o: DatasetRunOptions): Promise<DatasetRun> {
  const run: DatasetRun = { detections: new Map(), cappedImages: 0, failed: [], detectMs: [] };
  const cap = o.detect.maxDetections ?? Infinity;
  for (const image of dataset.images) {
    try {
      const pixels = await readImageFile(image.file);
      const t0 = performance.now();
      const found = await detector.detect(pixels, o.detect);
      run.detectMs.push(performance.now() - t0);
      if (found.length >= cap) run.cappedImages++;
      run.detections.set(image.id, capPerClass(found, o.maxPerClass));
    } catch (e) {
      if (!(e instanceof MobileSsdError) || e.code === 'DEVICE_LOST') throw e;
      run.failed.push({ file: image.file, message: e.message });
    }
    o.progress?.tick();
  }
  return run;
}

/** The first `max` detections of each class (detections arrive best first). */
function capPerClass(detections: readonly Detection[], max: number): Detection[] {
  const counts = new Map<number, number>();
  return detections.filter((d) => {
    const n = (counts.get(d.classId) ?? 0) + 1;
    counts.set(d.classId, n);
    return n <= max;
  });
}

/** The model labels that map to a class of the dataset: only they compete for the head's caps. */
function scorableLabels(labels: readonly string[], dataset: Dataset, classMap: UserClassMap = {}): string[] {
  const mapping = buildClassMapping(labels, dataset.classes, classMap);
  return labels.filter((l) => mapping.datasetClassOf(l) !== undefined);
}

async function resolveClassMap(value: string | undefined): Promise<UserClassMap> {
  if (value === undefined) return {};
  return Object.hasOwn(BUILT_IN_CLASS_MAPS, value) ? BUILT_IN_CLASS_MAPS[value]! : loadClassMapFile(value);
}

export async function runEvalCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(evalCommand)}\n`);
    return 0;
  }
  let detector: ObjectDetector | undefined;
  try {
    const { flags, positional } = parseArgs(evalCommand, argv);
    if (positional.length !== 1)
      throw new UsageError(`give exactly one dataset path, got ${positional.length} (see \`mobilessd eval --help\`)`);
    const format = flags.format as DatasetFormat | undefined;
    if (format !== undefined && !FORMATS.includes(format))
      throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got "${format}"`);
    const metric = flags.metric as MetricFamily;
    if (!METRICS.includes(metric))
      throw new UsageError(`--metric must be one of ${METRICS.join(', ')}, got "${metric}"`);
    const convention = flags['iou-convention'] as IouConvention;
    if (!CONVENTIONS.includes(convention))
      throw new UsageError(`--iou-convention must be one of ${CONVENTIONS.join(', ')}, got "${convention}"`);
    const counts = {
      max: flags.max,
      'max-total': flags['max-total'],
      candidates: flags.candidates,
      ...(flags.limit === undefined ? {} : { limit: flags.limit }),
    };
    for (const [name, v] of Object.entries(counts))
      if (!(Number.isInteger(v) && (v as number) >= 1))
        throw new UsageError(`--${name} must be a positive integer, got ${v}`);
    const matchIou = flags['match-iou'] as number;
    if (!(matchIou > 0 && matchIou <= 1)) throw new UsageError(`--match-iou must be in (0, 1], got ${matchIou}`);
    const inputSize = inputSizeOption(flags);
    const quiet = flags.quiet === true;
    const log = (m: string) => quiet || process.stderr.write(`mobilessd: ${m}\n`);
    // Before the dataset and the model: a wrong output path must not cost the run its results.
    if (flags.json !== undefined) checkOutputFile(flags.json as string, '--json');
    if (flags.chart !== undefined) checkOutputFile(flags.chart as string, '--chart');

    const full = await readDataset(positional[0]!, {
      ...(format ? { format } : {}),
      ...(flags.split ? { split: flags.split as string } : {}),
      ...(flags.images ? { imagesDir: flags.images as string } : {}),
      strict: flags.strict === true,
    });
    const skipped = full.warnings.filter((w) => w.skippedFile);
    for (const w of skipped) process.stderr.write(`mobilessd: warning: ${w.file}: ${w.reason}\n`);
    const dataset = flags.limit === undefined ? full : { ...full, images: full.images.slice(0, flags.limit as number) };
    const settings = evalSettings({
      scoreThreshold: flags.score as number,
      perClassNms: flags['per-class'] as boolean,
      maxPerClass: flags.max as number,
      maxTotal: flags['max-total'] as number,
      classMap: await resolveClassMap(flags['class-map'] as string | undefined),
      iouConvention: convention,
      matchIou,
      ...(flags.iou === undefined ? {} : { iouThreshold: flags.iou as number }),
    });
    detector = await load(flags.model as string, {
      driver: flags.driver as DriverChoice,
      log,
      maxDetectionsCap: settings.maxTotal,
      candidateCap: flags.candidates as number,
      ...(inputSize ? { inputSize } : {}),
    });
    const t0 = performance.now();
    const { result, run, detect } = await evaluateDetector(
      detector,
      dataset,
      settings,
      new Progress(dataset.images.length, 'eval', quiet),
    );
    const seconds = (performance.now() - t0) / 1000;
    for (const f of run.failed)
      process.stderr.write(`mobilessd: warning: ${f.message} (image left out of the evaluation)\n`);

    const info = detector.info;
    const notes = [
      `model: ${info.name} at ${info.input.height}x${info.input.width}; ${run.detections.size} images in ${seconds.toFixed(1)} s (detect median ${median(run.detectMs).toFixed(0)} ms/image)`,
      `recipe: ${detect.perClassNms ? 'per-class' : 'class-agnostic'} NMS at IoU ${+detect.iouThreshold!.toPrecision(6)}${settings.iouThreshold === undefined ? " (the model's own)" : ''}, score >= ${detect.scoreThreshold}, at most ${settings.maxPerClass} per class and ${settings.maxTotal} in all per image (${flags.candidates} candidates)`,
      ...(run.cappedImages
        ? [
            `warning: ${run.cappedImages} image(s) filled the ${settings.maxTotal}-detection cap; raise --max-total for their lowest-scoring detections`,
          ]
        : []),
    ];
    process.stdout.write(`${notes.join('\n')}\n${formatEvaluationReport(result, metric)}\n`);

    if (flags.json) {
      const doc = {
        model: { name: info.name, input: info.input },
        adapter: detector.adapter.description,
        settings: {
          ...detect,
          maxPerClass: settings.maxPerClass,
          candidateCap: flags.candidates,
          iouConvention: convention,
          matchIou,
          limit: flags.limit ?? null,
          classMap: flags['class-map'] ?? 'auto',
        },
        timing: { seconds, detectMedianMs: median(run.detectMs) },
        cappedImages: run.cappedImages,
        failedImages: run.failed,
        result: evaluationToJson(result),
      };
      await writeAtomic(flags.json as string, `${JSON.stringify(doc, null, 2)}\n`);
    }
    if (flags.chart) await writeAtomic(flags.chart as string, evaluationPrChart(result));
    return run.failed.length || skipped.length ? 1 : 0;
  } catch (e) {
    return reportError(e);
  } finally {
    detector?.dispose();
  }
}
