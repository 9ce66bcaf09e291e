import { after, test } from 'node:test';
import { convGeometry, type Padding } from '../src/core/geometry.ts';
import { channelData } from '../src/kernels/qcommon.ts';
import {
  QDEPTHWISE_VARIANTS,
  qdepthwiseConv2dDispatch,
  qdepthwiseConv2dPipeline,
  qdepthwiseVariantSupported,
  type QDepthwiseVariant,
} from '../src/kernels/qdepthwise_conv2d.ts';
import { qdepthwiseConv2dRef } from '../src/kernels/qdepthwise_conv2d_ref.ts';
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
  c: number;
  k: number;
  stride: number;
  padding: Padding;
  act: FusedActivation;
  dtype: QuantDType;
  requant: Requantization;
  batch?: number;
}

const ACTS: FusedActivation[] = ['RELU6', 'NONE', 'RELU'];
const cases: Case[] = [];
const next = (c: Omit<Case, 'act' | 'dtype' | 'requant'>) => {
  const i = cases.length;
  cases.push({ ...c, act: ACTS[i % 3]!, dtype: DTYPES[i % 2]!, requant: REQUANTIZATIONS[(i >> 1) % 2]! });
};
for (const hw of [
  [1, 1],
  [3, 3],
  [7, 5],
  [9, 9],
  [19, 19],
] as [number, number][])
  for (const c of [1, 3, 4, 8, 13, 24])
    for (const stride of [1, 2])
      for (const padding of ['SAME', 'VALID'] as const)
        next({ hw, c, k: hw[0] === 1 && padding === 'VALID' ? 1 : 3, stride, padding });
next({ hw: [10, 10], c: 16, k: 5, stride: 1, padding: [2, 1, 2, 3], batch: 3 });
next({ hw: [8, 6], c: 12, k: 3, stride: 2, padding: 'SAME', batch: 2 });
next({ hw: [38, 38], c: 96, k: 3, stride: 2, padding: 'SAME' });
next({ hw: [150, 150], c: 24, k: 3, stride: 1, padding: 'SAME' });

for (const c of cases) {
  const g = convGeometry({
    batch: c.batch ?? 1,
    inH: c.hw[0],
    inW: c.hw[1],
    inC: c.c,
    outC: c.c,
    kH: c.k,
    kW: c.k,
    strideH: c.stride,
    strideW: c.stride,
    padding: c.padding,
  });
  for (const variant of QDEPTHWISE_VARIANTS) {
    if (!qdepthwiseVariantSupported(g, variant)) continue;
    const pad = typeof c.padding === 'string' ? c.padding : `pad[${c.padding}]`;
    test(`qdepthwise ${variant} ${c.dtype} ${c.requant}: ${g.batch}x${c.hw[0]}x${c.hw[1]}x${c.c}, k${c.k} s${c.stride} ${pad} ${c.act}`, () =>
      check(c, variant));
  }
}

async function check(c: Case, variant: QDepthwiseVariant): Promise<void> {
  const ctx = await gpu();
  const g = convGeometry({
    batch: c.batch ?? 1,
    inH: c.hw[0],
    inW: c.hw[1],
    inC: c.c,
    outC: c.c,
    kH: c.k,
    kW: c.k,
    strideH: c.stride,
    strideW: c.stride,
    padding: c.padding,
  });
  const seed = g.inH * 1000 + g.inC * 10 + c.stride;
  const q = randomConvQuant(c.dtype, g.outC, g.kH * g.kW, c.act, c.requant, seed);
  const operands = { dtype: c.dtype, inputZeroPoint: q.input.zeroPoint, filterZeroPoint: q.filterZeroPoint };
  const x = randomQuant(c.dtype, g.batch * g.inH * g.inW * g.inC, seed + 7);
  const w = randomQuant(c.dtype, g.kH * g.kW * g.outC, seed + 8);
  const ref = qdepthwiseConv2dRef(g, operands, x, w, q.bias, q.requant);
  assertVaried(ref);
  const buffers = [
    quantStorage(ctx, x),
    quantStorage(ctx, w),
    int32Storage(ctx, channelData(q.bias, q.requant)),
    quantOutput(ctx, ref.length),
  ];
  const [bx, bw, bc, out] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const pipe = await qdepthwiseConv2dPipeline(ctx, variant, { dtype: c.dtype, requant: c.requant });
  await run(ctx, [
    qdepthwiseConv2dDispatch(ctx, pipe, variant, g, operands, q.requant, {
      input: { buffer: bx },
      filter: { buffer: bw },
      channels: { buffer: bc },
      output: { buffer: out },
    }),
  ]);
  assertSameQuant(await readQuant(ctx, out, c.dtype, ref.length), ref);
  for (const b of buffers) b.destroy();
}
