/**
 * The training knobs of issue 16 compared on a short schedule on BCCD: the frozen part of oid-v4
 * (`--train-from features`) runs once per training image version into one feature cache, and every
 * configuration trains from that cache, with its own default boxes and targets (retargetCache), for
 * the same epochs, then is scored on the validation split (mAP@0.5, the recipe of `mobilessd eval`).
 * The cache holds the tensors of the `--low-map` model's region, a superset of the others'. The input
 * size changes the cached features: `--input-size` runs every row at that size from its own cache.
 * Writes results/bccd_ablation.md and results/bccd_ablation.json (`--out NAME` for other names)
 * after each configuration; rows of an earlier run in them are kept, marked as such.
 *
 *   node .build/bench/train_ablation.js [--epochs 6] [--augmentations 1] [--lr 0.015] [--only a,b]
 *     [--input-size 512] [--out bccd_ablation]
 */
import { resolveModel } from '../src/node/model_registry.ts';
import { constData } from '../src/graph/weights.ts';
import { anchorCoverage } from '../src/train/anchor_fit.ts';
import { retargetCache } from '../src/train/cache.ts';
import { readTrainingSet, type TrainingSet } from '../src/train/dataset.ts';
import { trainingRegion } from '../src/train/graph.ts';
import { DEFAULT_HEAD_INIT, newClassHeads } from '../src/train/model_surgery.ts';
import { Rng } from '../src/train/rng.ts';
import { addLowMap } from '../src/train/low_map.ts';
import { atInputSize, buildFeatureCache, DEFAULT_SETTINGS, withAnchors, type TrainSettings } from '../src/train/run.ts';
import { Trainer } from '../src/train/trainer.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchGpu, flag, machine, resultsDir, writeResult } from './lib/setup.ts';

interface Config {
  name: string;
  /** The `mobilessd train` flags that select it. */
  flags: string;
  settings: Partial<TrainSettings>;
}

const FOCAL = { confLoss: 'focal' } as const;
const CONFIGS: Config[] = [
  { name: 'baseline', flags: '', settings: {} },
  { name: 'fit', flags: '--anchors fit', settings: { anchors: 'fit' } },
  { name: 'fit-lowmap', flags: '--anchors fit --low-map', settings: { anchors: 'fit', lowMap: true } },
  {
    name: 'fit-lowmap-focal',
    flags: '--anchors fit --low-map --conf-loss focal',
    settings: { anchors: 'fit', lowMap: true, ...FOCAL },
  },
  { name: 'fit-focal', flags: '--anchors fit --conf-loss focal', settings: { anchors: 'fit', ...FOCAL } },
  { name: 'lowmap', flags: '--low-map', settings: { lowMap: true } },
  {
    name: 'fit-iou0.4',
    flags: '--anchors fit --match-iou 0.4',
    settings: { anchors: 'fit', matchThreshold: 0.4 },
  },
  { name: 'fit-alpha2', flags: '--anchors fit --alpha 2', settings: { anchors: 'fit', alpha: 2 } },
  { name: 'fit-neg5', flags: '--anchors fit --neg-ratio 5', settings: { anchors: 'fit', negPerPos: 5 } },
  {
    name: 'fit-step',
    flags: '--anchors fit --lr-schedule step',
    settings: { anchors: 'fit', lrSchedule: 'step' },
  },
];

interface Row {
  name: string;
  flags: string;
  coverage: number;
  plateletCoverage: number;
  mAP: number;
  ap: Record<string, number>;
  lastLoss: number;
  seconds: number;
}

const dataset = sharedPath(process.cwd(), 'datasets/bccd');
const epochs = Number(flag('epochs', '6'));
const augmentations = Number(flag('augmentations', '1'));
const lr = Number(flag('lr', '0.015'));
const only = flag('only')?.split(',');
const inputSize = flag('input-size') === undefined ? undefined : Number(flag('input-size'));
const out = flag('out', 'bccd_ablation')!;
const side = inputSize ?? 300;
const command = `node .build/bench/train_ablation.js ${process.argv.slice(2).join(' ')}`;

interface Run {
  command: string;
  epochs: number;
  augmentations: number;
  lr: number;
  inputSize?: number;
  cacheSeconds: number;
  machine: string;
  rows: Row[];
}
/** The runs already in the results file, newest first: kept below this run's table. */
const earlier: Run[] = (() => {
  const file = join(resultsDir(), `${out}.json`);
  if (!existsSync(file)) return [];
  const prior = JSON.parse(readFileSync(file, 'utf8')) as Run & { earlier?: Run[] };
  const command =
    prior.command ??
    `node .build/bench/train_ablation.js --epochs ${prior.epochs} --augmentations ${prior.augmentations} --lr ${prior.lr}`;
  return [{ ...prior, command, earlier: undefined } as Run, ...(prior.earlier ?? [])];
})();

/** The boxes of class column `c` only. */
function ofClass(set: TrainingSet, c: number) {
  return set.images.map(({ truth }) => {
    const keep = [...truth.classes.keys()].filter((j) => truth.classes[j] === c);
    return {
      boxes: Float32Array.from(keep.flatMap((j) => [...truth.boxes.subarray(4 * j, 4 * j + 4)])),
      classes: Int32Array.from(keep, () => c),
    };
  });
}

function table(rows: Row[], classes: string[], header: string): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}`;
  return [
    header,
    '',
    `| configuration | flags | train boxes matched at IoU >= 0.5 (Platelets) | val mAP@0.5 | ${classes.join(' | ')} | last loss | seconds |`,
    `|---|---|---|---|${classes.map(() => '---|').join('')}---|---|`,
    ...rows.map(
      (r) =>
        `| ${r.name} | \`${r.flags || '(defaults)'}\` | ${pct(r.coverage)}% (${pct(r.plateletCoverage)}%) | **${pct(r.mAP)}** | ${classes
          .map((c) => pct(r.ap[c] ?? 0))
          .join(' | ')} | ${r.lastLoss.toFixed(3)} | ${r.seconds.toFixed(0)} |`,
    ),
    '',
  ].join('\n');
}

const ctx = await benchGpu();
const classes = (await readTrainingSet(dataset, 'train', [])).dataset.classes;
const trainSet = await readTrainingSet(dataset, 'train', classes);
const valSet = await readTrainingSet(dataset, 'val', classes);
const base = await atInputSize(await resolveModel('oid-v4'), inputSize);
const model0 = newClassHeads(base, classes, DEFAULT_HEAD_INIT);
const modelLow = newClassHeads(addLowMap(base), classes, DEFAULT_HEAD_INIT);
const region = trainingRegion(modelLow.json, 'features');
const quiet = { phase: () => {}, tick: () => {} };
const t0 = performance.now();
const cache = await buildFeatureCache(
  ctx,
  modelLow,
  region.cuts,
  trainSet,
  valSet,
  { augmentations, matchThreshold: 0.5, seed: 1, valSplit: 'val' },
  quiet,
);
const cacheSeconds = (performance.now() - t0) / 1000;
console.log(
  `feature cache: ${cache.train.length} x ${augmentations} + ${cache.val.length} in ${cacheSeconds.toFixed(0)} s`,
);

const platelets = ofClass(trainSet, classes.indexOf('Platelets') + 1);
const rows: Row[] = [];
for (const c of CONFIGS.filter((c) => !only || only.includes(c.name))) {
  const s: TrainSettings = { ...DEFAULT_SETTINGS, dataset, epochs, lr, augmentations, inputSize, ...c.settings };
  const model = withAnchors(s.lowMap ? modelLow : model0, trainSet, s, { log: (m) => console.log(`${c.name}: ${m}`) });
  const anchors = constData(model, model.json.ssd.anchors).data;
  const own = trainingRegion(model.json, 'features');
  const trainer = await Trainer.create(ctx, model, own, retargetCache(cache, model, s.matchThreshold), s);
  const t1 = performance.now();
  try {
    const rng = new Rng(s.seed ^ 0x9e3779b9);
    let lastLoss = NaN;
    for (let e = 1; e <= epochs; e++) {
      const { record } = await trainer.epoch(e, rng);
      lastLoss = record.loss;
      console.log(`${c.name}: epoch ${e} loss ${record.loss.toFixed(3)} in ${record.seconds.toFixed(0)} s`);
    }
    const val = await trainer.validate(valSet);
    rows.push({
      name: c.name,
      flags: c.flags,
      coverage: anchorCoverage(
        anchors,
        trainSet.images.map((im) => im.truth),
      ),
      plateletCoverage: anchorCoverage(anchors, platelets),
      mAP: val.result.mAP,
      ap: Object.fromEntries(val.result.perClass.map((p) => [p.className, p.ap])),
      lastLoss,
      seconds: (performance.now() - t1) / 1000,
    });
    console.log(`${c.name}: val mAP@0.5 ${val.result.mAP.toFixed(3)}`);
  } finally {
    trainer.destroy();
  }
  const header = [
    '# BCCD: the training knobs on a short schedule',
    '',
    `\`${command}\` on ${machine(ctx)}.`,
    `oid-v4, \`--train-from features\`, ${epochs} epochs at lr ${lr} (1-epoch warm-up, cosine unless the flags say otherwise),`,
    `batch 32, ${augmentations} cached version(s) per training image from one feature cache (${cacheSeconds.toFixed(0)} s);`,
    'validation split (87 images), mAP@0.5 VOC all-point, AP per class in %. Seconds: training and validation of that row.',
  ].join('\n');
  const before = earlier.map((r) =>
    table(
      r.rows,
      classes,
      `## Earlier run: \`${r.command}\` on ${r.machine}, feature cache ${r.cacheSeconds.toFixed(0)} s`,
    ),
  );
  writeResult(`${out}.md`, [table(rows, classes, header), ...before].join('\n'));
  const result: Run = {
    command,
    epochs,
    augmentations,
    lr,
    inputSize: side,
    cacheSeconds,
    machine: machine(ctx),
    rows,
  };
  writeResult(`${out}.json`, `${JSON.stringify({ ...result, earlier }, null, 1)}\n`);
}
ctx.destroy();
