/**
 * How well oid-v4's default boxes cover BCCD's training boxes, per class, with the base model's anchors and
 * with `--anchors fit`, at several input sizes (`--input-size`): the fraction of boxes whose best default
 * box has IoU >= 0.5 (matched by the threshold rule, not only by the forced best-box match). CPU only.
 * Writes results/bccd_anchor_coverage.md.
 *
 *   node .build/bench/anchor_coverage.js [--sizes 300,512]
 */
import { constData } from '../src/graph/weights.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { anchorCoverage, fitAnchors } from '../src/train/anchor_fit.ts';
import { readTrainingSet } from '../src/train/dataset.ts';
import type { GroundTruth } from '../src/train/targets.ts';
import { atInputSize } from '../src/train/run.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { flag, writeResult } from './lib/setup.ts';

const sizes = (flag('sizes', '300,512') ?? '').split(',').map(Number);
const dataset = sharedPath(process.cwd(), 'datasets/bccd');
const classes = (await readTrainingSet(dataset, 'train', [])).dataset.classes;
const truths = (await readTrainingSet(dataset, 'train', classes)).images.map((im) => im.truth);
const ofClass = (c: number): GroundTruth[] =>
  truths.map((t) => {
    const keep = [...t.classes.keys()].filter((j) => t.classes[j] === c);
    return {
      boxes: Float32Array.from(keep.flatMap((j) => [...t.boxes.subarray(4 * j, 4 * j + 4)])),
      classes: Int32Array.from(keep, () => c),
    };
  });
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const rows: string[] = [];
for (const size of sizes) {
  const model = await atInputSize(await resolveModel('oid-v4'), size);
  const fit = fitAnchors(model, truths);
  const cover = (m: typeof model, set: GroundTruth[]) => anchorCoverage(constData(m, m.json.ssd.anchors).data, set);
  for (const [name, m] of [
    ['default', model],
    ['fit', fit.model],
  ] as const) {
    const perClass = classes.map((_, i) => pct(cover(m, ofClass(i + 1))));
    rows.push(`| ${size} | ${name} | ${pct(cover(m, truths))} | ${perClass.join(' | ')} |`);
  }
}
const md = [
  '# BCCD: training boxes matched by a default box at IoU >= 0.5',
  '',
  `\`node .build/bench/anchor_coverage.js --sizes ${sizes.join(',')}\`: oid-v4's default boxes (\`--anchors default\`)`,
  'and the shapes `--anchors fit` chooses (k-means under 1 - IoU per feature map), on the 205 training images',
  `(${truths.reduce((n, t) => n + t.classes.length, 0)} boxes). A box below 0.5 is still trained, through the single default box the forced`,
  'best-box match gives it.',
  '',
  `| input | anchors | all boxes | ${classes.join(' | ')} |`,
  `|---|---|---|${classes.map(() => '---|').join('')}`,
  ...rows,
  '',
].join('\n');
writeResult('bccd_anchor_coverage.md', md);
console.log(md);
