/**
 * Backward kernels: each CPU reference against central finite differences of the forward
 * reference, then each GPU kernel against its CPU reference over a grid of shapes, with the output
 * gradient read through a concatenation-slice view and the result added into a prefilled buffer.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  ACTIVATIONS,
  convGeometry,
  type Clamp,
  type ConvGeometry,
  type OutputView,
  type Padding,
} from '../src/core/geometry.ts';
import { padLastDimTo4 } from '../src/kernels/common.ts';
import {
  activationBackwardPipeline,
  accumulateDispatch,
  clampMaskDispatch,
} from '../src/kernels/activation_backward.ts';
import { clampBackwardRef } from '../src/kernels/activation_backward_ref.ts';
import { biasBackwardDispatch, biasBackwardPipeline } from '../src/kernels/bias_backward.ts';
import {
  conv2dBackwardDispatches,
  conv2dBackwardPipelines,
  conv2dBackwardScratch,
  type ConvGrad,
} from '../src/kernels/conv2d_backward.ts';
import { conv2dBackwardRef, type ConvGrads } from '../src/kernels/conv2d_backward_ref.ts';
import { conv2dRef } from '../src/kernels/conv2d_ref.ts';
import { depthwiseBackwardDispatch, depthwiseBackwardPipeline } from '../src/kernels/depthwise_conv2d_backward.ts';
import { depthwiseBackwardRef } from '../src/kernels/depthwise_conv2d_backward_ref.ts';
import { depthwiseConv2dRef } from '../src/kernels/depthwise_conv2d_ref.ts';
import { pointwiseBackwardDispatch, pointwiseBackwardPipeline } from '../src/kernels/pointwise_conv2d_backward.ts';
import { pointwiseBackwardRef } from '../src/kernels/pointwise_conv2d_backward_ref.ts';
import { pointwiseConv2dRef, type PointwiseShape } from '../src/kernels/pointwise_conv2d_ref.ts';
import { assertClose, gpu, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';

after(releaseGpu);

type Kind = 'conv2d' | 'depthwise' | 'pointwise';

const geometry = (
  batch: number,
  hw: [number, number],
  inC: number,
  outC: number,
  k: number,
  stride: number,
  padding: Padding,
): ConvGeometry =>
  convGeometry({ batch, inH: hw[0], inW: hw[1], inC, outC, kH: k, kW: k, strideH: stride, strideW: stride, padding });

const asGemm = (g: ConvGeometry): PointwiseShape => ({
  M: g.batch * g.outH * g.outW,
  K: g.inC,
  N: g.outC,
  HW: g.outH * g.outW,
});

/** Inputs of one case: x, the unpadded filter and bias, and a random output gradient. */
function inputs(kind: Kind, g: ConvGeometry, seed: number) {
  const taps = kind === 'depthwise' ? g.kH * g.kW * g.inC : g.kH * g.kW * g.inC * g.outC;
  const scale = 1 / Math.sqrt(g.kH * g.kW * (kind === 'depthwise' ? 1 : g.inC));
  return {
    x: randomFloats(g.batch * g.inH * g.inW * g.inC, seed, -1, 1),
    w: randomFloats(taps, seed + 1, -scale, scale),
    bias: randomFloats(g.outC, seed + 2, -0.5, 0.5),
    dy: randomFloats(g.batch * g.outH * g.outW * g.outC, seed + 3, -1, 1),
  };
}

function forward(kind: Kind, g: ConvGeometry, x: Float32Array, w: Float32Array, bias: Float32Array): Float32Array {
  if (kind === 'depthwise') return depthwiseConv2dRef(g, x, w, bias, ACTIVATIONS.none);
  if (kind === 'pointwise') return pointwiseConv2dRef(asGemm(g), x, w, bias, ACTIVATIONS.none);
  return conv2dRef(g, x, w, bias, ACTIVATIONS.none);
}

function backwardRef(kind: Kind, g: ConvGeometry, x: Float32Array, w: Float32Array, dy: Float32Array): ConvGrads {
  if (kind === 'depthwise') return depthwiseBackwardRef(g, x, w, dy);
  if (kind === 'pointwise') return pointwiseBackwardRef(asGemm(g), x, w, dy);
  return conv2dBackwardRef(g, x, w, dy);
}

/**
 * d/dp of sum(dy * forward) by central differences, for every element of p. The forward pass is
 * linear in each argument without activation, so the differences are exact up to float32 rounding.
 */
function numericGrad(p: Float32Array, f: () => Float32Array, dy: Float32Array, eps = 1e-2): Float64Array {
  const out = new Float64Array(p.length);
  const dot = () => f().reduce((s, v, i) => s + v * dy[i]!, 0);
  for (let i = 0; i < p.length; i++) {
    const keep = p[i]!;
    p[i] = keep + eps;
    const up = dot();
    p[i] = keep - eps;
    const down = dot();
    p[i] = keep;
    out[i] = (up - down) / (2 * eps);
  }
  return out;
}

const fdCases: [Kind, ConvGeometry][] = [
  ['conv2d', geometry(2, [5, 4], 3, 5, 3, 1, 'SAME')],
  ['conv2d', geometry(1, [6, 7], 4, 3, 3, 2, 'SAME')],
  ['conv2d', geometry(1, [5, 5], 2, 3, 3, 2, [0, 1, 1, 0])],
  ['conv2d', geometry(2, [4, 4], 5, 2, 1, 2, 'VALID')],
  ['depthwise', geometry(2, [5, 6], 5, 5, 3, 1, 'SAME')],
  ['depthwise', geometry(1, [7, 7], 4, 4, 3, 2, 'SAME')],
  ['depthwise', geometry(1, [6, 5], 3, 3, 5, 2, 'VALID')],
  ['pointwise', geometry(2, [3, 4], 6, 5, 1, 1, 'VALID')],
];

for (const [kind, g] of fdCases) {
  test(`${kind} backward reference equals finite differences: ${g.batch}x${g.inH}x${g.inW}x${g.inC} -> ${g.outC}, k${g.kH} s${g.strideH}`, () => {
    const { x, w, bias, dy } = inputs(kind, g, 11);
    const ref = backwardRef(kind, g, x, w, dy);
    const f = () => forward(kind, g, x, w, bias);
    assertClose(ref.dx, numericGrad(x, f, dy), 2e-4, 2e-3, 'dx');
    assertClose(ref.dw, numericGrad(w, f, dy), 2e-4, 2e-3, 'dw');
    assertClose(ref.db, numericGrad(bias, f, dy), 2e-4, 2e-3, 'db');
  });
}

test('clamp backward reference equals finite differences away from the bounds', () => {
  const z = randomFloats(400, 5, -2, 8);
  const act: Clamp = ACTIVATIONS.relu6;
  const y = z.map((v) => Math.min(Math.max(v, act.min), act.max));
  const dy = randomFloats(400, 6, -1, 1);
  const ref = clampBackwardRef(y, dy, act);
  const eps = 1e-3;
  let checked = 0;
  for (let i = 0; i < z.length; i++) {
    if (Math.abs(z[i]!) < 2 * eps || Math.abs(z[i]! - 6) < 2 * eps) continue;
    const c = (v: number) => Math.min(Math.max(v, act.min), act.max);
    const numeric = ((c(z[i]! + eps) - c(z[i]! - eps)) / (2 * eps)) * dy[i]!;
    assert.ok(Math.abs(numeric - ref[i]!) < 1e-3, `element ${i}: ${ref[i]} vs ${numeric}`);
    checked++;
  }
  assert.ok(checked > 390);
});

interface GpuCase {
  kind: Kind;
  g: ConvGeometry;
  /** Read dy from a slice of a larger buffer, as a predictor's gradient inside a concatenation. */
  sliced: boolean;
}

const gpuCases: GpuCase[] = [];
for (const [hw, inC, outC, k, stride, padding] of [
  [[1, 1], 4, 8, 3, 1, 'SAME'],
  [[5, 5], 3, 5, 3, 2, 'SAME'],
  [[7, 6], 8, 12, 3, 1, 'SAME'],
  [[10, 10], 16, 20, 3, 2, 'SAME'],
  [[9, 8], 5, 3, 3, 2, 'VALID'],
  [[6, 6], 12, 7, 5, 1, [2, 1, 2, 2]],
  [[19, 19], 32, 24, 3, 1, 'SAME'],
] as [[number, number], number, number, number, number, Padding][]) {
  gpuCases.push({
    kind: 'conv2d',
    g: geometry(2, hw, inC, outC, k, stride, padding),
    sliced: gpuCases.length % 2 === 1,
  });
}
for (const [hw, c, k, stride, padding] of [
  [[1, 1], 4, 3, 1, 'SAME'],
  [[5, 7], 3, 3, 2, 'SAME'],
  [[10, 10], 16, 3, 1, 'SAME'],
  [[19, 19], 24, 3, 2, 'SAME'],
  [[9, 9], 5, 5, 2, 'VALID'],
] as [[number, number], number, number, number, Padding][]) {
  gpuCases.push({ kind: 'depthwise', g: geometry(3, hw, c, c, k, stride, padding), sliced: gpuCases.length % 2 === 1 });
}
for (const [hw, inC, outC] of [
  [[1, 1], 4, 12],
  [[5, 5], 8, 6],
  [[3, 3], 13, 24],
  [[19, 19], 64, 36],
  [[10, 10], 128, 9],
] as [[number, number], number, number][]) {
  gpuCases.push({ kind: 'pointwise', g: geometry(2, hw, inC, outC, 1, 1, 'VALID'), sliced: gpuCases.length % 2 === 1 });
}

/** dy placed in a larger buffer: 8 leading values, 3 extra channels per pixel, 5 extra values per image. */
function sliceLayout(g: ConvGeometry, dy: Float32Array): { data: Float32Array; view: OutputView } {
  const pixelStride = g.outC + 3;
  const view = { base: 8, batchStride: g.outH * g.outW * pixelStride + 5, pixelStride };
  const data = randomFloats(view.base + g.batch * view.batchStride, 99, -9, 9);
  const pixels = g.outH * g.outW;
  for (let b = 0; b < g.batch; b++)
    for (let p = 0; p < pixels; p++)
      for (let c = 0; c < g.outC; c++)
        data[view.base + b * view.batchStride + p * pixelStride + c] = dy[(b * pixels + p) * g.outC + c]!;
  return { data, view };
}

const unpad = (packed: Float32Array, n: number): Float32Array => {
  const n4 = Math.ceil(n / 4) * 4;
  const out = new Float32Array((packed.length / n4) * n);
  for (let r = 0; r < packed.length / n4; r++) out.set(packed.subarray(r * n4, r * n4 + n), r * n);
  return out;
};

for (const c of gpuCases) {
  const { g } = c;
  test(`${c.kind} backward on the GPU equals the reference: ${g.batch}x${g.inH}x${g.inW}x${g.inC} -> ${g.outC}, k${g.kH} s${g.strideH}${c.sliced ? ', dy in a slice' : ''}`, async () => {
    const ctx = await gpu();
    const { x, w, dy } = inputs(c.kind, g, 21 + g.inC);
    const ref = backwardRef(c.kind, g, x, w, dy);
    const { data: dyData, view } = c.sliced ? sliceLayout(g, dy) : { data: dy, view: undefined };
    const lastDim = c.kind === 'depthwise' ? g.inC : g.outC;
    const packedW = padLastDimTo4(w, lastDim);
    const bDy = storage(ctx, dyData),
      bX = storage(ctx, x),
      bW = storage(ctx, packedW);
    // Prefilled gradients: the kernels must add to what is there.
    const dx0 = randomFloats(x.length, 31, -1, 1);
    const dw0 = randomFloats(packedW.length, 32, -1, 1);
    const db0 = randomFloats(Math.ceil(g.outC / 4) * 4, 33, -1, 1);
    const bDx = storage(ctx, dx0),
      bDw = storage(ctx, dw0),
      bDb = storage(ctx, db0);
    const opts = view ? { dyView: view } : {};
    // The im2col scratch starts with garbage: the input-gradient GEMM must overwrite it.
    const scratch = storage(ctx, randomFloats(Math.max(4, conv2dBackwardScratch(g)), 34, -9, 9));
    const dispatch = async (grad: ConvGrad, src: GPUBuffer, out: GPUBuffer) => {
      const bindings = { dy: { buffer: bDy }, src: { buffer: src }, grad: { buffer: out } };
      if (c.kind === 'conv2d')
        return conv2dBackwardDispatches(
          ctx,
          await conv2dBackwardPipelines(ctx, grad),
          grad,
          g,
          { ...bindings, scratch: { buffer: scratch } },
          opts,
        );
      if (c.kind === 'depthwise')
        return [depthwiseBackwardDispatch(ctx, await depthwiseBackwardPipeline(ctx, grad), grad, g, bindings, opts)];
      return [
        pointwiseBackwardDispatch(ctx, await pointwiseBackwardPipeline(ctx, grad), grad, asGemm(g), bindings, opts),
      ];
    };
    const bias = biasBackwardDispatch(
      ctx,
      await biasBackwardPipeline(ctx),
      { pixels: g.batch * g.outH * g.outW, hw: g.outH * g.outW, channels: g.outC },
      { buffer: bDy },
      { buffer: bDb },
      opts,
    );
    await run(ctx, [...(await dispatch('input', bW, bDx)), ...(await dispatch('filter', bX, bDw)), bias]);
    const plus = (a: Float32Array, b: Float64Array) => Float64Array.from(b, (v, i) => v + a[i]!);
    const gotDx = await readF32(ctx, bDx, x.length);
    assertClose(gotDx, plus(dx0, ref.dx), 1e-4, 1e-4, 'dx');
    const dw = await readF32(ctx, bDw, packedW.length);
    assertClose(unpad(dw, lastDim), plus(unpad(dw0, lastDim), ref.dw), 1e-4, 1e-4, 'dw');
    const gotDb = (await readF32(ctx, bDb, db0.length)).subarray(0, g.outC);
    // Besides those, each gradient against the bound of its own arithmetic: a sequential float32 sum of n products
    // added to the prefilled value errs by at most (n + 1) u E, E the sum of the absolute values of its terms (the
    // same reference on |x|, |w|, |dy|, plus |prefill|); with independent zero-mean roundings (Higham and Mary, SIAM J.
    // Sci. Comput. 2019) by 6 sqrt(n + 1) u E but with probability 3e-8. n: the taps times output channels, plus the
    // taps again for the im2col fold, for dx; the B x outH x outW output pixels for dw and db. Measured on lavapipe: at
    // most 3.6 u E (pointwise dw on 2x19x19x64); in absolute terms 3.9e-5 on gradients up to 43, 2.6e-3 relative.
    const env = backwardRef(c.kind, g, x.map(Math.abs), w.map(Math.abs), dy.map(Math.abs));
    const taps = g.kH * g.kW;
    const pixels = g.batch * g.outH * g.outW;
    for (const [name, got, want, e, prefill, n] of [
      ['dx', gotDx, plus(dx0, ref.dx), env.dx, dx0, taps * (c.kind === 'depthwise' ? 1 : g.outC) + taps],
      ['dw', unpad(dw, lastDim), plus(unpad(dw0, lastDim), ref.dw), env.dw, unpad(dw0, lastDim), pixels],
      ['db', gotDb, plus(db0.subarray(0, g.outC), ref.db), env.db, db0, pixels],
    ] as const) {
      const k = 6 * Math.sqrt(n + 1) * 2 ** -24;
      got.forEach((v, i) => {
        const bound = k * (e[i]! + Math.abs(prefill[i]!));
        assert.ok(Math.abs(v - want[i]!) <= bound, `${name}[${i}]: ${v}, reference ${want[i]}, bound ${bound}`);
      });
    }
    // The filter's zero padding must receive no gradient.
    const padOnly = dw.map((v, i) => (i % (Math.ceil(lastDim / 4) * 4) >= lastDim ? v - dw0[i]! : 0));
    assert.ok(
      padOnly.every((v) => v === 0),
      'padding columns unchanged',
    );
    assertClose(gotDb, plus(db0.subarray(0, g.outC), ref.db), 1e-4, 1e-4, 'db');
    for (const b of [bDy, bX, bW, bDx, bDw, bDb, scratch]) b.destroy();
  });
}

test('clamp mask and accumulate on the GPU equal their references', async () => {
  const ctx = await gpu();
  const n = 1000;
  const z = randomFloats(n, 41, -3, 9);
  z[3] = 0;
  z[4] = 6;
  const y = z.map((v) => Math.min(Math.max(v, 0), 6));
  const dy = randomFloats(n, 42, -1, 1);
  const other = randomFloats(n, 43, -1, 1);
  const bY = storage(ctx, y),
    bDy = storage(ctx, dy),
    bOther = storage(ctx, other);
  const mask = await activationBackwardPipeline(ctx, 'mask');
  const add = await activationBackwardPipeline(ctx, 'add');
  await run(ctx, [
    clampMaskDispatch(ctx, mask, n, ACTIVATIONS.relu6, { buffer: bY }, { buffer: bDy }),
    accumulateDispatch(ctx, add, n, { buffer: bDy }, { buffer: bOther }),
  ]);
  const masked = clampBackwardRef(y, dy, ACTIVATIONS.relu6);
  assert.equal(masked[3], 0);
  assert.equal(masked[4], 0);
  assertClose(await readF32(ctx, bDy, n), masked, 0, 0, 'masked dy');
  // One float32 addition of two float32 values: within half an ULP, u = 2^-24 relative (was atol and rtol 1e-6).
  assertClose(
    await readF32(ctx, bOther, n),
    Float64Array.from(masked, (v, i) => v + other[i]!),
    0,
    2 ** -24,
    'accumulated',
  );
  for (const b of [bY, bDy, bOther]) b.destroy();
});
