/**
 * Integer execution through the graph executor (precision 'int8'): the COCO uint8 model converted to
 * the model format (its scales and zero points kept), lowered to the ops' integer variants, planned in
 * one arena of packed 8-bit tensors, must reproduce TensorFlow Lite's raw uint8 outputs byte for byte
 * on every golden (XNNPACK requantization, the goldens' runtime: docs/integer.md), with each kernel
 * variant family forced; and the model format must keep what that needs.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { integerValues, type ConstQuant, type TensorQuant } from '../src/core/quant.ts';
import { ModelFormatError, UnsupportedOperatorError } from '../src/errors.ts';
import type { GpuContext } from '../src/gpu/context.ts';
import { encodeDispatches } from '../src/gpu/dispatch.ts';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { integerBlocker, integerLowering, resolvePrecision } from '../src/graph/integer.ts';
import { lowerGraph } from '../src/graph/lower.ts';
import { parseModel, serializeModel } from '../src/graph/model_format.ts';
import { constData, type LoadedModel } from '../src/graph/weights.ts';
import { supportsPackedDot } from '../src/kernels/qcommon.ts';
import { qaddRef } from '../src/kernels/qadd_ref.ts';
import { addRequant, packQuantized, type Requantization } from '../src/kernels/quantization.ts';
import type { VariantChoice } from '../src/ops/support/lowering.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { buildGoldenInput, goldenStems, loadGolden } from './support/goldens.ts';
import { convertedCoco, convertedOid } from './support/model_sources.ts';

after(releaseGpu);

const MODEL = 'coco-ssd-mobilenetv1-quant';
const stems = goldenStems(MODEL);

/** The executor's packed uint8 outputs for one golden's exact input. */
async function runInteger(
  ctx: GpuContext,
  model: LoadedModel,
  ex: GraphExecutor,
  input: Uint8Array,
): Promise<{ boxes: Uint8Array; scores: Uint8Array; boxesF32: Float32Array; scoresF32: Float32Array }> {
  const words = packQuantized(input);
  const inp = ex.input;
  ctx.queue.writeBuffer(inp.buffer, inp.offset ?? 0, words.buffer, words.byteOffset, words.byteLength);
  await ctx.checked('integer executor', () => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encodeDispatches(pass, ex.dispatches);
    pass.end();
    ctx.queue.submit([enc.finish()]);
  });
  const count = (t: string) => model.json.shapes[t]!.reduce((a, d) => a * d, 1);
  const read = async (t: string) => {
    const [b, n] = [ex.bind(t), count(t)];
    return new Uint8Array(await ctx.readBuffer(b.buffer, b.offset ?? 0, Math.ceil(n / 4) * 4)).slice(0, n);
  };
  const readF32 = async (b: GPUBufferBinding, t: string) =>
    new Float32Array(await ctx.readBuffer(b.buffer, b.offset ?? 0, 4 * count(t)));
  const { boxes, scores } = model.json.outputs;
  return {
    boxes: await read(boxes),
    scores: await read(scores),
    boxesF32: await readF32(ex.outputs.boxes, boxes),
    scoresF32: await readF32(ex.outputs.scores, scores),
  };
}

function differing(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

async function executor(model: LoadedModel, requant: Requantization, force: VariantChoice, packedDot?: boolean) {
  const ctx = await gpu();
  const integer = integerLowering(model.json, requant, packedDot ?? (await supportsPackedDot(ctx)));
  const weights = packModelWeights(ctx, model, integer);
  return { ctx, ex: await GraphExecutor.create(ctx, model, weights, 1, force, integer), weights };
}

test('the converter keeps the scales and zero points: every tensor, every filter and bias, the scores after LOGISTIC', async () => {
  const m = await convertedCoco();
  const q = m.json.quantization;
  assert.ok(q, 'no quantization recorded');
  assert.equal(integerBlocker(m.json), undefined);
  assert.deepEqual(q.tensors[m.json.input], { dtype: 'uint8', scale: 0.0078125, zeroPoint: 128 });
  assert.deepEqual(q.scores, { dtype: 'uint8', scale: 1 / 256, zeroPoint: 0 });
  const g = loadGolden(MODEL, stems[0]!);
  assert.deepEqual(
    { scale: q.tensors[m.json.outputs.boxes]!.scale, zeroPoint: q.tensors[m.json.outputs.boxes]!.zeroPoint },
    g.outputs['Squeeze']!.quantization,
  );
  for (const n of m.json.nodes)
    if (n.op === 'conv2d' || n.op === 'depthwise_conv2d') {
      const filter: ConstQuant | undefined = q.constants[n.filter];
      const bias: ConstQuant | undefined = q.constants[n.bias];
      assert.equal(filter?.dtype, 'uint8', `${n.name} filter`);
      assert.ok(bias?.dtype === 'int32', `${n.name} bias`);
      const ints = integerValues(constData(m, n.bias).data, bias);
      assert.ok(typeof ints !== 'string', `${n.name}: ${String(ints)}`);
    }
  // Through the file format and its validation, unchanged.
  const { json, weights } = serializeModel(m);
  const back = await parseModel(json, weights, 'coco/model.json');
  assert.deepEqual(back.json.quantization, q);
  const bad = JSON.parse(json) as { quantization: { tensors: Record<string, { zeroPoint: number }> } };
  bad.quantization.tensors[m.json.input]!.zeroPoint = 300;
  await assert.rejects(parseModel(JSON.stringify(bad), weights, 'bad/model.json'), ModelFormatError);
});

test("precision: 'auto' runs the uint8 model in integers and the float model in f32; 'int8' refuses a float model", async () => {
  const [coco, oid] = [await convertedCoco(), await convertedOid()];
  assert.equal(resolvePrecision(coco.json, 'auto'), 'int8');
  assert.equal(resolvePrecision(coco.json, 'f32'), 'f32');
  assert.equal(resolvePrecision(oid.json, 'auto'), 'f32');
  assert.throws(() => resolvePrecision(oid.json, 'int8'), UnsupportedOperatorError);
  assert.match(integerBlocker(oid.json) ?? '', /not converted from a quantized model/);
});

test('integer activations take a quarter of the float arena', async () => {
  const m = await convertedCoco();
  const ctx = await gpu();
  const f = await GraphExecutor.create(ctx, m, packModelWeights(ctx, m), 1);
  const i = await executor(m, 'xnnpack', {});
  assert.ok(
    i.ex.stats.activationBytes <= f.stats.activationBytes / 4 + 4096,
    `${i.ex.stats.activationBytes} vs ${f.stats.activationBytes}`,
  );
  assert.ok(
    i.ex.stats.steps.every((s) => s.kind.startsWith('q')),
    'a float step in the integer graph',
  );
  f.destroy();
  i.ex.destroy();
  i.weights.buffer?.destroy();
});

const VARIANT_SETS: { name: string; force: VariantChoice; packedDot?: boolean }[] = [
  { name: 'default variants', force: {} },
  {
    name: 'plain integers, flat GEMM, naive depthwise',
    force: { qpointwise: 'flat', qdepthwise: 'naive' },
    packedDot: false,
  },
  { name: 'naive kernels', force: { qpointwise: 'naive', qconv2d: 'naive', qdepthwise: 'naive' }, packedDot: false },
];

for (const set of VARIANT_SETS)
  test(`integer executor (${set.name}) reproduces TFLite's uint8 Squeeze and concat_1 byte for byte on every golden`, async (t) => {
    const m = await convertedCoco();
    const { ctx, ex, weights } = await executor(m, 'xnnpack', set.force, set.packedDot);
    try {
      const variants = [...new Set(ex.stats.steps.map((s) => `${s.kind}/${s.variant}`))].sort().join(' ');
      t.diagnostic(`${ex.stats.dispatches} dispatches; ${variants}`);
      for (const [kind, v] of Object.entries(set.force))
        assert.ok(
          ex.stats.steps.some((s) => s.kind === kind && s.variant === v),
          `${kind} ${v} not chosen`,
        );
      for (const stem of set.name === 'default variants' ? stems : stems.slice(0, 1)) {
        const g = loadGolden(MODEL, stem);
        const out = await runInteger(ctx, m, ex, buildGoldenInput(g).data as Uint8Array);
        const db = differing(out.boxes, g.outputs['Squeeze']!.quantized!);
        const ds = differing(out.scores, g.outputs['concat_1']!.quantized!);
        t.diagnostic(`${stem}: ${db} box bytes, ${ds} logit bytes differ`);
        assert.equal(db + ds, 0, `${stem}: ${db} of the box bytes and ${ds} of the logit bytes differ`);
        // What the SSD head reads: the box encodings and the LOGISTIC's scores dequantized, as TFLite's
        // post-process op reads them (float32 (q - zp) * scale: equal to the goldens' dequantized arrays).
        assert.deepEqual(out.boxesF32, g.outputs['Squeeze']!.data);
        assert.deepEqual(out.scoresF32, g.outputs['convert_scores']!.data);
      }
    } finally {
      ex.destroy();
      weights.buffer?.destroy();
    }
  });

test("TFLite's fixed-point requantization through the executor differs from the goldens (their runtime is XNNPACK's)", async () => {
  const m = await convertedCoco();
  const { ctx, ex, weights } = await executor(m, 'tflite', {});
  const g = loadGolden(MODEL, stems[0]!);
  const out = await runInteger(ctx, m, ex, buildGoldenInput(g).data as Uint8Array);
  assert.ok(differing(out.boxes, g.outputs['Squeeze']!.quantized!) > 0);
  ex.destroy();
  weights.buffer?.destroy();
});

/** The COCO graph with more nodes after its box encodings; the last one's output `extra` becomes the boxes output. */
function withExtraNodes(m: LoadedModel, nodes: Record<string, unknown>[], quant: Record<string, TensorQuant>) {
  const shape = m.json.shapes[m.json.outputs.boxes]!;
  return {
    ...m,
    json: {
      ...m.json,
      nodes: [...m.json.nodes, ...nodes] as typeof m.json.nodes,
      shapes: { ...m.json.shapes, ...Object.fromEntries(Object.keys(quant).map((t) => [t, shape])) },
      outputs: { ...m.json.outputs, boxes: 'extra' },
      quantization: { ...m.json.quantization!, tensors: { ...m.json.quantization!.tensors, ...quant } },
    },
  };
}

test('an op without an integer kernel keeps a model out of int8: auto falls back to f32, int8 and the lowering refuse', async () => {
  const m = await convertedCoco();
  const boxes = m.json.outputs.boxes;
  const pool = { op: 'max_pool2d', name: 'pool', inputs: [boxes], outputs: ['extra'], window: [1, 1], strides: [1, 1] };
  const { json } = withExtraNodes(m, [{ ...pool, padding: 'VALID' }], { extra: m.json.quantization!.tensors[boxes]! });
  assert.match(integerBlocker(json) ?? '', /pool \(max_pool2d\) has no integer kernel/);
  assert.equal(resolvePrecision(json, 'auto'), 'f32');
  assert.throws(() => resolvePrecision(json, 'int8'), UnsupportedOperatorError);
  assert.throws(() => lowerGraph(json, 1, {}, 'unknown', integerLowering(json, 'xnnpack', false)), /no integer kernel/);
});

// XNNPACK arithmetic, whose network reproduces the goldens' Squeeze (TFLite's arithmetic: kernel grids, qelementwise.test).
const requant = 'xnnpack';
test(`integer ADD through the executor equals its CPU reference on the network's own box encodings`, async () => {
  const m = await convertedCoco();
  const bq = m.json.quantization!.tensors[m.json.outputs.boxes]!;
  const sum: TensorQuant = { dtype: 'uint8', scale: bq.scale * 1.7, zeroPoint: 120, activation: 'RELU6' };
  // Squeeze + a copy of it (a one-input concatenation: a table dispatch): one tensor bound twice would alias.
  const boxes = m.json.outputs.boxes;
  const copy = {
    op: 'concat',
    name: 'copy',
    inputs: [boxes],
    outputs: ['copy'],
    axis: 1,
    activation: { min: -1e9, max: 1e9 },
  };
  const add = { op: 'add', name: 'sum', inputs: [boxes, 'copy'], outputs: ['extra'], activation: { min: 0, max: 6 } };
  const model = withExtraNodes(m, [copy, add], { copy: bq, extra: sum });
  const { ctx, ex, weights } = await executor(model, requant, {});
  try {
    assert.ok(
      ex.stats.steps.some((s) => s.kind === 'qadd'),
      'no qadd step',
    );
    const g = loadGolden(MODEL, stems[1]!);
    const out = await runInteger(ctx, model, ex, buildGoldenInput(g).data as Uint8Array);
    const squeeze = g.outputs['Squeeze']!.quantized!;
    const ref = qaddRef('uint8', squeeze, squeeze, addRequant('uint8', bq, bq, sum, 'RELU6', requant));
    assert.equal(differing(out.boxes, ref as Uint8Array), 0);
    assert.ok(new Set(ref).size > 10, 'a degenerate sum');
  } finally {
    ex.destroy();
    weights.buffer?.destroy();
  }
});
