/**
 * results/bccd_training.json from a `mobilessd train` folder and the `mobilessd eval --json` file of its
 * test split: test mAP@0.5, AP per class, COCO AP (all, small, medium, large), epochs, wall time, images/s
 * per phase, adapter and the settings; the loss chart is copied to results/bccd_loss.svg.
 *
 *   node .build/bench/bccd_training.js --run DIR --eval FILE.json --command "the train command"
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { History } from '../src/train/history.ts';
import type { TrainSettings } from '../src/train/run.ts';
import { flag, writeResult } from './lib/setup.ts';

interface TrainingJson {
  settings: TrainSettings;
  classes: string[];
  adapter: string;
  cacheSeconds: number;
  trainSeconds: number;
  throughput: Record<string, number>;
  history: History;
}

interface EvalJson {
  adapter: string;
  result: {
    mAP: number;
    dataset: { images: number; groundTruthBoxes: number };
    coco: { ap: number; ap50: number; ap75: number; apSmall: number; apMedium: number; apLarge: number };
    perClass: { className: string; ap: number }[];
  };
}

const run = flag('run');
const evalFile = flag('eval');
if (!run || !evalFile) throw new Error('usage: bccd_training.js --run DIR --eval FILE.json --command "..."');
const t = JSON.parse(readFileSync(join(run, 'training.json'), 'utf8')) as TrainingJson;
const e = JSON.parse(readFileSync(evalFile, 'utf8')) as EvalJson;
const r = e.result;
const last = t.history.epochs.at(-1);
const doc = {
  command: flag('command') ?? null,
  dataset: basename(t.settings.dataset),
  testSplit: { images: r.dataset.images, boxes: r.dataset.groundTruthBoxes },
  testMAP50: r.mAP,
  testAP50: Object.fromEntries(r.perClass.map((c) => [c.className, c.ap])),
  cocoAP: {
    all: r.coco.ap,
    ap50: r.coco.ap50,
    ap75: r.coco.ap75,
    small: r.coco.apSmall,
    medium: r.coco.apMedium,
    large: r.coco.apLarge,
  },
  epochs: t.history.epochs.length,
  steps: t.history.steps.length,
  wallSeconds: { featureCache: t.cacheSeconds, training: t.trainSeconds, total: t.cacheSeconds + t.trainSeconds },
  imagesPerSecond: t.throughput,
  lastEpoch: last ? { loss: last.loss, conf: last.conf, loc: last.loc, val: last.val ?? null } : null,
  adapter: { train: t.adapter, eval: e.adapter },
  settings: t.settings,
};
writeResult('bccd_training.json', `${JSON.stringify(doc, null, 1)}\n`);
copyFileSync(join(run, 'loss.svg'), writeResult('bccd_loss.svg', ''));
console.log(
  `test mAP@0.5 ${r.mAP.toFixed(3)} (${r.perClass.map((c) => `${c.className} ${c.ap.toFixed(3)}`).join(', ')})`,
);
