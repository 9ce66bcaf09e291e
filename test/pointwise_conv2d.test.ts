import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS, type Clamp, type OutputView } from '../src/core/geometry.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  POINTWISE_SUBGROUP_VARIANTS,
  POINTWISE_VARIANTS,
  packPointwiseWeights,
  pointwiseConv2dDispatch,
  pointwiseConv2dPipeline,
  pointwiseSubgroupReady,
  pointwiseVariantSupported,
  tiledLayout,
  type PointwiseShape,
  type PointwiseVariant,
} from '../src/kernels/pointwise_conv2d.ts';
import { pointwiseConv2dRef } from '../src/kernels/pointwise_conv2d_ref.ts';
import {
  assertClose,
  f16Tolerance,
  gpu,
  outputAs,
  randomFloats,
  readAs,
  releaseGpu,
  roundF16,
  run,
  storageAs,
} from './support/gpu.ts';
import type { StorageType } from '../src/kernels/storage.ts';

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

// Wide, deep shapes for the shared-memory tiles: several tiles in both directions, partial last tiles
// (M, N not multiples of the tile), K over several 16-channel slices and not a multiple of 16.
cases.push({ batch: 1, hw: [13, 11], K: 100, N: 200, act: ACTIVATIONS.relu6, actName: 'relu6' });
cases.push({
  batch: 2,
  hw: [9, 9],
  K: 36,
  N: 132,
  act: ACTIVATIONS.none,
  actName: 'none',
  residual: ACTIVATIONS.relu6,
});

const shapeOf = (c: Case): PointwiseShape => ({
  M: c.batch * c.hw[0] * c.hw[1],
  K: c.K,
  N: c.N,
  HW: c.hw[0] * c.hw[1],
});
const nameOf = (c: Case): string =>
  `${c.batch}x${c.hw[0]}x${c.hw[1]} K${c.K} -> N${c.N} ${c.actName}${c.residual ? ' +residual' : ''}` +
  (c.concat ? ` concat@${c.concat.offset}/${c.concat.total}` : '');

for (const c of cases)
  for (const variant of POINTWISE_VARIANTS) {
    const s = shapeOf(c);
    if (!pointwiseVariantSupported(s, variant) || variant.startsWith('tiled')) continue;
    if (variant !== 'blocked4x1' && variant !== 'naive' && variant !== 'shared' && c.hw[0] > 10 && c.K > 8) continue;
    test(`pointwise ${variant}: ${nameOf(c)}`, () => check(c, s, variant));
  }

// The tiled variants at every workgroup size the tuners try: the size changes how invocations share the tile
// (tiled64x64 at 32 is 8 x 4 invocations of 8 rows x 4 vec4 each; at 256, 16 x 16 of 4 rows x 1 vec4).
for (const variant of POINTWISE_VARIANTS.filter((v) => v.startsWith('tiled')))
  for (const wg of [32, 64, 128, 256])
    for (const c of cases) {
      const s = shapeOf(c);
      if (!pointwiseVariantSupported(s, variant) || (wg !== 64 && !(c.K >= 24 && c.N >= 12))) continue;
      test(`pointwise ${variant} wg${wg}: ${nameOf(c)}`, () => check(c, s, variant, wg));
    }

// The subgroup variants at every workgroup size the tuner may try, wherever the adapter has subgroups: the size
// changes which tiles share a subgroup (and how often a shuffled row belongs to another tile and is reloaded).
for (const variant of POINTWISE_SUBGROUP_VARIANTS)
  for (const wg of [32, 64, 128, 256])
    for (const c of cases) {
      const s = shapeOf(c);
      if (!pointwiseVariantSupported(s, variant) || (wg !== 64 && !(c.K >= 24 && c.N >= 12))) continue;
      test(`pointwise ${variant} wg${wg}: ${nameOf(c)}`, async (t) => {
        const ctx = await gpu();
        if (!pointwiseSubgroupReady(ctx.subgroups, wg)) {
          const sizes = ctx.subgroups ? `subgroups ${ctx.subgroups.min}..${ctx.subgroups.max}` : 'no subgroups';
          t.skip(`${ctx.describe()} has ${sizes}: ${variant} cannot run at workgroup size ${wg}`);
          await assert.rejects(pointwiseConv2dPipeline(ctx, variant, wg), /subgroups/);
          return;
        }
        await check(c, s, variant, wg);
      });
    }

test('tiled layouts: the workgroup covers its tile exactly, and a size that cannot is refused', () => {
  for (const [variant, wg, want] of [
    ['tiled64x64', 256, { wgM: 16, wgN: 16, tm: 4, tn: 1 }],
    ['tiled64x64', 64, { wgM: 8, wgN: 8, tm: 8, tn: 2 }],
    ['tiled128x64', 128, { wgM: 16, wgN: 8, tm: 8, tn: 2 }],
    ['tiled32x32', 256, { wgM: 32, wgN: 8, tm: 1, tn: 1 }],
  ] as const)
    assert.deepEqual(tiledLayout(variant, wg), want, `${variant} wg${wg}`);
  assert.throws(() => tiledLayout('tiled32x32', 1024), /does not divide its tile/);
  assert.throws(() => tiledLayout('tiled64x64', 96), /does not divide its tile/);
  assert.throws(() => tiledLayout('blocked8x2', 64), /not a tiled GEMM variant/);
});

async function check(
  c: Case,
  s: PointwiseShape,
  variant: PointwiseVariant,
  workgroupSize = 64,
  st: StorageType = 'f32',
): Promise<void> {
  const ctx = await gpu();
  // In f16 the reference runs on the values the f16 buffers hold.
  const held = (v: Float32Array) => (st === 'f16' ? roundF16(v) : v);
  const x = held(randomFloats(s.M * s.K, 21, -1, 1));
  const w = held(randomFloats(s.K * s.N, 22, -0.5, 0.5));
  const bias = held(randomFloats(s.N, 23, -0.5, 0.5));
  const res = c.residual ? { data: held(randomFloats(s.M * s.N, 24, -2, 2)), act: c.residual } : undefined;
  const view: OutputView = c.concat
    ? { base: c.concat.offset, batchStride: s.HW * c.concat.total, pixelStride: c.concat.total }
    : { base: 0, batchStride: s.HW * s.N, pixelStride: s.N };
  const total = c.concat ? c.batch * s.HW * c.concat.total : s.M * s.N;
  const ref = pointwiseConv2dRef(s, x, w, bias, c.act, res, new Float32Array(total).fill(Number.NaN), view);
  const out = outputAs(ctx, total, st);
  const pipe = await pointwiseConv2dPipeline(ctx, variant, workgroupSize, st);
  const bx = storageAs(ctx, x, st),
    bw = storageAs(ctx, packPointwiseWeights(w, s.N), st),
    bb = storageAs(ctx, padLastDimTo4(bias, s.N), st);
  const br = res ? storageAs(ctx, res.data, st) : undefined;
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
      { view, workgroupSize, ...(res ? { residualAct: res.act } : {}) },
    ),
  ]);
  const got = await readAs(ctx, out, total, st);
  // Untouched elements of a concatenation view must stay NaN in both.
  const gotMasked = Array.from(got, (v) => (Number.isNaN(v) ? -12345 : v));
  const refMasked = Array.from(ref, (v) => (Number.isNaN(v) ? -12345 : v));
  // |x| <= 1, |w|, |bias| <= 0.5, |residual| <= 2: the terms' magnitudes sum to at most 0.5 K + 2.5.
  const tol = st === 'f16' ? f16Tolerance(s.K + 2, 0.5 * s.K + 2.5) : { atol: 1e-5, rtol: 1e-4 };
  assertClose(gotMasked, refMasked, tol.atol, tol.rtol);
  for (const b of [bx, bw, bb, out, br]) b?.destroy();
}

// The register-tile variants at the other workgroup sizes 'full' tuning tries (blocked8x2 at 256 is a table
// choice): the size changes the dispatch's shape and how far the last workgroup overhangs the output. On the
// wide shapes up to 10x10 pixels, as the grid above runs these variants.
const WIDE = (c: Case) => c.K >= 24 && c.N >= 12;
const REGISTER_CASES = cases.filter((c) => WIDE(c) && c.hw[0] <= 10);
for (const variant of POINTWISE_VARIANTS.filter((v) => v.startsWith('blocked') || v.startsWith('unrolled')))
  for (const wg of [32, 128, 256])
    test(`pointwise ${variant} wg${wg}: ${REGISTER_CASES.length} shapes`, async () => {
      for (const c of REGISTER_CASES) {
        const s = shapeOf(c);
        if (pointwiseVariantSupported(s, variant)) await check(c, s, variant, wg);
      }
    });

// f16 storage (precision 'f16') where the adapter offers shader-f16: every variant (tiled and subgroup ones
// included) on a few shapes with odd sizes, K % 4 != 0 (naive), batches, a residual, a concatenation view, and
// several tiles with partial last tiles and K slices; at every workgroup size the tuner may pick it at, the
// sizes other than 64 on the shapes wide enough to fill several tiles. The subgroup variants run at 64 and 32
// (the table's subgroup size) only: lavapipe takes 7-19 s to build each of their f16 pipelines at 128 and 256,
// sizes the f32 grid above covers (the storage type changes only the loads and stores).
const F16_CASES = cases.filter(
  (c) => (c.hw[0] === 7 && [3, 8].includes(c.K) && c.N === 24) || c.batch === 3 || (c.batch === 2 && c.K === 36),
);
const f16Sizes = (v: PointwiseVariant) =>
  v === 'naive' || v === 'shared' ? [64] : v.startsWith('subgroup') ? [32, 64] : [32, 64, 128, 256];
for (const variant of [...POINTWISE_VARIANTS, ...POINTWISE_SUBGROUP_VARIANTS])
  for (const wg of f16Sizes(variant)) {
    const f16Cases = F16_CASES.filter((c) => wg === 64 || WIDE(c));
    test(`pointwise ${variant} wg${wg} in f16 storage: ${f16Cases.length} shapes`, async (t) => {
      const ctx = await gpu();
      if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16`);
      if (variant.startsWith('subgroup') && !pointwiseSubgroupReady(ctx.subgroups, wg))
        return t.skip(`${ctx.describe()}: ${variant} cannot run at workgroup size ${wg}`);
      for (const c of f16Cases) {
        const s = shapeOf(c);
        if (pointwiseVariantSupported(s, variant)) await check(c, s, variant, wg, 'f16');
      }
    });
  }
