import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS, convGeometry, type ConvGeometry, type Padding } from '../src/core/geometry.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  DEPTHWISE_VARIANTS,
  depthwiseConv2dDispatch,
  depthwiseConv2dPipeline,
  depthwiseVariantSupported,
  packDepthwiseFilter,
  type DepthwiseVariant,
} from '../src/kernels/depthwise_conv2d.ts';
import { depthwiseConv2dRef } from '../src/kernels/depthwise_conv2d_ref.ts';
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

const grid: { g: ConvGeometry; act: keyof typeof ACTIVATIONS; pad: string }[] = [];
let i = 0;
for (const hw of [1, 3, 7, 19, 38])
  for (const c of [1, 3, 4, 8, 32, 96])
    for (const stride of [1, 2])
      for (const padding of ['SAME', 'VALID'] as Padding[]) {
        const k = padding === 'VALID' && hw < 3 ? 1 : 3;
        const w = hw === 7 ? 5 : hw; // one non-square case per row
        grid.push({
          g: convGeometry({
            batch: 1,
            inH: hw,
            inW: w,
            inC: c,
            outC: c,
            kH: k,
            kW: k,
            strideH: stride,
            strideW: stride,
            padding,
          }),
          act: (['relu6', 'none', 'relu'] as const)[i++ % 3]!,
          pad: String(padding),
        });
      }
grid.push({
  g: convGeometry({
    batch: 2,
    inH: 11,
    inW: 13,
    inC: 12,
    outC: 12,
    kH: 5,
    kW: 5,
    strideH: 2,
    strideW: 2,
    padding: 'SAME',
  }),
  act: 'relu6',
  pad: 'SAME',
});
grid.push({
  g: convGeometry({
    batch: 3,
    inH: 10,
    inW: 10,
    inC: 16,
    outC: 16,
    kH: 3,
    kW: 3,
    strideH: 2,
    strideW: 2,
    padding: [1, 0, 1, 2],
  }),
  act: 'relu6',
  pad: 'pad[1,0,1,2]',
});
grid.push({
  g: convGeometry({
    batch: 1,
    inH: 150,
    inW: 150,
    inC: 32,
    outC: 32,
    kH: 3,
    kW: 3,
    strideH: 1,
    strideW: 1,
    padding: 'SAME',
  }),
  act: 'relu6',
  pad: 'SAME',
});

for (const { g, act, pad } of grid)
  for (const variant of DEPTHWISE_VARIANTS) {
    if (!depthwiseVariantSupported(g, variant)) continue;
    test(`depthwise ${variant}: ${g.batch}x${g.inH}x${g.inW}x${g.inC} k${g.kH} s${g.strideH} ${pad} -> ${g.outH}x${g.outW} ${act}`, () =>
      check(g, variant, act));
  }

test('every depthwise variant is exercised by the grid', () => {
  for (const v of DEPTHWISE_VARIANTS)
    if (!grid.some(({ g }) => depthwiseVariantSupported(g, v))) throw new Error(`variant ${v} untested`);
});

async function check(
  g: ConvGeometry,
  variant: DepthwiseVariant,
  actName: keyof typeof ACTIVATIONS,
  st: StorageType = 'f32',
): Promise<void> {
  const ctx = await gpu();
  // In f16 the reference runs on the values the f16 buffers hold.
  const held = (v: Float32Array) => (st === 'f16' ? roundF16(v) : v);
  const x = held(randomFloats(g.batch * g.inH * g.inW * g.inC, 11, -2, 2));
  const w = held(randomFloats(g.kH * g.kW * g.inC, 12, -1, 1));
  const bias = held(randomFloats(g.outC, 13, -1, 1));
  const act = ACTIVATIONS[actName];
  const ref = depthwiseConv2dRef(g, x, w, bias, act);
  const out = outputAs(ctx, ref.length, st);
  const pipe = await depthwiseConv2dPipeline(ctx, variant, st);
  const bx = storageAs(ctx, x, st),
    bw = storageAs(ctx, packDepthwiseFilter(w, g.inC), st),
    bb = storageAs(ctx, padLastDimTo4(bias, g.outC), st);
  await run(ctx, [
    depthwiseConv2dDispatch(ctx, pipe, variant, g, act, {
      input: { buffer: bx },
      filter: { buffer: bw },
      bias: { buffer: bb },
      output: { buffer: out },
    }),
  ]);
  // kH kW terms of magnitude <= 2 (|x| <= 2, |w| <= 1), plus |bias| <= 1.
  const taps = g.kH * g.kW;
  const tol = st === 'f16' ? f16Tolerance(taps + 1, 2 * taps + 1) : { atol: 1e-5, rtol: 1e-5 };
  assertClose(await readAs(ctx, out, ref.length, st), ref, tol.atol, tol.rtol);
  for (const b of [bx, bw, bb, out]) b.destroy();
}

// f16 storage (precision 'f16') where the adapter offers shader-f16: every variant on the grid's cases with odd
// and non-square sizes, C not a multiple of 4, strides 1 and 2, SAME/VALID and asymmetric padding, batches.
const F16_GRID = grid.filter(({ g }) => (g.inH === 7 && [3, 8].includes(g.inC)) || g.batch > 1);
for (const variant of DEPTHWISE_VARIANTS)
  test(`depthwise ${variant} in f16 storage: the ${F16_GRID.length}-case subset it supports`, async (t) => {
    const ctx = await gpu();
    if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16`);
    const runs = F16_GRID.filter(({ g }) => depthwiseVariantSupported(g, variant));
    assert.ok(runs.length > 0, `no f16 case for ${variant}`);
    for (const { g, act } of runs) await check(g, variant, act, 'f16');
  });
