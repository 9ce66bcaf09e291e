import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS, convGeometry, type Clamp, type OutputView, type Padding } from '../src/core/geometry.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  DWPW_VARIANTS,
  DWPW_WORKGROUP_SIZES,
  dwpwConv2dDispatch,
  dwpwConv2dPipeline,
  dwpwLayout,
  type DwpwShape,
  type DwpwVariant,
} from '../src/kernels/dwpw_conv2d.ts';
import { dwpwConv2dRef, dwpwGemmShape } from '../src/kernels/dwpw_conv2d_ref.ts';
import type { StorageType } from '../src/kernels/storage.ts';
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

after(releaseGpu);

interface Case {
  batch: number;
  hw: [number, number];
  C: number;
  N: number;
  stride: number;
  padding: Padding;
  dwAct: Clamp;
  act: Clamp;
  residual?: Clamp;
  /** Write into a wider tensor at a channel offset (a concatenation view). */
  concat?: { offset: number; total: number };
}

const { relu6, none } = ACTIVATIONS;
// Small shapes that still cover: odd H and W, C % 4 != 0, C over several 16-channel K-slices (and not a multiple
// of 16), N over several 64-channel column tiles (the depthwise recomputed per column tile), rows over several
// 32-128-row tiles with a partial last one, stride 1 and 2, SAME padding both symmetric (odd input, stride 2) and
// asymmetric (even input, stride 2: 0 before, 1 after), explicit asymmetric pads (a folded PAD), batches,
// residual and not, relu6 and none on both halves, and a concatenation view.
const cases: Case[] = [
  { batch: 1, hw: [7, 5], C: 8, N: 12, stride: 1, padding: 'SAME', dwAct: relu6, act: relu6 },
  { batch: 1, hw: [9, 9], C: 6, N: 10, stride: 2, padding: 'SAME', dwAct: relu6, act: none },
  { batch: 2, hw: [8, 10], C: 20, N: 72, stride: 2, padding: 'SAME', dwAct: relu6, act: none, residual: none },
  { batch: 1, hw: [13, 11], C: 36, N: 24, stride: 1, padding: 'SAME', dwAct: none, act: none, residual: relu6 },
  { batch: 1, hw: [6, 7], C: 3, N: 5, stride: 1, padding: [0, 1, 1, 0], dwAct: none, act: relu6 },
  {
    batch: 2,
    hw: [5, 6],
    C: 12,
    N: 9,
    stride: 2,
    padding: [1, 0, 0, 1],
    dwAct: relu6,
    act: relu6,
    concat: { offset: 3, total: 16 },
  },
];

const shapeOf = (c: Case): DwpwShape => ({
  g: convGeometry({
    batch: c.batch,
    inH: c.hw[0],
    inW: c.hw[1],
    inC: c.C,
    outC: c.C,
    kH: 3,
    kW: 3,
    strideH: c.stride,
    strideW: c.stride,
    padding: c.padding,
  }),
  N: c.N,
});
const actName = (a: Clamp) => (a === relu6 ? 'relu6' : 'none');
const nameOf = (c: Case): string =>
  `${c.batch}x${c.hw[0]}x${c.hw[1]}x${c.C} s${c.stride} ${JSON.stringify(c.padding)} -> N${c.N} ` +
  `dw ${actName(c.dwAct)} pw ${actName(c.act)}${c.residual ? ` +residual ${actName(c.residual)}` : ''}` +
  (c.concat ? ` concat@${c.concat.offset}/${c.concat.total}` : '');

for (const variant of DWPW_VARIANTS)
  for (const wg of DWPW_WORKGROUP_SIZES)
    for (const c of cases) test(`dwpw ${variant} wg${wg}: ${nameOf(c)}`, () => check(c, variant, wg));

// f16 storage (precision 'f16') where the adapter offers shader-f16: every tile, on every case, at workgroup 64.
for (const variant of DWPW_VARIANTS)
  test(`dwpw ${variant} in f16 storage: ${cases.length} shapes`, async (t) => {
    const ctx = await gpu();
    if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16`);
    for (const c of cases) await check(c, variant, 64, 'f16');
  });

test('dwpw layouts: the tiled GEMM grid at every tuned size, and a size that cannot cover the tile is refused', () => {
  for (const v of DWPW_VARIANTS) for (const wg of DWPW_WORKGROUP_SIZES) assert.ok(dwpwLayout(v, wg).tm >= 1);
  assert.deepEqual(dwpwLayout('dwpw32x64', 64), { wgM: 8, wgN: 8, tm: 4, tn: 2 });
  assert.throws(() => dwpwLayout('dwpw32x32', 1024), /does not divide its tile/);
  assert.throws(() => dwpwLayout('tiled32x32' as DwpwVariant, 64), /not a fused depthwise/);
});

async function check(c: Case, variant: DwpwVariant, workgroupSize: number, st: StorageType = 'f32'): Promise<void> {
  const ctx = await gpu();
  const s = shapeOf(c);
  const { g } = s;
  const gemm = dwpwGemmShape(s);
  // In f16 the reference runs on the values the f16 buffers hold.
  const held = (v: Float32Array) => (st === 'f16' ? roundF16(v) : v);
  const x = held(randomFloats(g.batch * g.inH * g.inW * g.inC, 31, -1, 1));
  const k = {
    dwFilter: held(randomFloats(9 * c.C, 32, -1, 1)),
    dwBias: held(randomFloats(c.C, 33, -0.5, 0.5)),
    dwAct: c.dwAct,
    weights: held(randomFloats(c.C * c.N, 34, -0.5, 0.5)),
    bias: held(randomFloats(c.N, 35, -0.5, 0.5)),
    act: c.act,
  };
  const res = c.residual ? { data: held(randomFloats(gemm.M * c.N, 36, -2, 2)), act: c.residual } : undefined;
  const view: OutputView = c.concat
    ? { base: c.concat.offset, batchStride: gemm.HW * c.concat.total, pixelStride: c.concat.total }
    : { base: 0, batchStride: gemm.HW * c.N, pixelStride: c.N };
  const total = c.concat ? c.batch * gemm.HW * c.concat.total : gemm.M * c.N;
  const ref = dwpwConv2dRef(s, x, k, res, new Float32Array(total).fill(Number.NaN), view);
  const out = outputAs(ctx, total, st);
  const pipe = await dwpwConv2dPipeline(ctx, variant, g, workgroupSize, st);
  const buffers = {
    input: storageAs(ctx, padLastDimTo4(x, x.length), st),
    dwFilter: storageAs(ctx, padLastDimTo4(k.dwFilter, c.C), st),
    dwBias: storageAs(ctx, padLastDimTo4(k.dwBias, c.C), st),
    weights: storageAs(ctx, padLastDimTo4(k.weights, c.N), st),
    bias: storageAs(ctx, padLastDimTo4(k.bias, c.N), st),
    ...(res ? { residual: storageAs(ctx, res.data, st) } : {}),
  };
  const bind = Object.fromEntries(Object.entries(buffers).map(([n, b]) => [n, { buffer: b }]));
  const acts = { dw: c.dwAct, act: c.act, ...(res ? { residual: res.act } : {}) };
  const b = { ...bind, output: { buffer: out } } as Parameters<typeof dwpwConv2dDispatch>[5];
  await run(ctx, [dwpwConv2dDispatch(ctx, pipe, variant, s, acts, b, { view })]);
  const got = await readAs(ctx, out, total, st);
  // Untouched elements of a concatenation view must stay NaN in both.
  const gotMasked = Array.from(got, (v) => (Number.isNaN(v) ? -12345 : v));
  const refMasked = Array.from(ref, (v) => (Number.isNaN(v) ? -12345 : v));
  // f16: the depthwise sums (9 taps |x w| <= 1 and a bias <= 0.5) stay f32 in the kernel, each off by at most
  // 10 * 2^-24 * 9.5; the GEMM's C + 2 terms (|a| <= 9.5, |w|, |bias| <= 0.5, |residual| <= 2) sum to at most
  // 4.75 C + 2.5, and carry the depthwise error times 0.5 per channel.
  const f16 = f16Tolerance(c.C + 2, 4.75 * c.C + 2.5);
  const tol =
    st === 'f16' ? { atol: f16.atol + 2 ** -24 * c.C * 0.5 * 10 * 9.5, rtol: f16.rtol } : { atol: 1e-5, rtol: 1e-4 };
  assertClose(gotMasked, refMasked, tol.atol, tol.rtol);
  for (const buf of [...Object.values(buffers), out]) buf.destroy();
}
