import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { qaddRef } from '../src/kernels/qadd_ref.ts';
import { qconcatRef, type QConcatInput } from '../src/kernels/qconcat_ref.ts';
import {
  qaddDispatch,
  qaddPipeline,
  qconcatDispatches,
  qlogisticDispatch,
  qlutPipeline,
} from '../src/kernels/qelementwise.ts';
import { qlogisticRef } from '../src/kernels/qlogistic_ref.ts';
import { concatRequantTable, concatRequantValue, logisticTable, logisticValue } from '../src/kernels/quant_tables.ts';
import { addRequant, REQUANTIZATIONS, type FusedActivation } from '../src/kernels/quantization.ts';
import { gpu, randomFloats, releaseGpu, run, storage } from './support/gpu.ts';
import {
  assertSameQuant,
  assertVaried,
  DTYPES,
  quantOutput,
  quantStorage,
  randomInt,
  randomQuant,
  readQuant,
} from './support/quant.ts';

after(releaseGpu);

const ACTS: FusedActivation[] = ['NONE', 'RELU6', 'RELU', 'RELU_N1_TO_1'];

let seed = 1;
for (const n of [1, 3, 37, 4096, 70001])
  for (const dtype of DTYPES)
    for (const requant of REQUANTIZATIONS) {
      const s = seed++;
      const act = ACTS[s % 4]!;
      test(`qadd ${dtype} ${requant}: ${n} values, ${act}`, async () => {
        const ctx = await gpu();
        const lo = dtype === 'uint8' ? 0 : -128;
        const [sa, sb] = randomFloats(2, s, 0.01, 0.1);
        // Output scale near the inputs' (residual adds), within XNNPACK's supported ratios.
        const a = { scale: sa!, zeroPoint: lo + randomInt(s + 1, 80, 170) },
          b = { scale: sb!, zeroPoint: lo + randomInt(s + 2, 80, 170) };
        const out = {
          scale: (sa! + sb!) * (act === 'RELU_N1_TO_1' ? 0.05 : 0.7),
          zeroPoint: lo + randomInt(s + 3, 100, 150),
        };
        const q = addRequant(dtype, a, b, out, act, requant);
        const xa = randomQuant(dtype, n, s + 4),
          xb = randomQuant(dtype, n, s + 5);
        const ref = qaddRef(dtype, xa, xb, q);
        assertVaried(ref);
        const [ba, bb, by] = [quantStorage(ctx, xa), quantStorage(ctx, xb), quantOutput(ctx, n)];
        await run(ctx, [
          qaddDispatch(
            ctx,
            await qaddPipeline(ctx, { dtype, requant }),
            n,
            q,
            { buffer: ba },
            { buffer: bb },
            { buffer: by },
          ),
        ]);
        assertSameQuant(await readQuant(ctx, by, dtype, n), ref);
        for (const buf of [ba, bb, by]) buf.destroy();
      });
    }

test('qadd: TFLite and XNNPACK arithmetic both approximate the real sum within one step, and differ somewhere', () => {
  const a = { scale: 0.037, zeroPoint: 120 },
    b = { scale: 0.051, zeroPoint: 131 },
    out = { scale: 0.066, zeroPoint: 128 };
  const xa = Uint8Array.from({ length: 65536 }, (_, i) => i & 255),
    xb = Uint8Array.from({ length: 65536 }, (_, i) => i >> 8);
  const t = qaddRef('uint8', xa, xb, addRequant('uint8', a, b, out, 'NONE', 'tflite'));
  const x = qaddRef('uint8', xa, xb, addRequant('uint8', a, b, out, 'NONE', 'xnnpack'));
  let differ = 0;
  for (let i = 0; i < xa.length; i++) {
    const real = (a.scale * (xa[i]! - a.zeroPoint) + b.scale * (xb[i]! - b.zeroPoint)) / out.scale + out.zeroPoint;
    const want = Math.min(255, Math.max(0, real));
    assert.ok(
      Math.abs(t[i]! - want) <= 0.5 + 1e-3 && Math.abs(x[i]! - want) <= 0.5 + 1e-3,
      `${xa[i]} + ${xb[i]}: tflite ${t[i]}, xnnpack ${x[i]}, real ${real}`,
    );
    if (t[i] !== x[i]) differ++;
  }
  assert.ok(differ > 0, 'the two arithmetics never differ: the option would test nothing');
});

for (const n of [1, 5, 1917 * 91])
  for (const dtype of DTYPES)
    for (const requant of REQUANTIZATIONS)
      test(`qlogistic ${dtype} ${requant}: ${n} values`, async () => {
        const ctx = await gpu();
        const lo = dtype === 'uint8' ? 0 : -128;
        const input = { scale: 0.0497, zeroPoint: lo + 223 },
          output = { scale: 1 / 256, zeroPoint: lo };
        const x = randomQuant(dtype, n, n + 3);
        const ref = qlogisticRef(dtype, x, input, output, requant);
        const [bt, bx, by] = [
          storage(ctx, logisticTable(dtype, input, output, requant)),
          quantStorage(ctx, x),
          quantOutput(ctx, n),
        ];
        await run(ctx, [
          qlogisticDispatch(ctx, await qlutPipeline(ctx), n, { buffer: bt }, { buffer: bx }, { buffer: by }),
        ]);
        assertSameQuant(await readQuant(ctx, by, dtype, n), ref);
        for (const buf of [bt, bx, by]) buf.destroy();
      });

test('logistic tables: sigmoid to 1/256 steps, monotone; TFLite and XNNPACK agree on the COCO model quantization', () => {
  const input = { scale: 0.04973676800727844, zeroPoint: 223 },
    output = { scale: 0.00390625, zeroPoint: 0 };
  for (let q = 1; q < 256; q++) {
    const v = logisticValue(q, 'uint8', input, output, 'tflite');
    assert.ok(v >= logisticValue(q - 1, 'uint8', input, output, 'tflite'));
    assert.ok(
      Math.abs(v - Math.min(255, 256 / (1 + Math.exp(-input.scale * (q - input.zeroPoint))))) <= 0.5 + 1e-6,
      `q ${q}: ${v}`,
    );
  }
  assert.deepEqual(logisticTable('uint8', input, output, 'tflite'), logisticTable('uint8', input, output, 'xnnpack'));
});

test('concat requantization: a copy for equal quantization, else round(x * scale + bias) from float32 scale and bias', () => {
  const same = { scale: 0.1, zeroPoint: 7 };
  for (let q = 0; q < 256; q++) assert.equal(concatRequantValue(q, 'uint8', same, same), q);
  const input = { scale: 0.03145682, zeroPoint: 138 },
    output = { scale: 0.07902788, zeroPoint: 191 };
  for (let q = 0; q < 256; q++) {
    const real = (input.scale * (q - input.zeroPoint)) / output.scale + output.zeroPoint;
    assert.ok(Math.abs(concatRequantValue(q, 'uint8', input, output) - Math.min(255, Math.max(0, real))) <= 0.5 + 1e-5);
  }
});

interface ConcatCase {
  shapes: number[][];
  axis: number;
}
const concatCases: ConcatCase[] = [
  // The COCO heads: [1, n, 91] and [1, n, 1, 4] along axis 1, sizes that leave words shared.
  {
    shapes: [
      [1, 1083, 91],
      [1, 600, 91],
      [1, 150, 91],
      [1, 54, 91],
      [1, 24, 91],
      [1, 6, 91],
    ],
    axis: 1,
  },
  {
    shapes: [
      [1, 1083, 1, 4],
      [1, 600, 1, 4],
      [1, 150, 1, 4],
      [1, 54, 1, 4],
      [1, 24, 1, 4],
      [1, 6, 1, 4],
    ],
    axis: 1,
  },
  {
    shapes: [
      [3, 5, 7],
      [2, 5, 7],
    ],
    axis: 0,
  },
  {
    shapes: [
      [2, 3, 5, 3],
      [2, 3, 5, 1],
      [2, 3, 5, 6],
    ],
    axis: 3,
  },
  {
    shapes: [
      [2, 3, 1, 5],
      [2, 3, 4, 5],
    ],
    axis: 2,
  },
  {
    shapes: [
      [1, 1, 1],
      [1, 2, 1],
      [1, 1, 1],
    ],
    axis: 1,
  },
];
for (const [i, c] of concatCases.entries())
  for (const dtype of DTYPES)
    test(`qconcat ${dtype}: axis ${c.axis} of ${c.shapes.map((s) => `[${s}]`).join(' ')}`, async () => {
      const ctx = await gpu();
      const lo = dtype === 'uint8' ? 0 : -128;
      const output = { scale: 0.08, zeroPoint: lo + 191 };
      const inputs: QConcatInput[] = c.shapes.map((shape, j) => ({
        shape,
        data: randomQuant(
          dtype,
          shape.reduce((a, b) => a * b, 1),
          100 * i + j,
        ),
        // One input shares the output's quantization (TFLite copies it), the others are requantized.
        quant: j === 0 ? output : { scale: 0.02 + 0.01 * j, zeroPoint: lo + 120 + 5 * j },
      }));
      const ref = qconcatRef(dtype, inputs, c.axis, output);
      assertVaried(ref);
      const outShape = [...c.shapes[0]!];
      outShape[c.axis] = c.shapes.reduce((n, s) => n + s[c.axis]!, 0);
      const tables = inputs.map((t) => storage(ctx, concatRequantTable(dtype, t.quant, output)));
      const data = inputs.map((t) => quantStorage(ctx, t.data));
      const by = quantOutput(ctx, ref.length);
      const parts = inputs.map((t, j) => ({
        size: t.shape[c.axis]!,
        table: { buffer: tables[j]! },
        input: { buffer: data[j]! },
      }));
      await run(ctx, qconcatDispatches(ctx, await qlutPipeline(ctx), outShape, c.axis, parts, { buffer: by }));
      assertSameQuant(await readQuant(ctx, by, dtype, ref.length), ref);
      for (const buf of [...tables, ...data, by]) buf.destroy();
    });
