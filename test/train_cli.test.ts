/**
 * `mobilessd train` end to end on a tiny BCCD dataset (three training images, one validation image, class heads
 * only, one cached version per image): the model, chart, history and checkpoint it writes agree with each other and
 * with `mobilessd eval`; a run stopped after its first epoch and continued with --resume ends bit for bit where an
 * uninterrupted run does; a checkpoint is never overwritten by a run that was not asked to resume it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseArgs } from '../src/cli/args.ts';
import { trainCommand, trainSettings } from '../src/cli/train.ts';
import { parseXml } from '../src/eval/datasets/xml.ts';
import { readModel } from '../src/node/model_files.ts';
import type { CheckpointState } from '../src/train/checkpoint.ts';
import type { History } from '../src/train/history.ts';
import { runTraining } from '../src/train/run.ts';
import { learningRate } from '../src/train/sgd.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import type { Detection } from '../src/detect_types.ts';
import { iou } from '../src/eval/iou.ts';
import { load } from '../src/index.ts';
import { openDemoBrowser, type DemoState } from './support/demo_browser.ts';
import { gpu, releaseGpu } from './support/gpu.ts';

/** What the page's detector offers the test (web/app.ts keeps the loaded one in window.mobilessdDemo). */
interface ObjectDetectorLike {
  detect(input: unknown, o: { scoreThreshold: number }): Promise<Detection[]>;
}

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-train-cli-'));
after(async () => {
  rmSync(work, { recursive: true, force: true });
  await releaseGpu();
});

const TRAIN = ['BloodImage_00005', 'BloodImage_00006', 'BloodImage_00008'];
const VAL = ['BloodImage_00007'];

/** A VOC dataset of four BCCD images with train and val split lists. */
function tinyDataset(): string {
  const bccd = sharedPath(root, 'datasets/bccd');
  const dir = join(work, 'bccd4');
  for (const sub of ['Annotations', 'JPEGImages', 'ImageSets/Main']) mkdirSync(join(dir, sub), { recursive: true });
  for (const id of [...TRAIN, ...VAL]) {
    copyFileSync(join(bccd, 'JPEGImages', `${id}.jpg`), join(dir, 'JPEGImages', `${id}.jpg`));
    copyFileSync(join(bccd, 'Annotations', `${id}.xml`), join(dir, 'Annotations', `${id}.xml`));
  }
  writeFileSync(join(dir, 'ImageSets/Main/train.txt'), `${TRAIN.join('\n')}\n`);
  writeFileSync(join(dir, 'ImageSets/Main/val.txt'), `${VAL.join('\n')}\n`);
  return dir;
}
const dataset = tinyDataset();

/** Batch 2 of 3 images: two optimizer steps per epoch, the second a partial batch; micro-batches of 1 add up. */
const trainArgs = (out: string, epochs: number) => [
  ...['--dataset', dataset, '--out', out, '--epochs', String(epochs), '--train-from', 'heads'],
  ...['--augmentations', '1', '--batch', '2', '--micro-batch', '1', '--eval-every', '1', '--quiet'],
];

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJson = <T>(file: string) => JSON.parse(readFileSync(file, 'utf8')) as T;
interface TrainingJson {
  settings: Record<string, unknown>;
  classes: string[];
  history: History;
}
/** The history without wall-clock seconds (which no two runs share). */
const timeless = (h: History) => ({ steps: h.steps, epochs: h.epochs.map(({ seconds: _, ...r }) => r) });

const full = join(work, 'full');
let fullRun: ReturnType<typeof cli> | undefined;
/** The uninterrupted two-epoch run, made once for the tests that compare with it. */
function fullTwoEpochs() {
  fullRun ??= cli('train', ...trainArgs(full, 2));
  assert.equal(fullRun.code, 0, fullRun.stderr);
  return fullRun;
}

test('train writes a model that loads, a history and checkpoint that agree, a chart, and a validation mAP that eval reproduces', async () => {
  const r = fullTwoEpochs();
  assert.match(r.stdout, /^trained oid-v4-bccd4: 2 epochs, 4 steps;/m);
  const model = await readModel(full);
  assert.deepEqual(model.json.labels, ['background', 'Platelets', 'RBC', 'WBC']);
  assert.equal(model.json.ssd.scoreFunction, 'softmax');
  const doc = readJson<TrainingJson>(join(full, 'training.json'));
  assert.deepEqual(doc.classes, ['Platelets', 'RBC', 'WBC']);
  assert.equal(doc.settings.trainFrom, 'heads');
  const h = doc.history;

  // Steps are numbered across epochs and follow the schedule: one warm-up epoch (2 steps) from lr/10, then cosine.
  assert.deepEqual(
    h.steps.map((s) => [s.step, s.epoch]),
    [
      [0, 1],
      [1, 1],
      [2, 2],
      [3, 2],
    ],
  );
  const schedule = { kind: 'cosine' as const, baseLr: 0.001, totalSteps: 4, warmupSteps: 2, warmupStart: 0.1 };
  for (const s of h.steps) assert.equal(s.lr, learningRate(schedule, s.step), `step ${s.step} lr`);
  for (const s of h.steps) {
    assert.ok(s.matched > 0 && Number.isFinite(s.loss), `step ${s.step}: ${s.matched} matched, loss ${s.loss}`);
    assert.ok(Math.abs(s.loss - (s.conf + s.loc)) <= 1e-12 * s.loss, `step ${s.step}: loss = conf + loc (alpha 1)`);
  }
  // An epoch's figures are the means of its steps'; with --eval-every 1 each epoch is validated.
  for (const e of h.epochs) {
    const steps = h.steps.filter((s) => s.epoch === e.epoch);
    assert.ok(Math.abs(e.loss - (steps[0]!.loss + steps[1]!.loss) / 2) <= 1e-12 * e.loss, `epoch ${e.epoch} loss`);
    assert.ok(e.val && e.val.loss > 0 && e.val.mAP >= 0 && e.val.mAP <= 1, `epoch ${e.epoch} val`);
    // The validation image has red and white cells but no platelet: only those two classes are scored.
    assert.deepEqual(Object.keys(e.val.ap).sort(), ['RBC', 'WBC']);
  }
  const last = h.epochs[1]!.val!;
  assert.ok(r.stdout.includes(`val mAP@0.5: ${last.mAP.toFixed(3)} (RBC ${last.ap.RBC!.toFixed(3)}`), r.stdout);

  // The checkpoint holds the same history, both epochs and all steps done, and parameters + momentum in its binary.
  const ck = readJson<CheckpointState>(join(full, 'checkpoint.json'));
  assert.deepEqual([ck.epochsDone, ck.stepsDone], [2, 4]);
  assert.deepEqual(ck.history, h);
  assert.equal(statSync(join(full, 'checkpoint.bin')).size, 8 * ck.floats);

  // The chart: train loss, L_conf / N and L_loc / N, val loss and val mAP, each a line over the two epochs.
  const svg = parseXml(readFileSync(join(full, 'loss.svg'), 'utf8'), 'loss.svg');
  assert.equal(svg.name, 'svg');
  assert.equal(svg.children.filter((c) => c.name === 'polyline').length, 5);

  // eval on the validation split with the written model: the product detector (GPU preprocessing, whole network,
  // GPU SSD head) against training's validation (cached features, CPU head), on the same recipe. Measured equal
  // to the last bit; a tolerance of 1e-9 only allows for summation order.
  const json = join(work, 'eval-val.json');
  const e = cli('eval', dataset, '--split', 'val', '--model', full, '--json', json, '--quiet');
  assert.equal(e.code, 0, e.stderr);
  const ev = readJson<{ result: { mAP: number; perClass: { className: string; ap: number }[] } }>(json).result;
  assert.ok(Math.abs(ev.mAP - last.mAP) <= 1e-9, `eval mAP ${ev.mAP}, training's validation ${last.mAP}`);
  for (const c of ev.perClass) assert.ok(Math.abs(c.ap - last.ap[c.className]!) <= 1e-9, c.className);
});

test('the demo page opens the trained folder by URL, from the folder picker and dropped, and detects as Node does', async (t) => {
  fullTwoEpochs();
  const b = await openDemoBrowser({ mounts: { '/trained/': full } });
  try {
    const node = await load(full, { context: await gpu() });
    assert.deepEqual(node.classes, [
      { id: 1, label: 'Platelets' },
      { id: 2, label: 'RBC' },
      { id: 3, label: 'WBC' },
    ]);
    const { page } = b;
    const image = join(dataset, 'JPEGImages', `${VAL[0]}.jpg`);
    // The model that is loaded, its classes as the page lists them, and what it detects on the picture shown next
    // to what Node's detector of the same folder detects on the page's own pixels (Chromium decodes JPEGs itself).
    const loadedAs = async (how: string, model: RegExp) => {
      await page.waitForFunction(() => window.mobilessdDemo.status !== 'loading', null, { timeout: 90_000 });
      await page.waitForFunction(() => window.mobilessdDemo.results.length >= 1 || !!window.mobilessdDemo.message);
      const state = await page.evaluate(async () => {
        const demo = window.mobilessdDemo as DemoState & { detector: ObjectDetectorLike };
        const c = document.getElementById('picture') as HTMLCanvasElement;
        const bytes = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        const classes = [...document.querySelectorAll('#class-list label')].map((l) => l.textContent);
        const found = demo.detector ? await demo.detector.detect(c, { scoreThreshold: 0.05 }) : [];
        const option = (document.getElementById('model') as HTMLSelectElement).selectedOptions[0]!.text;
        const { status, message } = demo;
        return { status, message, classes, found, option, base64: btoa(s), w: c.width, h: c.height };
      });
      assert.equal(
        state.message,
        null,
        `${how}: the page shows ${JSON.stringify(state.message)}\n${b.consoleLines.join('\n')}`,
      );
      assert.equal(state.status, 'ready', how);
      assert.match(state.option, model, `${how}: the model list shows ${state.option}`);
      assert.deepEqual(state.classes, ['Platelets', 'RBC', 'WBC'], how);
      const pixels = { data: new Uint8Array(Buffer.from(state.base64, 'base64')), width: state.w, height: state.h };
      const ref = await node.detect(pixels, { scoreThreshold: 0.05 });
      assert.ok(ref.length > 0, `${how}: Node finds nothing to compare with`);
      assert.deepEqual(
        state.found.map((d) => d.label),
        ref.map((d) => d.label),
        how,
      );
      state.found.forEach((d, i) => {
        assert.ok(iou(d.box, ref[i]!.box) >= 0.99, `${how}: ${d.label} #${i} IoU ${iou(d.box, ref[i]!.box)}`);
        assert.ok(Math.abs(d.score - ref[i]!.score) <= 1e-3, `${how}: ${d.label} #${i} ${d.score} vs ${ref[i]!.score}`);
      });
      t.diagnostic(`${how}: "${state.option}", ${state.found.length} detections at score >= 0.05 equal to Node's`);
    };

    // By URL: ?model= takes any model folder the page can fetch.
    await page.goto(`${b.server.origin}/?model=/trained/&image=`);
    await page.setInputFiles('#file', image);
    await loadedAs('?model=/trained/', /^\/trained\/ \(URL\)$/);

    // The folder picker (webkitdirectory): the whole training output, checkpoint and chart included.
    await page.evaluate(() => (window.mobilessdDemo.results.length = 0));
    await page.setInputFiles('#model-folder', full);
    await loadedAs('folder picker', /\(your folder\)$/);

    // Dropped model.json and weights.bin (a synthetic drop carries files, not folder entries).
    await page.evaluate(() => (window.mobilessdDemo.results.length = 0));
    const files = ['model.json', 'weights.bin'].map((f) => ({
      name: f,
      base64: readFileSync(join(full, f)).toString('base64'),
    }));
    await page.evaluate((list) => {
      const dt = new DataTransfer();
      for (const f of list) dt.items.add(new File([Uint8Array.from(atob(f.base64), (ch) => ch.charCodeAt(0))], f.name));
      document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, files);
    await loadedAs('dropped files', /^dropped \(your folder\)$/);

    // A folder without its weights is refused with what to do.
    await page.evaluate(() => (window.mobilessdDemo.results.length = 0));
    await page.evaluate(
      (json) => {
        const dt = new DataTransfer();
        dt.items.add(new File([json], 'model.json'));
        document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      },
      readFileSync(join(full, 'model.json'), 'utf8'),
    );
    await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'model', null, { timeout: 30_000 });
    const message = await page.evaluate(() => window.mobilessdDemo.message!);
    assert.match(
      message.detail,
      /weights\.bin .*is not among the files given[\s\S]*whole model folder/,
      message.detail,
    );
    node.dispose();
  } finally {
    await b.close();
  }
});

test('a run stopped after epoch 1 and continued with --resume ends bit for bit where the uninterrupted run does', async () => {
  fullTwoEpochs();
  const out = join(work, 'resumed');
  // The first run stops as a Ctrl-C would after epoch 1's checkpoint: the hook that starts epoch 2 throws.
  const settings = trainSettings(parseArgs(trainCommand, trainArgs(out, 2)).flags);
  const stop = new Error('stopped');
  const hooks = {
    log: () => {},
    tick: () => {},
    phase: (name: string) => {
      if (name.startsWith('epoch 2/')) throw stop;
    },
  };
  await assert.rejects(runTraining(await gpu(), settings, out, { resume: false }, hooks), (e) => e === stop);
  const ck = readJson<CheckpointState>(join(out, 'checkpoint.json'));
  assert.deepEqual([ck.epochsDone, ck.stepsDone, ck.history.epochs.length], [1, 2, 1]);

  // Without --resume the checkpoint is refused and nothing in the folder changes.
  const before = readFileSync(join(out, 'checkpoint.bin'));
  const refused = cli('train', ...trainArgs(out, 2));
  assert.equal(refused.code, 1);
  assert.match(
    refused.stderr,
    /error \[CHECKPOINT\]: .*resumed holds the checkpoint of an earlier run\n {2}hint: pass --resume/,
  );
  // Nor does a resume with other settings continue it: the message names what differs.
  const other = cli('train', ...trainArgs(out, 2), '--resume', '--lr', '0.002');
  assert.equal(other.code, 1);
  assert.match(
    other.stderr,
    /error \[CHECKPOINT\]: .*was made with other settings \(lr: 0\.001 -> 0\.002\)\n {2}hint: /,
  );
  assert.ok(readFileSync(join(out, 'checkpoint.bin')).equals(before), 'a refused run leaves the checkpoint alone');

  const r = cli('train', ...trainArgs(out, 2), '--resume');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^trained oid-v4-bccd4: 2 epochs, 4 steps;/m);
  // Parameters, momentum, data order and step count all continued: the same weights, checkpoint and history.
  for (const f of ['weights.bin', 'checkpoint.bin'])
    assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(full, f))), `${f} differs from the full run's`);
  const resumed = readJson<TrainingJson>(join(out, 'training.json'));
  const uninterrupted = readJson<TrainingJson>(join(full, 'training.json'));
  assert.deepEqual(resumed.settings, uninterrupted.settings);
  assert.deepEqual(timeless(resumed.history), timeless(uninterrupted.history));
  assert.deepEqual(resumed.history.epochs[0], ck.history.epochs[0], "epoch 1's record is the checkpoint's own");
});

test('--resume with more --epochs extends a finished run: its history kept, the schedule stretched to the new end', () => {
  fullTwoEpochs();
  const out = join(work, 'extended');
  cpSync(full, out, { recursive: true });
  const r = cli('train', ...trainArgs(out, 3), '--resume');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^trained oid-v4-bccd4: 3 epochs, 6 steps;/m);
  const h = readJson<TrainingJson>(join(out, 'training.json')).history;
  const before = readJson<TrainingJson>(join(full, 'training.json')).history;
  assert.deepEqual(h.epochs.slice(0, 2), before.epochs);
  assert.deepEqual(h.steps.slice(0, 4), before.steps);
  const schedule = { kind: 'cosine' as const, baseLr: 0.001, totalSteps: 6, warmupSteps: 2, warmupStart: 0.1 };
  assert.deepEqual(
    h.steps.slice(4).map((s) => [s.step, s.epoch, s.lr]),
    [4, 5].map((k) => [k, 3, learningRate(schedule, k)]),
  );
  assert.ok(h.epochs[2]!.val, 'epoch 3 validated');
  assert.ok(!readFileSync(join(out, 'weights.bin')).equals(readFileSync(join(full, 'weights.bin'))), 'trained on');
});

test('--val-split none trains without validation: none in the history, the chart or the summary', async () => {
  const out = join(work, 'no-val');
  const r = cli('train', ...trainArgs(out, 1), '--val-split', 'none');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^trained oid-v4-bccd4: 1 epochs, 2 steps;/m);
  assert.doesNotMatch(r.stdout, /mAP/);
  const doc = readJson<TrainingJson>(join(out, 'training.json'));
  assert.equal(doc.settings.valSplit, undefined);
  assert.equal(doc.history.epochs.length, 1);
  assert.equal(doc.history.epochs[0]!.val, undefined);
  // Train loss and its two parts; no validation loss or mAP line.
  const svg = parseXml(readFileSync(join(out, 'loss.svg'), 'utf8'), 'loss.svg');
  assert.equal(svg.children.filter((c) => c.name === 'polyline').length, 3);
  assert.deepEqual((await readModel(out)).json.labels, ['background', 'Platelets', 'RBC', 'WBC']);
});

test("train's refusals say what is wrong and what to do: bad flags, a damaged checkpoint, divergence, no boxes", () => {
  const out = join(work, 'refusals');
  for (const [args, message] of [
    [['--out', out, '--epochs', '1'], /--dataset is required/],
    [['--dataset', dataset, '--out', out, '--epochs', '1', '--momentum', '1'], /--momentum must be below 1, got 1/],
    [['--dataset', dataset, '--out', out, '--epochs', '0'], /--epochs must be a positive integer, got 0/],
  ] as const) {
    const r = cli('train', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
  // A checkpoint whose binary lost its end: named, with the way out.
  fullTwoEpochs();
  cpSync(full, out, { recursive: true });
  writeFileSync(join(out, 'checkpoint.bin'), readFileSync(join(out, 'checkpoint.bin')).subarray(0, 1000));
  const damaged = cli('train', ...trainArgs(out, 2), '--resume');
  assert.equal(damaged.code, 1, damaged.stderr);
  assert.match(
    damaged.stderr,
    /error \[CHECKPOINT\]: .*checkpoint\.bin: 1000 bytes, expected \d+\n {2}hint: restore both/,
  );
  // A learning rate far too high: the loss stops being finite, and the message says what to change.
  const diverged = cli('train', ...trainArgs(join(work, 'diverged'), 1), '--lr', '1e30');
  assert.equal(diverged.code, 1, diverged.stderr);
  assert.match(
    diverged.stderr,
    /error \[TRAINING_DIVERGED\]: the training loss diverged at step \d+ \(epoch 1, learning rate [\d.e+]+\): loss [\d.e+]+\n {2}hint: train again with a lower --lr/,
  );
  // A split whose images have no labeled boxes has nothing to train on.
  const empty = join(work, 'empty');
  mkdirSync(join(empty, 'ImageSets/Main'), { recursive: true });
  cpSync(join(dataset, 'JPEGImages'), join(empty, 'JPEGImages'), { recursive: true });
  mkdirSync(join(empty, 'Annotations'));
  writeFileSync(
    join(empty, 'Annotations', `${VAL[0]}.xml`),
    `<annotation><filename>${VAL[0]}.jpg</filename><size><width>640</width><height>480</height></size></annotation>`,
  );
  writeFileSync(join(empty, 'ImageSets/Main/train.txt'), `${VAL[0]}\n`);
  const none = cli('train', '--dataset', empty, '--out', join(work, 'empty-out'), '--epochs', '1', '--quiet');
  assert.equal(none.code, 1, none.stderr);
  assert.match(none.stderr, /error \[DATASET_FORMAT\]: .*empty: split train has no labeled boxes/);
});
