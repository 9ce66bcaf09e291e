/**
 * The training graph end to end: on a small SSD-shaped model (strided and 3x3 convolutions,
 * depthwise, a residual ADD, ReLU6, predictors concatenated into the outputs), the GPU's forward,
 * loss and backward give the parameter gradients of the float64 CPU reference, and the reference
 * gradients equal finite differences of the loss.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { trainingRegion } from '../src/train/graph.ts';
import { LOSS_PARTS_STRIDE, readLossParts } from '../src/train/loss.ts';
import { ssdLossRef, totalLoss, type LossConfig } from '../src/train/loss_ref.ts';
import { paramSpecs, paramsOf, ParamStore } from '../src/train/params.ts';
import { backwardRef, forwardRef, modelParams } from '../src/train/reference.ts';
import { TrainStep } from '../src/train/step.ts';
import { assertClose, gpu, randomFloats, readF32, releaseGpu } from './support/gpu.ts';
import { syntheticModel } from './support/synthetic_model.ts';

after(releaseGpu);

const BATCH = 2;

function setup(from: 'all' | 'features' | 'heads' | 'extras') {
  const model = syntheticModel();
  const region = trainingRegion(model.json, from);
  const [, A, C] = model.json.shapes.scores!;
  const cfg: LossConfig = { numAnchors: A!, numClasses: C!, negPerPos: 3, alpha: 1, invN: 1 };
  const labels = new Uint32Array(BATCH * A!);
  const r = randomFloats(BATCH * A!, 5, 0, 1);
  r.forEach((v, i) => {
    if (v < 0.08) labels[i] = 1 + (i % (C! - 1));
  });
  cfg.invN = 1 / labels.filter((l) => l > 0).length;
  const targets = randomFloats(BATCH * A! * 4, 6, -1.5, 1.5);
  // The region's inputs: the image, or frozen feature maps computed by the reference.
  const image = randomFloats(BATCH * 33 * 29 * 3, 7, -1, 1);
  const all = forwardRef(model, { nodes: model.json.nodes, inputs: ['input'] }, new Map([['input', image]]), BATCH);
  const inputs = new Map(region.cuts.map((t) => [t, all.get(t)!]));
  return { model, region, cfg, labels, targets, inputs };
}

function referenceLoss(s: ReturnType<typeof setup>, overrides = new Map<string, ArrayLike<number>>()) {
  const sub = { nodes: s.region.nodes, inputs: s.region.cuts };
  const param = modelParams(s.model, overrides);
  const values = forwardRef(s.model, sub, s.inputs, BATCH, param);
  const { boxes, scores } = s.model.json.outputs;
  const loss = ssdLossRef(values.get(scores)!, values.get(boxes)!, s.labels, s.targets, BATCH, s.cfg);
  return { sub, values, loss, param, total: totalLoss(loss.parts, s.cfg) };
}

for (const from of ['all', 'features', 'extras', 'heads'] as const) {
  test(`GPU parameter gradients equal the reference (train from ${from})`, async () => {
    const ctx = await gpu();
    const s = setup(from);
    const ref = referenceLoss(s);
    const { boxes, scores } = s.model.json.outputs;
    const grads = backwardRef(
      s.model,
      ref.sub,
      ref.values,
      new Map([
        [scores, ref.loss.dLogits],
        [boxes, ref.loss.dBoxes],
      ]),
      BATCH,
      ref.param,
    );

    const store = ParamStore.create(ctx, s.model, paramSpecs(s.model, s.region.trained), {
      trainable: true,
      label: 'test',
    });
    const step = await TrainStep.create(ctx, s.model, s.region, store, BATCH, { negPerPos: 3, alpha: 1 });
    step.setNormalizer(s.cfg.invN);
    const parts = ctx.createBuffer(
      'parts',
      4 * BATCH * LOSS_PARTS_STRIDE,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    );
    const mb = {
      images: BATCH,
      inputs: s.region.cuts.map((t) => Float32Array.from(s.inputs.get(t)!)),
      labels: s.labels,
      targets: s.targets,
    };
    // Two micro-batches of the same images: the gradients must add up.
    step.run(mb, parts, 0);
    step.run(mb, parts, 0);
    const got = readLossParts(await readF32(ctx, parts, BATCH * LOSS_PARTS_STRIDE), BATCH, s.cfg.numAnchors, 3);
    // The per-image sums' bound of train_loss.test.ts (rtol 1e-6 for their float32 depth, 2^-21 per log term), scaled
    // by invN. Measured on lavapipe: 2.1e-7 on 8.40 (2.5e-8 relative); it was atol and rtol 1e-4.
    const logTerms = ref.loss.parts.reduce((n, p) => n + p.positives + p.negatives, 0);
    assertClose([totalLoss(got, s.cfg)], [ref.total], logTerms * 2 ** -21 * s.cfg.invN, 1e-6, 'loss');
    const flat = await readF32(ctx, store.training().grads, store.floats);
    const unpacked = store.unpack(flat);
    assert.equal(unpacked.size, 2 * s.region.trained.length);
    // Each gradient is a float32 evaluation of the forward and backward sums; the error of such a computation is
    // bounded by a multiple of u = 2^-24 times its envelope M: the same backward pass on absolute values (|activations|,
    // |parameters|, |output gradients|), which is the sum of the absolute values of every term that adds up to the
    // gradient. The kernels sum sequentially, and the longest chain of roundings here is under D = 2048: the stem's
    // filter gradient sums B * 17 * 15 = 510 pixels, its upstream gradient comes through under 400 more (24, 9, 8, 16,
    // 9, 12, 8, 108 and 135-term sums), and the forward values it multiplies through under 400. The worst case D u M
    // assumes every rounding errs the same way; with independent, zero-mean rounding errors (Higham and Mary, SIAM J.
    // Sci. Comput. 41(5), 2019) the error stays within lambda sqrt(D) u M except with probability 2 exp(-lambda^2 / 2):
    // lambda = 6 (3e-8) gives 6 * sqrt(2048) = 272 u M.
    // Measured on lavapipe: at most 6.6 u M (at the class predictor, where M ~ |gradient|), 5.4e-7 absolute on
    // gradients up to 4.5, 4.1e-6 relative where |ref| > 1e-3. Beside that bound, the plain check is tightened from
    // atol 2e-5, rtol 2e-3 to 2e-6, 2e-5 (4x and 5x the measured figures), so no element's tolerance grew.
    const envelope = backwardRef(
      s.model,
      ref.sub,
      new Map([...ref.values].map(([k, v]) => [k, v.map(Math.abs)])),
      new Map([
        [scores, ref.loss.dLogits.map(Math.abs)],
        [boxes, ref.loss.dBoxes.map(Math.abs)],
      ]),
      BATCH,
      (name) => Float64Array.from(ref.param(name), Math.abs),
    );
    for (const [name, g] of unpacked) {
      const want = grads.get(name)!.map((v) => 2 * v);
      const m = envelope.get(name)!;
      g.forEach((v, i) => {
        const err = Math.abs(v - want[i]!);
        assert.ok(err <= 272 * 2 ** -24 * 2 * m[i]!, `d(${name})[${i}]: ${v}, reference ${want[i]}, envelope ${m[i]}`);
      });
      assertClose(g, want, 2e-6, 2e-5, `d(${name})`);
    }
    step.destroy();
    store.destroy();
    parts.destroy();
  });
}

test('reference parameter gradients equal finite differences of the loss', () => {
  const s = setup('all');
  const ref = referenceLoss(s);
  const { boxes, scores } = s.model.json.outputs;
  const grads = backwardRef(
    s.model,
    ref.sub,
    ref.values,
    new Map([
      [scores, ref.loss.dLogits],
      [boxes, ref.loss.dBoxes],
    ]),
    BATCH,
    ref.param,
  );
  const eps = 1e-6;
  let checked = 0;
  for (const n of s.region.trained) {
    for (const name of paramsOf(n)) {
      const base = Float64Array.from(ref.param(name));
      // A few entries of every tensor, spread over it.
      for (let k = 0; k < 3; k++) {
        const i = Math.floor(((k + 0.37) / 3) * base.length);
        const at = (v: number) => {
          const p = Float64Array.from(base);
          p[i] = v;
          return referenceLoss(s, new Map([[name, p]])).total;
        };
        const numeric = (at(base[i]! + eps) - at(base[i]! - eps)) / (2 * eps);
        const analytic = grads.get(name)![i]!;
        assert.ok(
          Math.abs(numeric - analytic) <= 1e-6 + 1e-4 * Math.abs(analytic),
          `d(${name})[${i}]: analytic ${analytic}, numeric ${numeric}`,
        );
        checked++;
      }
    }
  }
  assert.equal(checked, 6 * s.region.trained.length);
});
