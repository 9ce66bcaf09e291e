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
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';

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

async function check(c: Case, variant: Conv2dVariant): Promise<void> {
  const ctx = await gpu();
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
  const x = randomFloats(g.batch * g.inH * g.inW * g.inC, 1, -1, 1);
  // Weights scaled by 1/sqrt(fan-in) as in trained networks, so outputs stay O(1) at any depth of K.
  const scale = 1.5 / Math.sqrt(g.kH * g.kW * g.inC);
  const w = randomFloats(g.kH * g.kW * g.inC * g.outC, 2, -scale, scale);
  const bias = randomFloats(g.outC, 3, -0.5, 0.5);
  const act = ACTIVATIONS[c.act];
  const ref = conv2dRef(g, x, w, bias, act);
  const out = output(ctx, ref.length);
  const pipe = await conv2dPipeline(ctx, variant);
  const bx = storage(ctx, x),
    bw = storage(ctx, packConv2dFilter(w, g.outC)),
    bb = storage(ctx, padLastDimTo4(bias, g.outC));
  await run(ctx, [
    conv2dDispatch(ctx, pipe, variant, g, act, {
      input: { buffer: bx },
      filter: { buffer: bw },
      bias: { buffer: bb },
      output: { buffer: out },
    }),
  ]);
  const got = await readF32(ctx, out, ref.length);
  assertClose(got, ref, 1e-5, 1e-4);
  for (const b of [bx, bw, bb, out]) b.destroy();
}
