/**
 * `mobilessd train`: fine-tunes a pretrained SSD on a labeled dataset on the GPU (src/train/) and
 * writes a model folder that detect, eval and the browser demo load, with a loss-curve chart,
 * the training history and a checkpoint that --resume continues from.
 */
import { GpuContext } from '../gpu/context.ts';
import type { DriverChoice } from '../gpu/provider.ts';
import { DEFAULT_MODEL } from '../node/model_registry.ts';
import { installNodeGpu } from '../node_gpu.ts';
import {
  ANCHOR_CHOICES,
  CHART_FILE,
  DEFAULT_SETTINGS,
  HISTORY_FILE,
  runTraining,
  type AnchorChoice,
  type TrainSettings,
} from '../train/run.ts';
import { CONF_LOSSES, type ConfLoss } from '../train/loss_ref.ts';
import { LR_SCHEDULES, type LrSchedule } from '../train/sgd.ts';
import { helpText, parseArgs, UsageError, type CommandSpec } from './args.ts';
import { reportError } from './common.ts';
import { Progress } from './progress.ts';

const D = DEFAULT_SETTINGS;

export const trainCommand: CommandSpec = {
  name: 'train',
  summary: 'fine-tune a pretrained SSD on a labeled dataset (new classes) on the GPU',
  usage: 'mobilessd train --dataset DIR --epochs N --out DIR [options]',
  flags: [
    {
      name: 'dataset',
      alias: 'd',
      type: 'string',
      value: 'DIR',
      help: 'labeled dataset (VOC folder with ImageSets splits, COCO JSON or YOLO folder)',
    },
    {
      name: 'out',
      alias: 'o',
      type: 'string',
      value: 'DIR',
      help: 'output folder: the trained model, loss chart, history and checkpoint',
    },
    { name: 'epochs', alias: 'e', type: 'number', value: 'N', help: 'passes over the training split' },
    {
      name: 'base',
      alias: 'm',
      type: 'string',
      value: 'NAME|PATH',
      help: 'pretrained model to start from',
      default: DEFAULT_MODEL,
    },
    { name: 'split', type: 'string', value: 'NAME', help: 'training split', default: D.trainSplit },
    {
      name: 'val-split',
      type: 'string',
      value: 'NAME|none',
      help: 'split to validate on (loss and mAP@0.5)',
      default: D.valSplit,
    },
    {
      name: 'train-from',
      type: 'string',
      value: 'heads|extras|features|all|NODE',
      help: "what is trained: the predictors; also the extra feature layers; every layer from the first predictor's feature map on; everything; or every node from NODE on. The rest is frozen and cached",
      default: D.trainFrom,
    },
    {
      name: 'anchors',
      type: 'string',
      value: 'default|fit',
      help: "default boxes: the base model's, or their shapes fitted to the training boxes (k-means, IoU distance; the log gives the boxes matched at IoU >= 0.5 before and after)",
      default: D.anchors,
    },
    {
      name: 'input-size',
      type: 'number',
      value: 'PIXELS',
      help: "square input side to train and run at, anchors regenerated for its feature maps (default: the base model's)",
    },
    {
      name: 'low-map',
      type: 'boolean',
      help: 'add a predictor on the stride-8 feature map (38x38 at 300x300) with small default boxes, for small objects',
    },
    {
      name: 'conf-loss',
      type: 'string',
      value: CONF_LOSSES.join('|'),
      help: 'confidence loss: softmax cross-entropy with hard-negative mining (--neg-ratio), or focal loss on every default box',
      default: D.confLoss,
    },
    {
      name: 'focal-gamma',
      type: 'number',
      value: 'X',
      help: 'focal loss: focusing exponent (with --conf-loss focal)',
      default: D.focalGamma,
    },
    {
      name: 'focal-alpha',
      type: 'number',
      value: 'X',
      help: 'focal loss: weight of matched boxes, 1 - X of unmatched ones (with --conf-loss focal)',
      default: D.focalAlpha,
    },
    { name: 'alpha', type: 'number', value: 'X', help: 'weight of the localization loss', default: D.alpha },
    {
      name: 'neg-ratio',
      type: 'number',
      value: 'N',
      help: 'hard negatives kept per matched default box',
      default: D.negPerPos,
    },
    {
      name: 'match-iou',
      type: 'number',
      value: 'X',
      help: 'IoU above which a default box matches a ground truth (each ground truth also takes its best box)',
      default: D.matchThreshold,
    },
    { name: 'batch', type: 'number', value: 'N', help: 'images per optimizer step', default: D.batch },
    {
      name: 'micro-batch',
      type: 'number',
      value: 'N',
      help: 'images per GPU pass; gradients accumulate up to --batch',
      default: D.microBatch,
    },
    {
      name: 'lr',
      type: 'number',
      value: 'X',
      help: 'peak learning rate (linear warm-up, then cosine decay to 0)',
      default: D.lr,
    },
    {
      name: 'lr-schedule',
      type: 'string',
      value: LR_SCHEDULES.join('|'),
      help: "after the warm-up: cosine decay to 0; the SSD paper's steps (lr/10 at 2/3 and lr/100 at 5/6 of the run); or constant",
      default: D.lrSchedule,
    },
    { name: 'warmup', type: 'number', value: 'EPOCHS', help: 'warm-up length from lr/10', default: D.warmupEpochs },
    { name: 'momentum', type: 'number', value: 'X', help: 'SGD momentum', default: D.momentum },
    {
      name: 'weight-decay',
      type: 'number',
      value: 'X',
      help: 'L2 weight decay on the filters',
      default: D.weightDecay,
    },
    {
      name: 'augmentations',
      type: 'number',
      value: 'N',
      help: 'cached versions of each training image (the first unaugmented; the others random crop, flip, colour)',
      default: D.augmentations,
    },
    {
      name: 'eval-every',
      type: 'number',
      value: 'N',
      help: 'validate every N epochs and after the last (0: never)',
      default: D.evalEvery,
    },
    {
      name: 'seed',
      type: 'number',
      value: 'N',
      help: 'seed of the head initialization, augmentation and data order',
      default: D.seed,
    },
    { name: 'resume', type: 'boolean', help: 'continue from the checkpoint in --out (more --epochs extend the run)' },
    {
      name: 'driver',
      type: 'string',
      value: 'auto|hardware|lavapipe|swiftshader',
      help: 'which WebGPU adapter to use',
      default: 'auto',
    },
    { name: 'quiet', alias: 'q', type: 'boolean', help: 'no progress bars' },
  ],
  details: [
    'The loss is the SSD objective: (L_conf + L_loc) / N with softmax cross-entropy, 3 hard negatives per',
    'match and smooth L1 on the box encodings; the trained model scores classes with a softmax.',
    '',
    'example (BCCD blood cells, see the README for the figures it reaches):',
    '  mobilessd train --dataset ../shared/datasets/bccd --base oid-v4 --epochs 20 --lr 0.015 --augmentations 4 --out runs/bccd',
    '  mobilessd eval ../shared/datasets/bccd --split test --model runs/bccd',
  ].join('\n'),
};

const positiveInt = (v: unknown, name: string): number => {
  if (!(Number.isInteger(v) && (v as number) >= 1))
    throw new UsageError(`--${name} must be a positive integer, got ${v}`);
  return v as number;
};
const nonNegative = (v: unknown, name: string): number => {
  if (!(typeof v === 'number' && v >= 0)) throw new UsageError(`--${name} must be a number >= 0, got ${v}`);
  return v;
};

const oneOf = <T extends string>(v: unknown, name: string, choices: readonly T[]): T => {
  if (!choices.includes(v as T)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${v}`);
  return v as T;
};

export function trainSettings(flags: Record<string, unknown>): TrainSettings {
  for (const f of ['dataset', 'out', 'epochs'])
    if (flags[f] === undefined) throw new UsageError(`--${f} is required (see \`mobilessd train --help\`)`);
  const momentum = nonNegative(flags.momentum, 'momentum');
  if (momentum >= 1) throw new UsageError(`--momentum must be below 1, got ${momentum}`);
  const lr = nonNegative(flags.lr, 'lr');
  if (lr === 0) throw new UsageError('--lr must be above 0');
  const valSplit = flags['val-split'] as string;
  const matchIou = nonNegative(flags['match-iou'], 'match-iou');
  if (!(matchIou > 0 && matchIou < 1)) throw new UsageError(`--match-iou must be between 0 and 1, got ${matchIou}`);
  const focalAlpha = nonNegative(flags['focal-alpha'], 'focal-alpha');
  if (focalAlpha > 1) throw new UsageError(`--focal-alpha must be between 0 and 1, got ${focalAlpha}`);
  const inputSize = flags['input-size'] === undefined ? undefined : positiveInt(flags['input-size'], 'input-size');
  return {
    dataset: flags.dataset as string,
    trainSplit: flags.split as string,
    valSplit: valSplit === 'none' ? undefined : valSplit,
    base: flags.base as string,
    trainFrom: flags['train-from'] as string,
    anchors: oneOf<AnchorChoice>(flags.anchors, 'anchors', ANCHOR_CHOICES),
    inputSize,
    lowMap: flags['low-map'] === true,
    confLoss: oneOf<ConfLoss>(flags['conf-loss'], 'conf-loss', CONF_LOSSES),
    focalGamma: nonNegative(flags['focal-gamma'], 'focal-gamma'),
    focalAlpha,
    epochs: positiveInt(flags.epochs, 'epochs'),
    batch: positiveInt(flags.batch, 'batch'),
    microBatch: Math.min(positiveInt(flags['micro-batch'], 'micro-batch'), flags.batch as number),
    lr,
    momentum,
    weightDecay: nonNegative(flags['weight-decay'], 'weight-decay'),
    warmupEpochs: nonNegative(flags.warmup, 'warmup'),
    lrSchedule: oneOf<LrSchedule>(flags['lr-schedule'], 'lr-schedule', LR_SCHEDULES),
    augmentations: positiveInt(flags.augmentations, 'augmentations'),
    negPerPos: positiveInt(flags['neg-ratio'], 'neg-ratio'),
    alpha: nonNegative(flags.alpha, 'alpha'),
    matchThreshold: matchIou,
    evalEvery: Math.floor(nonNegative(flags['eval-every'], 'eval-every')),
    seed: Math.floor(nonNegative(flags.seed, 'seed')),
  };
}

export async function runTrainCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${helpText(trainCommand)}\n`);
    return 0;
  }
  let ctx: GpuContext | undefined;
  try {
    const { flags, positional } = parseArgs(trainCommand, argv);
    if (positional.length)
      throw new UsageError(`unexpected argument "${positional[0]}" (the dataset goes after --dataset)`);
    const settings = trainSettings(flags);
    const out = flags.out as string;
    const quiet = flags.quiet === true;
    const log = (m: string) => quiet || process.stderr.write(`mobilessd: ${m}\n`);
    installNodeGpu();
    ctx = await GpuContext.acquire({ driver: flags.driver as DriverChoice });
    log(`adapter: ${ctx.describe()}`);
    let bar: Progress | undefined;
    const result = await runTraining(
      ctx,
      settings,
      out,
      { resume: flags.resume === true },
      {
        log: (m) => log(m),
        phase: (name, total) => {
          bar = new Progress(total, name, quiet);
        },
        tick: (note) => bar?.tick(note),
      },
    );
    const last = result.history.epochs.at(-1);
    const lines = [
      `trained ${result.model.json.name}: ${result.history.epochs.length} epochs, ${result.history.steps.length} steps; feature cache ${result.cacheSeconds.toFixed(0)} s, training ${result.trainSeconds.toFixed(0)} s on ${ctx.describe()}`,
      ...(last
        ? [`last epoch: loss ${last.loss.toFixed(3)} (conf ${last.conf.toFixed(3)}, loc ${last.loc.toFixed(3)})`]
        : []),
      ...(result.val
        ? [
            `${settings.valSplit} mAP@0.5: ${result.val.result.mAP.toFixed(3)} (${result.val.result.perClass.map((c) => `${c.className} ${c.ap.toFixed(3)}`).join(', ')})`,
          ]
        : []),
      `wrote ${out}/model.json, ${out}/${CHART_FILE}, ${out}/${HISTORY_FILE}`,
      `evaluate: mobilessd eval ${settings.dataset} --split test --model ${out}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    ctx?.destroy();
  }
}
