/**
 * The SSD loss: the float64 reference against finite differences and hand-worked values, and the
 * GPU kernel (hard negative mining included, ties and edge cases) against the reference.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { lossDispatch, lossPipeline, readLossParts, LOSS_PARTS_STRIDE } from '../src/train/loss.ts';
import { focalTerm, smoothL1, ssdLossRef, totalLoss, type LossConfig } from '../src/train/loss_ref.ts';
import { assertClose, gpu, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';

after(releaseGpu);

function randomLabels(
  batch: number,
  anchors: number,
  classes: number,
  positivesPerImage: number[],
  seed: number,
): Uint32Array {
  const labels = new Uint32Array(batch * anchors);
  const r = randomFloats(batch * anchors * 2, seed, 0, 1);
  for (let b = 0; b < batch; b++) {
    const n = positivesPerImage[b]!;
    // Spread the matched boxes over the image's anchors, deterministic but irregular.
    for (let k = 0; k < n; k++) {
      const a = Math.floor(r[b * anchors + k]! * anchors);
      labels[b * anchors + a] = 1 + Math.floor(r[batch * anchors + b * anchors + k]! * (classes - 1));
    }
  }
  return labels;
}

test('loss reference on a hand-worked image', () => {
  // 4 default boxes, 2 classes (background + 1). Box 0 is matched; boxes 1-3 are negatives with
  // background losses log(1 + e^(l1 - l0)): box 3 is the hardest, then box 2, then box 1.
  const logits = [0, 2, 1, 0, 0, 0, -1, 1];
  const boxes = [0.5, -2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const targets = [0, 0, 0.25, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const labels = [1, 0, 0, 0];
  const cfg: LossConfig = { numAnchors: 4, numClasses: 2, negPerPos: 2, alpha: 1, invN: 1 };
  const r = ssdLossRef(logits, boxes, labels, targets, 1, cfg);
  const ce = (l0: number, l1: number, target: number) => Math.log(Math.exp(l0) + Math.exp(l1)) - (target ? l1 : l0);
  const p = r.parts[0]!;
  assert.equal(p.positives, 1);
  assert.equal(p.negatives, 2);
  assert.ok(Math.abs(p.confPos - ce(0, 2, 1)) < 1e-12);
  assert.ok(Math.abs(p.confNeg - (ce(-1, 1, 0) + ce(0, 0, 0))) < 1e-12, 'boxes 3 and 2 are mined, box 1 is not');
  assert.ok(Math.abs(p.loc - (0.125 + 1.5 + 0.03125)) < 1e-12);
  assert.deepEqual(Array.from(r.dLogits.subarray(2, 4)), [0, 0], 'box 1 gets no gradient');
  assert.deepEqual(Array.from(r.dBoxes.subarray(0, 4)), [0.5, -1, -0.25, 0]);
  assert.ok(Math.abs(totalLoss(r.parts, cfg) - (p.confPos + p.confNeg + p.loc)) < 1e-12);
});

for (const focal of [undefined, { gamma: 2, alpha: 0.25 }, { gamma: 0.5, alpha: 0.6 }])
  test(`loss reference gradient equals finite differences (${focal ? `focal ${JSON.stringify(focal)}` : 'mining'})`, () => {
    const A = 60,
      C = 4,
      B = 2;
    const cfg: LossConfig = { numAnchors: A, numClasses: C, negPerPos: 3, alpha: 1, invN: 1 / 9, focal };
    const logits = Float64Array.from(randomFloats(B * A * C, 1, -3, 3));
    const boxes = Float64Array.from(randomFloats(B * A * 4, 2, -2, 2));
    const targets = Float64Array.from(randomFloats(B * A * 4, 3, -2, 2));
    const labels = randomLabels(B, A, C, [5, 4], 4);
    const r = ssdLossRef(logits, boxes, labels, targets, B, cfg);
    const loss = () => totalLoss(ssdLossRef(logits, boxes, labels, targets, B, cfg).parts, cfg);
    const eps = 1e-6;
    for (const [x, analytic, name] of [
      [logits, r.dLogits, 'logits'],
      [boxes, r.dBoxes, 'boxes'],
    ] as const) {
      for (let i = 0; i < x.length; i++) {
        const keep = x[i]!;
        x[i] = keep + eps;
        const up = loss();
        x[i] = keep - eps;
        const down = loss();
        x[i] = keep;
        const numeric = (up - down) / (2 * eps);
        assert.ok(
          Math.abs(numeric - analytic[i]!) < 1e-6 + 1e-5 * Math.abs(numeric),
          `d/d${name}[${i}]: analytic ${analytic[i]}, numeric ${numeric}`,
        );
      }
    }
    assert.equal(smoothL1(0.5), 0.125);
    assert.equal(smoothL1(-3), 2.5);
  });

async function gpuLoss(
  logits: Float32Array,
  boxes: Float32Array,
  labels: Uint32Array,
  targets: Float32Array,
  batch: number,
  cfg: LossConfig,
) {
  const ctx = await gpu();
  const b = {
    logits: storage(ctx, logits),
    boxes: storage(ctx, boxes),
    labels: storage(ctx, labels),
    targets: storage(ctx, targets),
    keys: storage(ctx, new Float32Array(batch * cfg.numAnchors)),
    dLogits: storage(ctx, new Float32Array(logits.length).fill(Number.NaN)),
    dBoxes: storage(ctx, new Float32Array(boxes.length).fill(Number.NaN)),
    parts: storage(ctx, new Float32Array(batch * LOSS_PARTS_STRIDE)),
  };
  const bind = Object.fromEntries(Object.entries(b).map(([k, v]) => [k, { buffer: v }])) as unknown as Parameters<
    typeof lossDispatch
  >[4];
  await run(ctx, [lossDispatch(ctx, await lossPipeline(ctx), cfg, batch, bind)]);
  const out = {
    dLogits: await readF32(ctx, b.dLogits, logits.length),
    dBoxes: await readF32(ctx, b.dBoxes, boxes.length),
    parts: readLossParts(
      await readF32(ctx, b.parts, batch * LOSS_PARTS_STRIDE),
      batch,
      cfg.numAnchors,
      cfg.negPerPos,
      cfg.focal !== undefined,
    ),
  };
  for (const v of Object.values(b)) v.destroy();
  return out;
}

/** Float32's unit roundoff. */
const U = 2 ** -24;

function compare(got: Awaited<ReturnType<typeof gpuLoss>>, ref: ReturnType<typeof ssdLossRef>, invN: number) {
  // dLogits = invN (exp(x_c - lse) - [c = label]): the probability's relative error is the error of its exponent
  // (lse = m + log(s): 8 U for |lse| <= 8, log's 2^-21 = 8 U, and s's exps at WGSL's 3 + 2|x| <= 19 ULP = 38 U) plus
  // the final exp's 22 ULP = 44 U, about 100 U; the subtraction and invN add 3 U: 128 U of invN, the largest
  // |dLogits|. Measured on lavapipe: 6 U of invN (5.4e-10 at invN 1.5e-3); it was atol 1e-6, 700x that.
  assertClose(got.dLogits, ref.dLogits, 128 * U * invN, 1e-5, 'dLogits');
  // dBoxes = invN alpha d (or invN alpha sign(d)), d = b - t: one rounding each for d, invN and the product: 3 U
  // relative, 4 U allowed. Measured: 1.9 U (1.15e-7); it was rtol 1e-5 and atol 1e-6.
  assertClose(got.dBoxes, ref.dBoxes, 0, 4 * U, 'dBoxes');
  got.parts.forEach((p, b) => {
    const r = ref.parts[b]!;
    assert.equal(p.positives, r.positives, `image ${b} positives`);
    assert.equal(p.negatives, r.negatives, `image ${b} negatives`);
    // The reference sums in float64. Each GPU thread adds at most ceil(1917 / 256) = 8 terms, then a 256-wide tree
    // adds 8 levels: a float32 sum of depth 16 is within 16 * 2^-24 < 1e-6 of its positive terms' total (rtol). Each
    // conf term is a log-sum-exp, and WGSL's log alone may be off by 2^-21 absolute: n terms allow n * 2^-21 (atol;
    // it was 1e-3 for every sum, the bound of the largest n, 1917). The box sum has no log: rtol alone.
    // Measured on lavapipe: at most 5.1e-8 relative (1.4e-4 absolute on a sum of 3700): within the rtol alone.
    const logs = (n: number) => n * 2 ** -21;
    assertClose([p.confPos], [r.confPos], logs(r.positives), 1e-6, `image ${b} confPos`);
    assertClose([p.confNeg], [r.confNeg], logs(r.negatives), 1e-6, `image ${b} confNeg`);
    assertClose([p.loc], [r.loc], 0, 1e-6, `image ${b} loc`);
  });
}

test('GPU loss equals the reference: 1917 default boxes, images with few, many, and no matches', async () => {
  const A = 1917,
    C = 4,
    B = 4;
  // Image 2 has no match (nothing is mined); image 3 has so many that every negative is mined.
  const labels = randomLabels(B, A, C, [12, 60, 0, 700], 9);
  const positives = Array.from(
    { length: B },
    (_, b) => labels.subarray(b * A, (b + 1) * A).filter((l) => l > 0).length,
  );
  const cfg: LossConfig = {
    numAnchors: A,
    numClasses: C,
    negPerPos: 3,
    alpha: 1,
    invN: 1 / positives.reduce((s, v) => s + v, 0),
  };
  const logits = randomFloats(B * A * C, 10, -4, 4);
  const boxes = randomFloats(B * A * 4, 11, -3, 3);
  const targets = randomFloats(B * A * 4, 12, -3, 3);
  const ref = ssdLossRef(logits, boxes, labels, targets, B, cfg);
  assert.equal(ref.parts[3]!.negatives, A - positives[3]!, 'image 3 mines every negative');
  assert.equal(ref.parts[2]!.negatives, 0);
  compare(await gpuLoss(logits, boxes, labels, targets, B, cfg), ref, cfg.invN);
});

test('GPU loss mines ties in default-box order, as the reference does', async () => {
  const A = 700,
    C = 3,
    B = 2;
  // Every negative of image 0 has one of three background losses, so the k-th is tied many times.
  const logits = new Float32Array(B * A * C);
  for (let i = 0; i < B * A; i++) logits.set([0, (i % 3) * 0.5, -1], i * C);
  const labels = randomLabels(B, A, C, [40, 7], 13);
  const positives = [0, 1].map((b) => labels.subarray(b * A, (b + 1) * A).filter((l) => l > 0).length);
  const cfg: LossConfig = {
    numAnchors: A,
    numClasses: C,
    negPerPos: 3,
    alpha: 1,
    invN: 1 / (positives[0]! + positives[1]!),
  };
  const boxes = randomFloats(B * A * 4, 14, -1, 1);
  const targets = randomFloats(B * A * 4, 15, -1, 1);
  compare(
    await gpuLoss(logits, boxes, labels, targets, B, cfg),
    ssdLossRef(logits, boxes, labels, targets, B, cfg),
    cfg.invN,
  );
});

test('focal loss reference on hand-worked boxes; gamma 0 and alpha 1/2 is half the cross-entropy', () => {
  // Two classes, logits (0, log 3): p = (1/4, 3/4). Matched: p_t = 3/4, w = alpha.
  const lpt = Math.log(0.75);
  const f = { gamma: 2, alpha: 0.25 };
  const m = focalTerm(lpt, f, true);
  assert.ok(Math.abs(m.loss - -0.25 * 0.0625 * lpt) < 1e-15);
  assert.ok(Math.abs(m.g - 0.25 * (0.0625 - 2 * 0.25 * 0.75 * lpt)) < 1e-15);
  // Unmatched at p_t = 1/4 (background): weight 1 - alpha.
  const u = focalTerm(Math.log(0.25), f, false);
  assert.ok(Math.abs(u.loss - -0.75 * 0.5625 * Math.log(0.25)) < 1e-15);
  // p_t = 1: no loss, no gradient (the (1 - p_t)^(gamma - 1) of gamma < 1 is not formed).
  assert.deepEqual(focalTerm(0, { gamma: 0.5, alpha: 0.25 }, true), { loss: 0, g: 0 });
  const logits = [0, 2, 1, 0, 0, 0, -1, 1];
  const labels = [1, 0, 0, 0];
  const zeros = new Array(16).fill(0);
  const base: LossConfig = { numAnchors: 4, numClasses: 2, negPerPos: 1, alpha: 1, invN: 1 };
  const ce = ssdLossRef(logits, zeros, labels, zeros, 1, { ...base, negPerPos: 3 });
  const half = ssdLossRef(logits, zeros, labels, zeros, 1, { ...base, focal: { gamma: 0, alpha: 0.5 } });
  const p = half.parts[0]!;
  assert.equal(p.negatives, 3, 'every unmatched box counts, whatever --neg-ratio says');
  assert.ok(Math.abs(p.confPos - ce.parts[0]!.confPos / 2) < 1e-12);
  assert.ok(Math.abs(p.confNeg - ce.parts[0]!.confNeg / 2) < 1e-12);
  half.dLogits.forEach((g, i) => assert.ok(Math.abs(g - ce.dLogits[i]! / 2) < 1e-12, `dLogits[${i}]`));
});

test('a rare anchor slot: mining swamps its class with negatives, focal loss does not', () => {
  // Two slots of 200 default boxes, classes (background, common, rare). The common slot has 30 matches and easy
  // negatives (background probability 0.999); the rare slot has 1 match and negatives that are less sure (0.95), as
  // the platelet slot of --anchors fit on BCCD. 3:1 mining takes its 93 negatives from the rare slot, whose class
  // column is then pushed down by them more than its one match pushes it up.
  const A = 400,
    C = 3;
  const logits = new Float64Array(A * C);
  const labels = new Uint32Array(A);
  const row = (a: number, bg: number, rare: number) => {
    const common = 1 - bg - rare;
    logits.set([Math.log(bg), Math.log(common), Math.log(rare)], a * C);
  };
  for (let a = 0; a < 200; a++) {
    row(a, 0.999, 0.0005);
    if (a % 6 === 0 && a < 180) labels[a] = 1;
  }
  for (let a = 200; a < 400; a++) row(a, 0.95, 0.03);
  labels[300] = 2;
  const zeros = new Float64Array(4 * A);
  const rareColumn = (cfg: LossConfig) => {
    const r = ssdLossRef(logits, zeros, labels, zeros, 1, cfg);
    let push = 0;
    for (let a = 200; a < 400; a++) push += r.dLogits[a * C + 2]!;
    return { push, negatives: r.parts[0]!.negatives };
  };
  const base: LossConfig = { numAnchors: A, numClasses: C, negPerPos: 3, alpha: 1, invN: 1 / 31 };
  const mining = rareColumn(base);
  assert.equal(mining.negatives, 93);
  // A positive summed gradient lowers the rare logits of the slot: the match is swamped.
  assert.ok(mining.push > 0, `mining: summed gradient ${mining.push}`);
  const focal = rareColumn({ ...base, focal: { gamma: 2, alpha: 0.25 } });
  assert.equal(focal.negatives, A - 31);
  assert.ok(focal.push < 0, `focal: summed gradient ${focal.push}`);
});

test('GPU focal loss equals the reference: every default box, images with and without matches', async () => {
  const A = 1917,
    C = 4,
    B = 3;
  const labels = randomLabels(B, A, C, [12, 0, 300], 21);
  const positives = Array.from(
    { length: B },
    (_, b) => labels.subarray(b * A, (b + 1) * A).filter((l) => l > 0).length,
  );
  const logits = randomFloats(B * A * C, 22, -6, 6);
  const boxes = randomFloats(B * A * 4, 23, -3, 3);
  const targets = randomFloats(B * A * 4, 24, -3, 3);
  for (const focal of [
    { gamma: 2, alpha: 0.25 },
    { gamma: 0.5, alpha: 0.75 },
  ]) {
    const cfg: LossConfig = {
      numAnchors: A,
      numClasses: C,
      negPerPos: 3,
      alpha: 1,
      invN: 1 / positives.reduce((s, v) => s + v, 0),
      focal,
    };
    const ref = ssdLossRef(logits, boxes, labels, targets, B, cfg);
    assert.equal(ref.parts[1]!.negatives, A);
    compare(await gpuLoss(logits, boxes, labels, targets, B, cfg), ref, cfg.invN);
  }
});
