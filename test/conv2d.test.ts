import { after, test } from 'node:test';
import { ACTIVATIONS, convGeometry, type Padding } from '../src/core/geometry.ts';
import {
  CONV2D_VARIANTS,
  conv2dDispatch,
  conv2dVariantSupported,
  conv2dPipeline,
  packConv2dFilter,
  type Conv2dVariant,
} from '../src/kernels/conv2d.ts';
import { conv2dRef } from '../src/kernels/conv2d_ref.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
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
  hw: [number, number];
  inC: number;
  outC: number;
  k: number;
  stride: number;
  padding: Padding;
  act: keyof typeof ACTIVATIONS;
  batch?: number;
}

const cases: Case[] = [];
for (const hw of [
  [1, 1],
  [3, 3],
  [7, 5],
  [19, 19],
  [38, 38],
] as [number, number][])
  for (const [inC, outC] of [
    [3, 8],
    [1, 3],
    [4, 32],
    [8, 96],
    [32, 4],
  ] as [number, number][])
    for (const stride of [1, 2])
      for (const padding of ['SAME', 'VALID'] as const) {
        const k = hw[0] === 1 && padding === 'VALID' ? 1 : 3;
        if (hw[0] >= 19 && inC * outC > 256) continue;
        cases.push({ hw, inC, outC, k, stride, padding, act: (['relu6', 'none', 'relu'] as const)[cases.length % 3]! });
      }
cases.push({ hw: [300, 300], inC: 3, outC: 32, k: 3, stride: 2, padding: 'SAME', act: 'relu6' });
cases.push({ hw: [10, 10], inC: 16, outC: 20, k: 5, stride: 1, padding: [2, 1, 2, 3], act: 'relu6', batch: 3 });
cases.push({ hw: [9, 6], inC: 5, outC: 7, k: 1, stride: 2, padding: 'SAME', act: 'none', batch: 2 });
cases.push({ hw: [10, 10], inC: 256, outC: 512, k: 3, stride: 2, padding: 'SAME', act: 'relu6' });
cases.push({ hw: [5, 3], inC: 12, outC: 6, k: 3, stride: 1, padding: 'VALID', act: 'none', batch: 3 });

for (const c of cases) {
  for (const variant of CONV2D_VARIANTS) {
    if (variant === 'naive' && c.hw[0] === 300) continue;
    if (
      !conv2dVariantSupported(
        convGeometry({
          batch: 1,
          inH: c.hw[0],
          inW: c.hw[1],
          inC: c.inC,
          outC: c.outC,
          kH: c.k,
          kW: c.k,
          strideH: c.stride,
          strideW: c.stride,
          padding: c.padding,
        }),
        variant,
      )
    )
      continue;
    const name = `conv2d ${variant}: ${c.batch ?? 1}x${c.hw[0]}x${c.hw[1]}x${c.inC} -> ${c.outC}, k${c.k} s${c.stride} ${typeof c.padding === 'string' ? c.padding : `pad[${c.padding}]`} ${c.act}`;
    test(name, () => check(c, variant));
  }
}

async function check(c: Case, variant: Conv2dVariant, st: StorageType = 'f32'): Promise<void> {
  const ctx = await gpu();
  // In f16 the reference runs on the values the f16 buffers hold.
  const held = (v: Float32Array) => (st === 'f16' ? roundF16(v) : v);
  const g = convGeometry({
    batch: c.batch ?? 1,
    inH: c.hw[0],
    inW: c.hw[1],
    inC: c.inC,
    outC: c.outC,
    kH: c.k,
    kW: c.k,
    strideH: c.stride,
    strideW: c.stride,
    padding: c.padding,
  });
  const x = held(randomFloats(g.batch * g.inH * g.inW * g.inC, 1, -1, 1));
  // Weights scaled by 1/sqrt(fan-in) as in trained networks, so outputs stay O(1) at any depth of K.
  const scale = 1.5 / Math.sqrt(g.kH * g.kW * g.inC);
  const w = held(randomFloats(g.kH * g.kW * g.inC * g.outC, 2, -scale, scale));
  const bias = held(randomFloats(g.outC, 3, -0.5, 0.5));
  const act = ACTIVATIONS[c.act];
  const ref = conv2dRef(g, x, w, bias, act);
  const out = outputAs(ctx, ref.length, st);
  const pipe = await conv2dPipeline(ctx, variant, st);
  const bx = storageAs(ctx, x, st),
    bw = storageAs(ctx, packConv2dFilter(w, g.outC), st),
    bb = storageAs(ctx, padLastDimTo4(bias, g.outC), st);
  await run(ctx, [
    conv2dDispatch(ctx, pipe, variant, g, act, {
      input: { buffer: bx },
      filter: { buffer: bw },
      bias: { buffer: bb },
      output: { buffer: out },
    }),
  ]);
  const got = await readAs(ctx, out, ref.length, st);
  // K = kH kW Cin terms of magnitude <= scale each (|x| <= 1), plus |bias| <= 0.5.
  const terms = g.kH * g.kW * g.inC;
  const tol = st === 'f16' ? f16Tolerance(terms + 1, terms * scale + 0.5) : { atol: 1e-5, rtol: 1e-4 };
  assertClose(got, ref, tol.atol, tol.rtol);
  for (const b of [bx, bw, bb, out]) b.destroy();
}

// f16 storage (precision 'f16') where the adapter offers shader-f16: every variant on a small grid with odd and
// non-square sizes, Cin and Cout not multiples of 4, strides 1 and 2, asymmetric padding and batches.
const F16_CASES: Case[] = [
  { hw: [7, 5], inC: 3, outC: 8, k: 3, stride: 2, padding: 'SAME', act: 'relu6' },
  { hw: [3, 3], inC: 4, outC: 32, k: 3, stride: 1, padding: 'SAME', act: 'none' },
  { hw: [10, 10], inC: 16, outC: 20, k: 5, stride: 1, padding: [2, 1, 2, 3], act: 'relu6', batch: 3 },
  { hw: [9, 6], inC: 5, outC: 7, k: 1, stride: 2, padding: 'SAME', act: 'none', batch: 2 },
  { hw: [5, 3], inC: 12, outC: 6, k: 3, stride: 1, padding: 'VALID', act: 'relu', batch: 3 },
];
for (const variant of CONV2D_VARIANTS)
  test(`conv2d ${variant} in f16 storage: ${F16_CASES.length} shapes`, async (t) => {
    const ctx = await gpu();
    if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16`);
    for (const c of F16_CASES) {
      const g = convGeometry({
        batch: c.batch ?? 1,
        inH: c.hw[0],
        inW: c.hw[1],
        inC: c.inC,
        outC: c.outC,
        kH: c.k,
        kW: c.k,
        strideH: c.stride,
        strideW: c.stride,
        padding: c.padding,
      });
      if (conv2dVariantSupported(g, variant)) await check(c, variant, 'f16');
    }
  });
