/**
 * Overfitting a few images: new class heads and feature branches on the pretrained OID model,
 * trained on the cached features of two BCCD images, must drive the loss down by a large factor; the saved model, loaded
 * by the product detector (GPU preprocessing and SSD head), must then find those images' boxes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Detection } from '../src/detect_types.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { load } from '../src/index.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { writeModel, readModel } from '../src/node/model_files.ts';
import { weightsInfo } from '../src/graph/model_format.ts';
import { readTrainingSet } from '../src/train/dataset.ts';
import { trainingRegion } from '../src/train/graph.ts';
import { branchFeatureLayers, newClassHeads, withConstants, DEFAULT_HEAD_INIT } from '../src/train/model_surgery.ts';
import { Rng } from '../src/train/rng.ts';
import { buildFeatureCache } from '../src/train/run.ts';
import { Trainer } from '../src/train/trainer.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { ROOT } from './support/model_sources.ts';

const BCCD = sharedPath(ROOT, 'datasets/bccd');
const CLASSES = ['Platelets', 'RBC', 'WBC'];
const work = mkdtempSync(join(tmpdir(), 'mobilessd-overfit-'));
after(async () => {
  rmSync(work, { recursive: true, force: true });
  await releaseGpu();
});

test('two BCCD images: the loss falls by 10x and the trained model detects their boxes', async () => {
  const ctx = await gpu();
  const full = await readTrainingSet(BCCD, 'train', CLASSES);
  // BloodImage_00005 and 00006: 6 platelets, 2 white and 32 red cells. A platelet matches a single
  // default box (the smallest are 0.1 of the input, a platelet ~0.06), so it is the slowest to learn.
  const pick = [3, 4];
  const set = {
    dataset: { ...full.dataset, images: pick.map((i) => full.dataset.images[i]!) },
    images: pick.map((i) => full.images[i]!),
  };
  assert.deepEqual(
    set.images.map((im) => im.id),
    ['BloodImage_00005', 'BloodImage_00006'],
  );
  const { model, branches } = branchFeatureLayers(
    newClassHeads(await resolveModel('oid-v4'), CLASSES, DEFAULT_HEAD_INIT),
    2,
  );
  const region = trainingRegion(model.json, 'heads', branches);
  const cache = await buildFeatureCache(
    ctx,
    model,
    region.cuts,
    set,
    undefined,
    { augmentations: 1, matchThreshold: 0.5, seed: 1, valSplit: undefined },
    { phase: () => {}, tick: () => {} },
  );
  // The heads read non-negative ReLU6 maps with a large common component (mean |x|^2 of 220-340 per
  // pixel), so the loss is steep along it: every class logit rises together and the negatives
  // flip. Plain SGD is stable there up to lr ~0.02 (0.03 took the loss from 6.9 to 15.9 at the end
  // of the warm-up), and the discriminative directions are far flatter, so it needs ~100 steps.
  const steps = 100;
  const trainer = await Trainer.create(ctx, model, region, cache, {
    batch: 2,
    microBatch: 2,
    lr: 0.015,
    momentum: 0.9,
    weightDecay: 0,
    warmupEpochs: 5,
    epochs: steps,
    negPerPos: 3,
    alpha: 1,
  });
  const rng = new Rng(1);
  const losses: number[] = [];
  for (let e = 1; e <= steps; e++) losses.push((await trainer.epoch(e, rng)).record.loss);
  const trained = await trainer.trained();
  trainer.destroy();
  const first = losses[0]!,
    last = losses.at(-1)!;
  assert.ok(last < first / 10, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}`);

  const out = withConstants(
    model,
    new Map([...trained].map(([k, v]) => [k, { shape: model.json.constants[k]!.shape, data: v }])),
  );
  out.json.weights = await weightsInfo(out.weights, out.json.weights.file);
  await writeModel(work, out);
  const reloaded = await readModel(work);
  assert.deepEqual(reloaded.json.labels, ['background', ...CLASSES]);
  assert.equal(reloaded.json.ssd.scoreFunction, 'softmax');

  const detector = await load(work, { context: ctx });
  try {
    const found = new Map<string, Detection[]>();
    for (const im of set.dataset.images)
      found.set(im.id, await detector.detect(im.file, { scoreThreshold: 0.05, maxDetections: 100, perClassNms: true }));
    const result = evaluate(set.dataset, found, { modelLabels: detector.labels });
    const ap = Object.fromEntries(result.perClass.map((c) => [c.className, c.ap.toFixed(3)]));
    assert.ok(result.mAP >= 0.9, `mAP@0.5 on the training images ${result.mAP.toFixed(3)} (${JSON.stringify(ap)})`);
  } finally {
    detector.dispose();
  }
});
