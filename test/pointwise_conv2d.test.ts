import { after, test } from 'node:test';
import { ACTIVATIONS, type Clamp, type OutputView } from '../src/core/geometry.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  POINTWISE_VARIANTS,
  packPointwiseWeights,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseVariantSupported,
  type PointwiseShape,
  type PointwiseVariant,
} from '../src/kernels/pointwise_conv2d.ts';
import { pointwiseConv2dRef } from '../src/kernels/pointwise_conv2d_ref.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';

after(releaseGpu);

interface Case {
  batch: number;
  hw: [number, number];
  K: number;
  N: number;
  act: Clamp;
  actName: string;
  residual?: Clamp;
  /** Write into a wider tensor at a channel offset (a concatenation view). */
  concat?: { offset: number; total: number };
}

const cases: Case[] = [];
let i = 0;
for (const hw of [
  [1, 1],
  [3, 3],
  [7, 5],
  [19, 19],
  [38, 38],
] as [number, number][])
  for (const K of [1, 3, 4, 8, 32, 96])
    for (const N of [3, 8, 24, 96]) {
      if (hw[0] === 38 && K * N > 8 * 96) continue;
      const actName = (['relu6', 'none', 'relu'] as const)[i++ % 3]!;
      cases.push({
        batch: 1,
        hw,
        K,
        N,
        act: ACTIVATIONS[actName],
        actName,
        ...(i % 4 === 0 ? { residual: ACTIVATIONS.none } : {}),
      });
    }
cases.push({
  batch: 2,
  hw: [10, 10],
  K: 64,
  N: 40,
  act: ACTIVATIONS.none,
  actName: 'none',
  residual: { min: -1, max: 1.5 },
});
cases.push({
  batch: 3,
  hw: [5, 5],
  K: 32,
  N: 12,
  act: ACTIVATIONS.relu6,
  actName: 'relu6',
  concat: { offset: 4, total: 20 },
});
cases.push({ batch: 1, hw: [19, 19], K: 576, N: 24, act: ACTIVATIONS.none, actName: 'none' });
cases.push({ batch: 1, hw: [75, 75], K: 24, N: 144, act: ACTIVATIONS.relu6, actName: 'relu6' });

for (const c of cases)
  for (const variant of POINTWISE_VARIANTS) {
    const s: PointwiseShape = { M: c.batch * c.hw[0] * c.hw[1], K: c.K, N: c.N, HW: c.hw[0] * c.hw[1] };
    if (!pointwiseVariantSupported(s, variant)) continue;
    if (variant !== 'blocked4x1' && variant !== 'naive' && variant !== 'shared' && c.hw[0] > 10 && c.K > 8) continue;
    const extra = `${c.residual ? ' +residual' : ''}${c.concat ? ` concat@${c.concat.offset}/${c.concat.total}` : ''}`;
    test(`pointwise ${variant}: ${c.batch}x${c.hw[0]}x${c.hw[1]} K${c.K} -> N${c.N} ${c.actName}${extra}`, () =>
      check(c, s, variant));
  }

async function check(c: Case, s: PointwiseShape, variant: PointwiseVariant): Promise<void> {
  const ctx = await gpu();
  const x = randomFloats(s.M * s.K, 21, -1, 1);
  const w = randomFloats(s.K * s.N, 22, -0.5, 0.5);
  const bias = randomFloats(s.N, 23, -0.5, 0.5);
  const res = c.residual ? { data: randomFloats(s.M * s.N, 24, -2, 2), act: c.residual } : undefined;
  const view: OutputView = c.concat
    ? { base: c.concat.offset, batchStride: s.HW * c.concat.total, pixelStride: c.concat.total }
    : { base: 0, batchStride: s.HW * s.N, pixelStride: s.N };
  const total = c.concat ? c.batch * s.HW * c.concat.total : s.M * s.N;
  const ref = pointwiseConv2dRef(s, x, w, bias, c.act, res, new Float32Array(total).fill(Number.NaN), view);
  const out = output(ctx, total);
  const pipe = await pointwiseConv2dPipeline(ctx, variant);
  const bx = storage(ctx, x),
    bw = storage(ctx, packPointwiseWeights(w, s.N)),
    bb = storage(ctx, padLastDimTo4(bias, s.N));
  const br = res ? storage(ctx, res.data) : undefined;
  await run(ctx, [
    pointwiseConv2dDispatch(
      ctx,
      pipe,
      variant,
      s,
      c.act,
      {
        input: { buffer: bx },
        weights: { buffer: bw },
        bias: { buffer: bb },
        output: { buffer: out },
        ...(br ? { residual: { buffer: br } } : {}),
      },
      { view, ...(res ? { residualAct: res.act } : {}) },
    ),
  ]);
  const got = await readF32(ctx, out, total);
  // Untouched elements of a concatenation view must stay NaN in both.
  const gotMasked = Array.from(got, (v) => (Number.isNaN(v) ? -12345 : v));
  const refMasked = Array.from(ref, (v) => (Number.isNaN(v) ? -12345 : v));
  assertClose(gotMasked, refMasked, 1e-5, 1e-4);
  for (const b of [bx, bw, bb, out, br]) b?.destroy();
}
