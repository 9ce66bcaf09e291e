/**
 * A whole training run, as `mobilessd train` does it: read the dataset, put new class heads on the
 * pretrained model, build the feature cache (the frozen part once per augmented image), train
 * epoch by epoch with a checkpoint, the history and the loss chart written after each, and write
 * the trained model in mobilessd's format at the end.
 */
import { mkdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { CheckpointError, DatasetFormatError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { weightsInfo } from '../graph/model_format.ts';
import type { LoadedModel } from '../graph/weights.ts';
import { resolveModel } from '../node/model_registry.ts';
import { writeAtomic, writeModel } from '../node/model_files.ts';
import { InvalidOptionError } from '../errors.ts';
import { resizeModelInput } from '../ssd/resize_input.ts';
import { constData } from '../graph/weights.ts';
import { anchorCoverage, fitAnchors } from './anchor_fit.ts';
import { buildCache } from './cache.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, settingsMismatch, type Checkpoint } from './checkpoint.ts';
import { SSD_AUGMENTATION } from './data.ts';
import { readTrainingSet, type TrainingSet } from './dataset.ts';
import type { Validation } from './evaluation.ts';
import { FeatureExtractor, type FeatureCache } from './features.ts';
import { LOW_MAP_PREFIX, trainingRegion, type TrainFrom } from './graph.ts';
import { DEFAULT_FOCAL } from './loss_ref.ts';
import { addLowMap, LOW_MAP_SHAPES, lowMapSource } from './low_map.ts';
import { lossChart, type EpochRecord, type History } from './history.ts';
import { DEFAULT_HEAD_INIT, newClassHeads, withConstants } from './model_surgery.ts';
import { Rng } from './rng.ts';
import { Trainer, type OptimizerSettings, type PhaseThroughput } from './trainer.ts';

export const ANCHOR_CHOICES = ['default', 'fit'] as const;
export type AnchorChoice = (typeof ANCHOR_CHOICES)[number];

export interface TrainSettings extends OptimizerSettings {
  /** Dataset folder (VOC, COCO or YOLO) and its splits; no validation when valSplit is undefined. */
  dataset: string;
  trainSplit: string;
  valSplit: string | undefined;
  /** Pretrained model: a bundled name or a path. */
  base: string;
  trainFrom: TrainFrom;
  /** 'fit': default box shapes fitted to the training boxes (anchor_fit.ts); 'default': the base model's. */
  anchors: AnchorChoice;
  /** Square input side to train (and then run) at, anchors regenerated; undefined: the base model's. */
  inputSize: number | undefined;
  /** A predictor on the stride-8 feature map with small default boxes (low_map.ts). */
  lowMap: boolean;
  /** Cached versions of each training image: the first unaugmented, the others augmented. */
  augmentations: number;
  matchThreshold: number;
  /** Validate every this many epochs (and after the last); 0 never. */
  evalEvery: number;
  seed: number;
}

export const DEFAULT_SETTINGS: Omit<TrainSettings, 'dataset' | 'epochs'> = {
  trainSplit: 'train',
  valSplit: 'val',
  base: 'oid-v4',
  trainFrom: 'features',
  anchors: 'default',
  inputSize: undefined,
  lowMap: false,
  batch: 32,
  microBatch: 8,
  lr: 0.001,
  momentum: 0.9,
  weightDecay: 0.0005,
  warmupEpochs: 1,
  lrSchedule: 'cosine',
  augmentations: 8,
  negPerPos: 3,
  alpha: 1,
  confLoss: 'mining',
  focalGamma: DEFAULT_FOCAL.gamma,
  focalAlpha: DEFAULT_FOCAL.alpha,
  matchThreshold: 0.5,
  evalEvery: 5,
  seed: 1,
};

export interface RunHooks {
  log(message: string): void;
  /** A phase starts: `total` ticks follow. */
  phase(name: string, total: number): void;
  tick(note?: string): void;
}

export interface RunResult {
  model: LoadedModel;
  history: History;
  /** Seconds this call spent building the feature cache and training. */
  cacheSeconds: number;
  trainSeconds: number;
  val: Validation | undefined;
  /** Images per second: building the feature cache (frozen part, all versions) and the training phases. */
  throughput: { featureCache: number } & PhaseThroughput;
}

export const CHART_FILE = 'loss.svg';
export const HISTORY_FILE = 'training.json';

/** The settings a resumed run must share: everything but the number of epochs. */
function identity(s: TrainSettings, classes: readonly string[]): Record<string, unknown> {
  const { epochs: _, ...rest } = s;
  return { ...rest, classes };
}

export async function runTraining(
  ctx: GpuContext,
  s: TrainSettings,
  outDir: string,
  opts: { resume: boolean },
  hooks: RunHooks,
): Promise<RunResult> {
  const classes = (await readTrainingSet(s.dataset, s.trainSplit, [])).dataset.classes;
  if (!classes.length) throw new DatasetFormatError(s.dataset, `split ${s.trainSplit} has no labeled boxes`);
  const trainSet = await readTrainingSet(s.dataset, s.trainSplit, classes);
  const valSet = s.valSplit === undefined ? undefined : await readTrainingSet(s.dataset, s.valSplit, classes);
  for (const w of trainSet.dataset.warnings) hooks.log(`warning: ${w.file}: ${w.reason}`);

  await mkdir(outDir, { recursive: true });
  let checkpoint: Checkpoint | undefined;
  if (hasCheckpoint(outDir)) {
    if (!opts.resume)
      throw new CheckpointError(
        `${outDir} holds the checkpoint of an earlier run`,
        'pass --resume to continue that run, or choose another output folder',
      );
    checkpoint = await loadCheckpoint(outDir);
    const diff = settingsMismatch(checkpoint.state.settings, identity(s, classes));
    if (diff.length)
      throw new CheckpointError(
        `the checkpoint in ${outDir} was made with other settings (${diff.join('; ')})`,
        'resume with the settings of that run (only --epochs may change), or choose another output folder',
      );
    hooks.log(`resuming after epoch ${checkpoint.state.epochsDone} (step ${checkpoint.state.stepsDone})`);
  }

  const base = await atInputSize(trainable(await resolveModel(s.base, { log: hooks.log }), s.base), s.inputSize);
  const model = withAnchors(
    newClassHeads(withLowMap(base, s, hooks), classes, { ...DEFAULT_HEAD_INIT, seed: s.seed }),
    trainSet,
    s,
    hooks,
  );
  const region = trainingRegion(model.json, s.trainFrom);
  hooks.log(
    `classes: ${classes.join(', ')}; training ${region.trained.length} convolutions from ${region.cuts.length} cached tensor(s): ${region.cuts.join(', ')}`,
  );

  // Deterministic for a seed, so a resumed run rebuilds the same cache.
  const t0 = performance.now();
  const cache = await buildFeatureCache(ctx, model, region.cuts, trainSet, valSet, s, hooks);
  const cacheSeconds = (performance.now() - t0) / 1000;
  hooks.log(
    `feature cache: ${cache.train.length} images x ${s.augmentations} versions in ${cacheSeconds.toFixed(0)} s`,
  );

  const trainer = await Trainer.create(ctx, model, region, cache, s, checkpoint?.state.stepsDone ?? 0);
  try {
    if (checkpoint) trainer.restore(checkpoint.params, checkpoint.velocity);
    const rng = new Rng(checkpoint?.state.rngState ?? s.seed ^ 0x9e3779b9);
    const history: History = checkpoint?.state.history ?? { steps: [], epochs: [] };
    let val: Validation | undefined;
    const t1 = performance.now();
    for (let epoch = (checkpoint?.state.epochsDone ?? 0) + 1; epoch <= s.epochs; epoch++) {
      hooks.phase(`epoch ${epoch}/${s.epochs}`, trainer.stepsPerEpoch);
      const { record, steps } = await trainer.epoch(epoch, rng, (r) =>
        hooks.tick(
          `loss ${r.loss.toFixed(3)} (conf ${r.conf.toFixed(3)} loc ${r.loc.toFixed(3)}) lr ${r.lr.toExponential(1)}`,
        ),
      );
      if (valSet && s.evalEvery > 0 && (epoch % s.evalEvery === 0 || epoch === s.epochs)) {
        val = await trainer.validate(valSet);
        record.val = {
          loss: val.loss,
          mAP: val.result.mAP,
          ap: Object.fromEntries(val.result.perClass.map((c) => [c.className, c.ap])),
        };
      }
      history.steps.push(...steps);
      history.epochs.push(record);
      hooks.log(describeEpoch(record));
      const snap = await trainer.snapshot();
      await saveCheckpoint(outDir, {
        state: {
          version: 1,
          settings: identity(s, classes),
          epochsDone: epoch,
          stepsDone: trainer.steps,
          rngState: rng.state,
          history,
          floats: trainer.store.floats,
        },
        ...snap,
      });
      await writeAtomic(
        join(outDir, CHART_FILE),
        lossChart(history, `mobilessd train: ${basename(s.dataset)} from ${s.base} (train from ${s.trainFrom})`),
      );
    }
    const trainSeconds = (performance.now() - t1) / 1000;
    const out = await finishModel(model, await trainer.trained(), s, trainSet);
    await writeModel(outDir, out);
    const cached = cache.train.length * s.augmentations + cache.val.length;
    const throughput = { featureCache: cached / cacheSeconds, ...(await trainer.phaseThroughput()) };
    await writeAtomic(
      join(outDir, HISTORY_FILE),
      `${JSON.stringify({ settings: s, classes, adapter: ctx.describe(), cacheSeconds, trainSeconds, throughput, history }, null, 1)}\n`,
    );
    return { model: out, history, cacheSeconds, trainSeconds, val, throughput };
  } finally {
    trainer.destroy();
  }
}

/** `model` when training can start from it: float weights, an input that is stretched to the network's size. */
export function trainable(model: LoadedModel, name: string): LoadedModel {
  const why = model.json.quantization
    ? 'it was converted from a quantized (uint8) model, whose clamped ranges do not train'
    : model.json.preprocess.resize !== 'stretch'
      ? `it letterboxes its input (${model.json.preprocess.resize}), and training stretches images`
      : undefined;
  if (why) throw new InvalidOptionError('base', name, `a float model that stretches its input, such as oid-v4: ${why}`);
  return model;
}

/**
 * The model at `side` x `side`, for training there: the anchors are the generator's for that input
 * (relative sizes, as the SSD paper's 512 model), and the generator now records that size.
 */
export async function atInputSize(model: LoadedModel, side: number | undefined): Promise<LoadedModel> {
  if (side === undefined || (side === model.json.preprocess.height && side === model.json.preprocess.width))
    return model;
  const out = await resizeModelInput(model, side, side, 'relative');
  const g = out.json.ssd.anchorGenerator;
  if (g) out.json.ssd.anchorGenerator = { ...g, options: { ...g.options, inputHeight: side, inputWidth: side } };
  return out;
}

/** The model with a low-map predictor when `s.lowMap` (low_map.ts). */
export function withLowMap(
  model: LoadedModel,
  s: Pick<TrainSettings, 'lowMap' | 'seed'>,
  hooks: Pick<RunHooks, 'log'>,
): LoadedModel {
  if (!s.lowMap) return model;
  const out = addLowMap(model, LOW_MAP_SHAPES, s.seed);
  const [, h, w, f] = out.json.shapes[`${LOW_MAP_PREFIX}features`]!;
  hooks.log(
    `low map: ${h}x${w}x${f} from a trainable copy of ${lowMapSource(model.json).name}, ${LOW_MAP_SHAPES.length} default boxes per cell`,
  );
  return out;
}

/** The model with its default boxes as `s.anchors` says, logging the training boxes' coverage. */
export function withAnchors(
  model: LoadedModel,
  set: TrainingSet,
  s: Pick<TrainSettings, 'anchors'>,
  hooks: Pick<RunHooks, 'log'>,
): LoadedModel {
  const truths = set.images.map((im) => im.truth);
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (s.anchors === 'default') {
    const anchors = constData(model, model.json.ssd.anchors).data;
    hooks.log(
      `anchors: the base model's; training boxes whose best default box has IoU >= 0.5: ${pct(anchorCoverage(anchors, truths))}`,
    );
    return model;
  }
  const fit = fitAnchors(model, truths);
  const shapes = fit.shapes.map((l) => l.map((b) => `${b.h.toFixed(3)}x${b.w.toFixed(3)}`).join(' ')).join(' | ');
  hooks.log(`anchors fitted to the training boxes (h x w per feature map: ${shapes})`);
  hooks.log(`training boxes whose best default box has IoU >= 0.5: ${pct(fit.before)} before, ${pct(fit.after)} after`);
  return fit.model;
}

/** The training images in `augmentations` versions and the validation images once, through the frozen part. */
export async function buildFeatureCache(
  ctx: GpuContext,
  model: LoadedModel,
  cuts: string[],
  trainSet: TrainingSet,
  valSet: TrainingSet | undefined,
  s: Pick<TrainSettings, 'augmentations' | 'matchThreshold' | 'seed' | 'valSplit'>,
  hooks: Pick<RunHooks, 'phase' | 'tick'>,
): Promise<FeatureCache> {
  const rng = new Rng(s.seed);
  const extractor = await FeatureExtractor.create(ctx, model, cuts, Math.min(4, s.augmentations));
  try {
    hooks.phase('cache train', trainSet.images.length);
    const train = await buildCache(
      extractor,
      model,
      trainSet.images,
      { versions: s.augmentations, augment: SSD_AUGMENTATION, matchThreshold: s.matchThreshold },
      rng,
      () => hooks.tick(),
    );
    let val: FeatureCache['val'] = [];
    if (valSet) {
      hooks.phase(`cache ${s.valSplit}`, valSet.images.length);
      val = await buildCache(
        extractor,
        model,
        valSet.images,
        { versions: 1, augment: SSD_AUGMENTATION, matchThreshold: s.matchThreshold },
        rng,
        () => hooks.tick(),
      );
    }
    return { cuts, train, val };
  } finally {
    extractor.destroy();
  }
}

function describeEpoch(r: EpochRecord): string {
  const v = r.val
    ? `; val loss ${r.val.loss.toFixed(3)}, mAP@0.5 ${r.val.mAP.toFixed(3)} (${Object.entries(r.val.ap)
        .map(([c, ap]) => `${c} ${ap.toFixed(3)}`)
        .join(', ')})`
    : '';
  return `epoch ${r.epoch}: loss ${r.loss.toFixed(3)} (conf ${r.conf.toFixed(3)}, loc ${r.loc.toFixed(3)}) in ${r.seconds.toFixed(0)} s${v}`;
}

/** The trained values written into the model, named and described for the dataset. */
async function finishModel(
  model: LoadedModel,
  trained: Map<string, Float32Array>,
  s: TrainSettings,
  set: TrainingSet,
): Promise<LoadedModel> {
  const values = new Map(
    [...trained].map(([name, data]) => [name, { shape: model.json.constants[name]!.shape, data }]),
  );
  const out = withConstants(model, values);
  const dataset = basename(s.dataset);
  out.json.name = `${model.json.name}-${dataset}`;
  out.json.description = `${model.json.name} fine-tuned by mobilessd train on ${dataset} (${s.trainSplit} split, ${set.images.length} images): ${model.json.labels.slice(1).join(', ')}`;
  out.json.source = { ...model.json.source, converter: 'mobilessd-train/1' };
  out.json.weights = await weightsInfo(out.weights, out.json.weights.file);
  return out;
}
