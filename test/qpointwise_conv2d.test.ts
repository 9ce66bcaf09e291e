import { after, test } from 'node:test';
import { channelData, packedBias, supportsPackedDot } from '../src/kernels/qcommon.ts';
import {
  QPOINTWISE_VARIANTS,
  qpointwiseConv2dDispatch,
  qpointwiseConv2dPipeline,
  qpointwiseVariantSupported,
  type QGemmShape,
  type QPointwiseVariant,
} from '../src/kernels/qpointwise_conv2d.ts';
import { qpointwiseConv2dRef } from '../src/kernels/qpointwise_conv2d_ref.ts';
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

interface Case extends QGemmShape {
  act: FusedActivation;
  dtype: QuantDType;
  requant: Requantization;
}

const ACTS: FusedActivation[] = ['RELU6', 'NONE', 'RELU'];
const cases: Case[] = [];
// M: pixels of odd maps (1x1 .. 19x19, batches); K, N: channel counts with and without % 4, and the
// COCO heads (K 384 / 768; N 12, 24, 273, 546).
for (const M of [1, 3, 25, 83, 361])
  for (const [K, N] of [
    [4, 4],
    [3, 8],
    [8, 5],
    [16, 12],
    [24, 48],
    [13, 7],
    [96, 273],
    [384, 24],
  ] as [number, number][]) {
    const i = cases.length;
    cases.push({ M, K, N, act: ACTS[i % 3]!, dtype: DTYPES[i % 2]!, requant: REQUANTIZATIONS[(i >> 1) % 2]! });
  }
cases.push({ M: 100, K: 768, N: 546, act: 'NONE', dtype: 'uint8', requant: 'xnnpack' });
cases.push({ M: 2 * 361, K: 192, N: 384, act: 'RELU6', dtype: 'int8', requant: 'tflite' });

for (const c of cases)
  for (const variant of QPOINTWISE_VARIANTS) {
    if (!qpointwiseVariantSupported(c, variant)) continue;
    test(`qpointwise ${variant} ${c.dtype} ${c.requant}: M ${c.M}, K ${c.K}, N ${c.N} ${c.act}`, (t) =>
      check(t, c, variant));
  }

async function check(t: { skip(reason: string): void }, c: Case, variant: QPointwiseVariant): Promise<void> {
  const ctx = await gpu();
  if (variant.endsWith('dot4') && !(await supportsPackedDot(ctx)))
    return t.skip('the adapter has no packed_4x8_integer_dot_product');
  const seed = c.M * 7919 + c.K * 31 + c.N;
  const q = randomConvQuant(c.dtype, c.N, c.K, c.act, c.requant, seed);
  const operands = { dtype: c.dtype, inputZeroPoint: q.input.zeroPoint, filterZeroPoint: q.filterZeroPoint };
  const x = randomQuant(c.dtype, c.M * c.K, seed + 7);
  const w = randomQuant(c.dtype, c.N * c.K, seed + 8);
  const ref = qpointwiseConv2dRef(c, operands, x, w, q.bias, q.requant);
  assertVaried(ref);
  const buffers = [
    quantStorage(ctx, x),
    quantStorage(ctx, w),
    int32Storage(
      ctx,
      channelData(q.bias, q.requant, packedBias(q.bias, w, c.K, operands.inputZeroPoint, operands.filterZeroPoint)),
    ),
    quantOutput(ctx, ref.length),
  ];
  const [bx, bw, bc, out] = buffers as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  const pipe = await qpointwiseConv2dPipeline(ctx, variant, { dtype: c.dtype, requant: c.requant });
  await run(ctx, [
    qpointwiseConv2dDispatch(ctx, pipe, variant, c, operands, q.requant, {
      input: { buffer: bx },
      filter: { buffer: bw },
      channels: { buffer: bc },
      output: { buffer: out },
    }),
  ]);
  assertSameQuant(await readQuant(ctx, out, c.dtype, ref.length), ref);
  for (const b of buffers) b.destroy();
}
