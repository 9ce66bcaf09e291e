/**
 * The training knobs of `mobilessd train`: each flag parses (defaults: the SSD report's) and rejects bad
 * values with a usage error, and each has its effect on a two-image BCCD dataset, run through the CLI:
 * runs that differ only in --neg-ratio, --conf-loss focal or --low-map, the other flags all away from their
 * defaults. The trained folders then load by path in the API, and one exports with export-web.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseArgs, UsageError } from '../src/cli/args.ts';
import { trainCommand, trainSettings } from '../src/cli/train.ts';
import { constData } from '../src/graph/weights.ts';
import { load } from '../src/index.ts';
import { readModel } from '../src/node/model_files.ts';
import { readTrainingSet } from '../src/train/dataset.ts';
import type { History } from '../src/train/history.ts';
import { learningRate } from '../src/train/sgd.ts';
import { buildTargets } from '../src/train/targets.ts';
import { sharedPath } from '../scripts/shared_data.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const BCCD = sharedPath(root, 'datasets/bccd');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-train-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

const settings = (...argv: string[]) =>
  trainSettings(parseArgs(trainCommand, ['--dataset', 'd', '--out', 'o', '--epochs', '2', ...argv]).flags);

test('the knobs parse, with the report’s defaults', () => {
  const d = settings();
  assert.deepEqual(
    [d.anchors, d.inputSize, d.alpha, d.negPerPos, d.matchThreshold, d.lrSchedule, d.base],
    ['default', undefined, 1, 3, 0.5, 'cosine', 'oid-v4'],
  );
  const s = settings(
    ...['--anchors', 'fit', '--input-size', '512', '--alpha', '2', '--neg-ratio', '5', '--match-iou', '0.4'],
    ...['--lr-schedule', 'step', '--base', 'coco'],
  );
  assert.deepEqual(
    [s.anchors, s.inputSize, s.alpha, s.negPerPos, s.matchThreshold, s.lrSchedule, s.base],
    ['fit', 512, 2, 5, 0.4, 'step', 'coco'],
  );
  assert.deepEqual([d.lowMap, d.confLoss, d.focalGamma, d.focalAlpha], [false, 'mining', 2, 0.25]);
  const f = settings('--low-map', '--conf-loss', 'focal', '--focal-gamma', '1.5', '--focal-alpha', '0.5');
  assert.deepEqual([f.lowMap, f.confLoss, f.focalGamma, f.focalAlpha], [true, 'focal', 1.5, 0.5]);
  for (const [bad, message] of [
    [['--anchors', 'kmeans'], /--anchors must be one of default, fit/],
    [['--input-size', '0'], /--input-size must be a positive integer/],
    [['--input-size', '300.5'], /--input-size must be a positive integer/],
    [['--alpha', '-1'], /--alpha must be a number >= 0/],
    [['--neg-ratio', '0'], /--neg-ratio must be a positive integer/],
    [['--match-iou', '1'], /--match-iou must be between 0 and 1/],
    [['--match-iou', '0'], /--match-iou must be between 0 and 1/],
    [['--lr-schedule', 'linear'], /--lr-schedule must be one of cosine, step, constant/],
    [['--conf-loss', 'ohem'], /--conf-loss must be one of mining, focal/],
    [['--focal-gamma', '-1'], /--focal-gamma must be a number >= 0/],
    [['--focal-alpha', '1.5'], /--focal-alpha must be between 0 and 1/],
  ] as const)
    assert.throws(
      () => settings(...bad),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
      bad.join(' '),
    );
});

test('learning-rate schedules after the warm-up: cosine to 0, the SSD paper’s steps, constant', () => {
  const s = { baseLr: 0.01, totalSteps: 61, warmupSteps: 1, warmupStart: 0.1 };
  const at = (kind: 'cosine' | 'step' | 'constant', step: number) => learningRate({ ...s, kind }, step);
  assert.ok(Math.abs(at('cosine', 0) - 0.001) < 1e-12 && at('step', 0) === at('cosine', 0));
  assert.ok(Math.abs(at('cosine', 31) - 0.005) < 1e-12 && Math.abs(at('cosine', 61)) < 1e-12);
  assert.deepEqual(
    [1, 40, 41, 50, 51, 60].map((k) => at('step', k) / 0.01),
    [1, 1, 0.1, 0.1, 0.01, 0.01],
  );
  assert.deepEqual(
    [1, 30, 60].map((k) => at('constant', k)),
    [0.01, 0.01, 0.01],
  );
});

/** A VOC dataset of two BCCD images (BloodImage_00005 and 00006: 6 platelets, 2 white and 32 red cells). */
function tinyBccd(): string {
  const dir = join(work, 'bccd2');
  mkdirSync(join(dir, 'ImageSets/Main'), { recursive: true });
  symlinkSync(join(BCCD, 'Annotations'), join(dir, 'Annotations'));
  symlinkSync(join(BCCD, 'JPEGImages'), join(dir, 'JPEGImages'));
  writeFileSync(join(dir, 'ImageSets/Main/train.txt'), 'BloodImage_00005\nBloodImage_00006\n');
  return dir;
}

function train(dataset: string, out: string, ...flags: string[]) {
  const r = spawnSync(
    process.execPath,
    [cliJs, 'train', '--dataset', dataset, '--out', out, '--epochs', '1', '--batch', '1', ...flags],
    { cwd: root, encoding: 'utf8', timeout: 300_000 },
  );
  assert.equal(r.status, 0, r.stderr);
  const { history, throughput } = JSON.parse(readFileSync(join(out, 'training.json'), 'utf8')) as {
    history: History;
    throughput: Record<string, number>;
  };
  return { stderr: r.stderr, history, throughput };
}

test('each knob has its effect on a two-image dataset', async () => {
  const dataset = tinyBccd();
  const common = [
    ...['--val-split', 'none', '--train-from', 'heads', '--augmentations', '1', '--warmup', '0', '--lr', '0.001'],
    ...['--anchors', 'fit', '--input-size', '256', '--alpha', '2', '--match-iou', '0.4', '--lr-schedule', 'constant'],
  ];
  const a = train(dataset, join(work, 'a'), ...common);
  const b = train(dataset, join(work, 'b'), ...common, '--neg-ratio', '5');
  const c = train(dataset, join(work, 'c'), ...common, '--conf-loss', 'focal');
  const d = train(dataset, join(work, 'd'), ...common, '--low-map');

  // Images per second of every phase are recorded.
  assert.deepEqual(Object.keys(a.throughput).sort(), ['backward', 'featureCache', 'forward', 'update']);
  for (const v of Object.values(a.throughput)) assert.ok(Number.isFinite(v) && v > 0, JSON.stringify(a.throughput));

  // --input-size and --anchors fit: the model runs at 256 with default boxes fitted to the training boxes.
  const model = await readModel(join(work, 'a'));
  assert.deepEqual([model.json.preprocess.height, model.json.preprocess.width], [256, 256]);
  assert.equal(model.json.ssd.anchorGenerator?.options.inputHeight, 256);
  assert.equal(model.json.ssd.anchorGenerator?.options.cellShapes?.length, 6);
  const coverage = /IoU >= 0\.5: ([\d.]+)% before, ([\d.]+)% after/.exec(a.stderr);
  assert.ok(coverage && Number(coverage[2]) > Number(coverage[1]), a.stderr);

  // --match-iou: the matches are those of these default boxes at IoU 0.4 (not 0.5).
  const anchors = constData(model, model.json.ssd.anchors).data;
  const truths = (await readTrainingSet(dataset, 'train', ['Platelets', 'RBC', 'WBC'])).images.map((im) => im.truth);
  const positives = (iou: number) =>
    truths.reduce((n, t) => n + buildTargets(anchors, t, model.json.ssd.scales, iou).positives, 0);
  const matched = a.history.steps.reduce((n, s) => n + s.matched, 0);
  assert.equal(matched, positives(0.4));
  assert.notEqual(matched, positives(0.5));

  // --alpha 2: loss = conf + 2 loc. --lr-schedule constant: cosine would halve the second step's rate.
  for (const s of a.history.steps) assert.ok(Math.abs(s.loss - (s.conf + 2 * s.loc)) <= 1e-5 * s.loss, `${s.loss}`);
  assert.deepEqual(
    a.history.steps.map((s) => s.lr),
    [0.001, 0.001],
  );

  // --neg-ratio 5: the same first step mines more negatives, so only the confidence loss grows.
  const [sa, sb] = [a.history.steps[0]!, b.history.steps[0]!];
  assert.equal(sb.matched, sa.matched);
  assert.ok(Math.abs(sb.loc - sa.loc) <= 1e-6 * sa.loc);
  assert.ok(sb.conf > sa.conf, `conf ${sa.conf} -> ${sb.conf}`);

  // --conf-loss focal: the same matches and box loss; the confidence loss of the new heads (background 0.99
  // everywhere) is about alpha = 0.25 of the matches' cross-entropy, the easy negatives adding almost nothing.
  const sc = c.history.steps[0]!;
  assert.equal(sc.matched, sa.matched);
  assert.ok(Math.abs(sc.loc - sa.loc) <= 1e-6 * sa.loc);
  assert.ok(sc.conf < 0.3 * sa.conf, `conf ${sa.conf} -> ${sc.conf}`);

  // --low-map: a 32x32 map at 256 with its own default boxes (fitted too), trained from its own cached tensor (block 5's output);
  // the platelets match more default boxes. The folder runs in the API below like the others.
  assert.match(d.stderr, /low map: 32x32x192 from a trainable copy of .*expanded_conv_6\/expand/);
  assert.match(d.stderr, /cached tensor\(s\): .*expanded_conv_5\/add/);
  const low = await readModel(join(work, 'd'));
  assert.equal(low.json.ssd.anchorGenerator?.options.cellShapes?.length, 7);
  assert.equal(low.json.shapes[low.json.outputs.boxes]![1], anchors.length / 4 + 32 * 32 * 4);
  assert.ok(d.history.steps[0]!.matched > sa.matched, `${sa.matched} -> ${d.history.steps[0]!.matched} matches`);

  // The trained folder is a model: the API loads it by path (at its 256 input), and export-web exports it.
  for (const folder of ['a', 'd']) {
    const det = await load(join(work, folder));
    try {
      assert.deepEqual(det.labels, ['background', 'Platelets', 'RBC', 'WBC']);
      assert.deepEqual([det.info.input.height, det.info.input.width], [256, 256]);
      const found = await det.detect(join(BCCD, 'JPEGImages/BloodImage_00005.jpg'), { scoreThreshold: 0 });
      assert.ok(found.length > 0 && found.every((d) => ['Platelets', 'RBC', 'WBC'].includes(d.label)), folder);
    } finally {
      det.dispose();
    }
  }
  const web = join(work, 'web');
  const exported = spawnSync(
    process.execPath,
    [cliJs, 'export-web', '--model', join(work, 'a'), '--out', web, '--name', 'bccd'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  assert.equal(exported.status, 0, exported.stderr);
  const manifest = JSON.parse(readFileSync(join(web, 'manifest.json'), 'utf8')) as { models: Record<string, unknown> };
  assert.deepEqual(Object.keys(manifest.models), ['bccd']);
  assert.equal((await readModel(join(web, 'bccd'))).json.preprocess.height, 256);
});

test('--base: the bundled models that cannot train yet are refused before any work, saying why', () => {
  for (const [base, why] of [
    ['coco', /quantized \(uint8\)/],
    ['face', /letterboxes its input \(pad-bottom-right\)/],
  ] as const) {
    const r = spawnSync(
      process.execPath,
      [cliJs, 'train', '--dataset', BCCD, '--out', join(work, base), '--epochs', '1', '--base', base],
      { cwd: root, encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /error \[INVALID_OPTION\]: invalid base/);
    assert.match(r.stderr, why);
  }
});
