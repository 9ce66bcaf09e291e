import { after, test } from 'node:test';
import { convGeometry, type Padding } from '../src/core/geometry.ts';
import { channelData, packedBias, supportsPackedDot } from '../src/kernels/qcommon.ts';
import {
  QCONV2D_VARIANTS,
  qconv2dDispatch,
  qconv2dPipeline,
  qconv2dVariantSupported,
  type QConv2dVariant,
} from '../src/kernels/qconv2d.ts';
import { qconv2dRef } from '../src/kernels/qconv2d_ref.ts';
import {
  REQUANTIZATIONS,
  type FusedActivation,
  type QuantDType,
  type Requantization,
} from '../src/kernels/quantization.ts';
import { gpu, releaseGpu, run } from './support/gpu.ts';
import {
  assertSameQuant,
  assertVaried,
  DTYPES,
  int32Storage,
  quantOutput,
  quantStorage,
  randomConvQuant,
  randomQuant,
  readQuant,
} from './support/quant.ts';

after(releaseGpu);

interface Case {
  hw: [number, number];
  inC: number;
  outC: number;
  k: number;
  stride: number;
  padding: Padding;
  act: FusedActivation;
  dtype: QuantDType;
  requant: Requantization;
  batch?: number;
}

const ACTS: FusedActivation[] = ['NONE', 'RELU6', 'RELU'];
const cases: Case[] = [];
const next = (c: Omit<Case, 'act' | 'dtype' | 'requant'>) => {
  const i = cases.length;
  cases.push({ ...c, act: ACTS[i % 3]!, dtype: DTYPES[i % 2]!, requant: REQUANTIZATIONS[(i >> 1) % 2]! });
};
for (const hw of [
  [1, 1],
  [3, 3],
  [7, 5],
  [10, 10],
] as [number, number][])
  for (const [inC, outC] of [
    [3, 8],
    [1, 3],
    [4, 12],
    [8, 20],
    [12, 4],
    [5, 7],
  ] as [number, number][])
    for (const stride of [1, 2])
      for (const padding of ['SAME', 'VALID'] as const)
        next({ hw, inC, outC, k: hw[0] === 1 && padding === 'VALID' ? 1 : 3, stride, padding });
next({ hw: [10, 10], inC: 16, outC: 20, k: 5, stride: 1, padding: [2, 1, 2, 3], batch: 3 });
next({ hw: [9, 6], inC: 8, outC: 12, k: 1, stride: 2, padding: 'SAME', batch: 2 });
next({ hw: [5, 3], inC: 12, outC: 8, k: 3, stride: 1, padding: 'VALID', batch: 3 });
next({ hw: [38, 38], inC: 8, outC: 16, k: 3, stride: 2, padding: 'SAME' });
next({ hw: [19, 19], inC: 32, outC: 24, k: 3, stride: 1, padding: 'SAME', batch: 2 });
next({ hw: [6, 6], inC: 384, outC: 24, k: 3, stride: 2, padding: 'SAME' });
// The COCO model's first layer: 300x300x3 uint8, stride 2, SAME padding (0, 1) at the bottom/right.
cases.push({
  hw: [300, 300],
  inC: 3,
  outC: 24,
  k: 3,
  stride: 2,
  padding: 'SAME',
  act: 'NONE',
  dtype: 'uint8',
  requant: 'xnnpack',
});

for (const c of cases) {
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
  for (const variant of QCONV2D_VARIANTS) {
    if (!qconv2dVariantSupported(g, variant)) continue;
    const pad = typeof c.padding === 'string' ? c.padding : `pad[${c.padding}]`;
    test(`qconv2d ${variant} ${c.dtype} ${c.requant}: ${g.batch}x${c.hw[0]}x${c.hw[1]}x${c.inC} -> ${c.outC}, k${c.k} s${c.stride} ${pad} ${c.act}`, (t) =>
      check(t, c, variant));
  }
}

async function check(t: { skip(reason: string): void }, c: Case, variant: QConv2dVariant): Promise<void> {
  const ctx = await gpu();
  if (variant.endsWith('dot4') && !(await supportsPackedDot(ctx)))
    return t.skip('the adapter has no packed_4x8_integer_dot_product');
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
  const k = g.kH * g.kW * g.inC;
  const seed = g.inH * 1000 + g.inC * 10 + g.outC;
  const q = randomConvQuant(c.dtype, g.outC, k, c.act, c.requant, seed);
  const operands = { dtype: c.dtype, inputZeroPoint: q.input.zeroPoint, filterZeroPoint: q.filterZeroPoint };
  const x = randomQuant(c.dtype, g.batch * g.inH * g.inW * g.inC, seed + 7);
  const w = randomQuant(c.dtype, g.outC * k, seed + 8);
  const ref = qconv2dRef(g, operands, x, w, q.bias, q.requant);
  assertVaried(ref);
  const buffers = [
    quantStorage(ctx, x),
    quantStorage(ctx, w),
    int32Storage(
      ctx,
      channelData(q.bias, q.requant, packedBias(q.bias, w, k, operands.inputZeroPoint, operands.filterZeroPoint)),
    ),
    quantOutput(ctx, ref.length),
  ];
  const [bx, bw, bc, out] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const pipe = await qconv2dPipeline(ctx, variant, { dtype: c.dtype, requant: c.requant });
  await run(ctx, [
    qconv2dDispatch(ctx, pipe, variant, g, operands, q.requant, {
      input: { buffer: bx },
      filter: { buffer: bw },
      channels: { buffer: bc },
      output: { buffer: out },
    }),
  ]);
  assertSameQuant(await readQuant(ctx, out, c.dtype, ref.length), ref);
  for (const b of buffers) b.destroy();
}
