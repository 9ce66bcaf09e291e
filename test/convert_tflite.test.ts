import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { modelStats } from '../src/graph/model_stats.ts';
import { FlatBuffer } from '../src/convert/flatbuffer.ts';
import { builtinCode, parseTflite, readOptions, tensorData, type TfliteTensor } from '../src/convert/tflite.ts';
import { convertTflite } from '../src/convert/tflite_to_ir.ts';
import { decodeConstant, halfToFloat } from '../src/convert/tflite_weights.ts';
import { MobileSsdError, ModelFormatError, TfliteFormatError, UnsupportedOperatorError } from '../src/errors.ts';
import type { Conv2dNode } from '../src/ops/conv2d.ts';
import type { DepthwiseConv2dNode } from '../src/ops/depthwise_conv2d.ts';
import type { GraphNode } from '../src/ops/support/node.ts';
import { CONCAT_OPTIONS } from '../src/ops/concat.ts';
import { CONV_OPTIONS, DEPTHWISE_OPTIONS } from '../src/ops/support/conv.ts';
import { validateModel } from '../src/graph/model_format.ts';
import { runReference } from '../src/graph/reference.ts';
import { constData, type LoadedModel } from '../src/graph/weights.ts';
import { ACTIVATIONS, convGeometry } from '../src/core/geometry.ts';
import { gridAnchors, MEDIAPIPE_SSD_300 } from '../src/ssd/anchors.ts';
import { buildInput, loadImage } from '../scripts/goldens/inputs.ts';
import { cocoBytes, convertedCoco, convertedOid, oidBytes, ROOT, seededInts } from './support/model_sources.ts';

const opCounts = (nodes: GraphNode[]) => {
  const c: Record<string, number> = {};
  for (const n of nodes) c[n.op] = (c[n.op] ?? 0) + 1;
  return c;
};
const convs = (nodes: GraphNode[]) =>
  nodes.filter((n): n is Conv2dNode | DepthwiseConv2dNode => n.op === 'conv2d' || n.op === 'depthwise_conv2d');

test('Open Images model converts to a valid graph: DEQUANTIZE folded, 97 nodes, raw outputs, generated anchors', async () => {
  const m = await convertedOid();
  validateModel(m.json, m.weights, 'oid/model.json');
  assert.deepEqual(opCounts(m.json.nodes), { conv2d: 55, depthwise_conv2d: 17, add: 10, reshape: 13, concat: 2 });
  assert.deepEqual(m.json.outputs, { boxes: 'raw_outputs/box_encodings', scores: 'raw_outputs/class_predictions' });
  assert.deepEqual(m.json.shapes['raw_outputs/class_predictions'], [1, 1917, 24]);
  assert.deepEqual(m.json.preprocess, {
    width: 300,
    height: 300,
    resize: 'stretch',
    halfPixelCenters: true,
    mean: 127.5,
    std: 127.5,
  });
  assert.equal(m.json.labels.length, 24);
  assert.deepEqual([m.json.labels[0], m.json.labels[1], m.json.labels[23]], ['???', 'Bicycle', 'Car']);
  assert.deepEqual(m.json.ssd, {
    anchors: 'anchors',
    scales: { y: 10, x: 10, h: 5, w: 5 },
    scoreFunction: 'sigmoid',
    backgroundClass: 0,
    defaults: { scoreThreshold: 0.5, iouThreshold: 0.5, maxDetections: 100, perClassNms: false },
    anchorGenerator: { kind: 'grid', options: MEDIAPIPE_SSD_300 },
  });
  assert.deepEqual(constData(m, 'anchors').data, gridAnchors(MEDIAPIPE_SSD_300));
});

test('Open Images model: parameters and multiply-adds as in the MobileNet paper count', async () => {
  const s = modelStats((await convertedOid()).json);
  assert.equal(s.params, 4_951_996);
  assert.equal(+(s.macs / 1e9).toFixed(3), 0.673);
  assert.equal(s.standard.layers, 5);
  assert.equal(+(s.standard.params / 1e6).toFixed(2), 1.85);
  assert.equal(+(s.standard.macs / 1e6).toFixed(1), 52.8);
  assert.equal(s.depthwise.layers, 17);
  assert.equal(Math.round(s.depthwise.params / 1e3), 71);
  assert.equal(+(s.depthwise.macs / 1e6).toFixed(1), 38.0);
  assert.equal(s.pointwise.layers, 50);
  assert.equal(+(s.pointwise.params / 1e6).toFixed(2), 3.04);
  assert.equal(Math.round(s.pointwise.macs / 1e6), 582);
});

test('Open Images model: SAME padding puts the odd pixel bottom/right on every stride-2 layer', async () => {
  const m = await convertedOid();
  const pads = new Map<string, string>();
  for (const n of convs(m.json.nodes)) {
    if (n.strides[0] !== 2) continue;
    const x = m.json.shapes[n.inputs[0]!]!;
    const f = m.json.constants[n.filter]!.shape;
    const g = convGeometry({
      batch: 1,
      inH: x[1]!,
      inW: x[2]!,
      inC: x[3]!,
      outC: x[3]!,
      kH: f[0]!,
      kW: f[1]!,
      strideH: 2,
      strideW: 2,
      padding: n.padding,
    });
    assert.equal(`${g.padLeft},${g.padRight}`, `${g.padTop},${g.padBottom}`);
    pads.set(`${g.inH}->${g.outH}`, `${g.padTop},${g.padBottom}`);
  }
  assert.deepEqual(Object.fromEntries(pads), {
    '300->150': '0,1',
    '150->75': '0,1',
    '75->38': '1,1',
    '38->19': '0,1',
    '19->10': '1,1',
    '10->5': '0,1',
    '5->3': '1,1',
    '3->2': '1,1',
    '2->1': '0,1',
  });
});

test('Open Images model: ReLU6 on expand/depthwise/extra convs, none on projections and predictors', async () => {
  const m = await convertedOid();
  for (const n of convs(m.json.nodes)) {
    const linear = /\/project\/|BoxPredictor/.test(n.name);
    assert.deepEqual(n.activation, linear ? ACTIVATIONS.none : ACTIVATIONS.relu6, n.name);
  }
});

test('filters are transposed to HWIO (conv) and HWC (depthwise) with the fp16 values exact', async () => {
  const m = await convertedOid();
  const t = parseTflite(oidBytes(), 'oid');
  const fp16 = (name: string): { t: TfliteTensor; v: Float32Array } => {
    const tensor = t.tensors.find((x) => x.name === name)!;
    return { t: tensor, v: decodeConstant(t, tensor, tensorData(t, tensor)!, 'test') };
  };
  const first = convs(m.json.nodes)[0]!;
  const src = fp16('FeatureExtractor/MobilenetV2/Conv/Conv2D');
  assert.deepEqual(src.t.shape, [32, 3, 3, 3]);
  const ours = constData(m, first.filter);
  assert.deepEqual(ours.info.shape, [3, 3, 3, 32]);
  for (const [o, kh, kw, i] of [
    [0, 0, 0, 0],
    [31, 2, 1, 2],
    [7, 1, 2, 0],
  ] as const) {
    assert.equal(ours.data[((kh * 3 + kw) * 3 + i) * 32 + o], src.v[((o * 3 + kh) * 3 + kw) * 3 + i]);
  }
  const dw = convs(m.json.nodes).find((n) => n.op === 'depthwise_conv2d')!;
  assert.deepEqual(m.json.constants[dw.filter]!.shape, [3, 3, 32]);
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x7bff), 65504);
});

test('COCO uint8 model: post-process op and its LOGISTIC replaced by the SSD head spec', async () => {
  const m = await convertedCoco();
  validateModel(m.json, m.weights, 'coco/model.json');
  assert.deepEqual(opCounts(m.json.nodes), { conv2d: 34, depthwise_conv2d: 13, reshape: 13, concat: 2 });
  assert.deepEqual(m.json.outputs, { boxes: 'Squeeze', scores: 'concat_1' });
  assert.deepEqual(
    [m.json.shapes.Squeeze, m.json.shapes.concat_1],
    [
      [1, 1917, 4],
      [1, 1917, 91],
    ],
  );
  const { defaults, ...rest } = m.json.ssd;
  // Its stored uint8 anchors are the standard grid layout, so the generator is recorded (test/anchors.test.ts).
  assert.deepEqual(rest, {
    anchors: 'anchors',
    scales: { y: 10, x: 10, h: 5, w: 5 },
    scoreFunction: 'sigmoid',
    backgroundClass: 0,
    anchorGenerator: { kind: 'grid', options: MEDIAPIPE_SSD_300 },
  });
  assert.equal(defaults.maxDetections, 10);
  assert.equal(defaults.perClassNms, false);
  assert.ok(Math.abs(defaults.iouThreshold - 0.6) < 1e-6 && defaults.scoreThreshold < 1e-7);
  assert.deepEqual(m.json.preprocess, {
    width: 300,
    height: 300,
    resize: 'stretch',
    halfPixelCenters: true,
    mean: 128,
    std: 128,
  });
  assert.deepEqual(
    [m.json.labels.length, m.json.labels[0], m.json.labels[1], m.json.labels[12]],
    [91, '???', 'person', '???'],
  );
});

test('COCO uint8 model: (q - zp) * scale weights, q * scale biases, clamps from each output tensor range', async () => {
  const m = await convertedCoco();
  const t = parseTflite(cocoBytes(), 'coco');
  const byName = (n: string) => t.tensors.find((x) => x.name === n)!;
  const wq = byName('FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_0/weights_quant/FakeQuantWithMinMaxVars');
  const bq = byName('FeatureExtractor/MobilenetV1/MobilenetV1/Conv2d_0/Conv2D_Fold_bias');
  const first = convs(m.json.nodes)[0]!;
  const w = constData(m, first.filter).data;
  const wd = tensorData(t, wq)!;
  const {
    scale: [ws],
    zeroPoint: [wz],
  } = wq.quantization!;
  // Element [o=5, kh=1, kw=2, i=1] of the OHWI uint8 filter is [1, 2, 1, 5] in HWIO.
  assert.equal(w[((1 * 3 + 2) * 3 + 1) * 24 + 5], Math.fround((wd[((5 * 3 + 1) * 3 + 2) * 3 + 1]! - wz!) * ws!));
  const b = constData(m, first.bias).data;
  const bd = new DataView(tensorData(t, bq)!.slice().buffer);
  assert.equal(b[3], Math.fround(bd.getInt32(12, true) * bq.quantization!.scale[0]!));
  // ReLU6 lives only in the uint8 output range: scale * (0 - 0) .. scale * 255.
  assert.deepEqual(first.activation, { min: 0, max: 0.023528477177023888 * 255 });
  // Elsewhere the fused activation (ReLU6 on the extra layers) is intersected with that range.
  for (const n of m.json.nodes) {
    if (n.op === 'reshape' || n.op === 'logistic' || n.op === 'quantize') continue;
    const out = t.tensors.find((x) => x.name === n.outputs[0])!;
    const op = t.operators.find((o) => o.outputs[0] === out.index)!;
    const schema = { CONV_2D: CONV_OPTIONS, DEPTHWISE_CONV_2D: DEPTHWISE_OPTIONS, CONCATENATION: CONCAT_OPTIONS }[
      op.code.name
    ]!;
    const fused = readOptions(t, op, schema).activation === 'RELU6' ? ACTIVATIONS.relu6 : ACTIVATIONS.none;
    const q = out.quantization!;
    const range = { min: q.scale[0]! * (0 - q.zeroPoint[0]!), max: q.scale[0]! * (255 - q.zeroPoint[0]!) };
    assert.deepEqual(
      n.activation,
      { min: Math.max(fused.min, range.min), max: Math.min(fused.max, range.max) },
      n.name,
    );
  }
});

test('per-channel quantization dequantizes each channel with its own scale and zero point', () => {
  const t = parseTflite(cocoBytes(), 'coco');
  const tensor: TfliteTensor = {
    index: 0,
    name: 'w',
    shape: [2, 1, 1, 3],
    type: 'UINT8',
    buffer: 0,
    quantization: { scale: [0.5, 2], zeroPoint: [10, 0], quantizedDimension: 0 },
  };
  assert.deepEqual(
    Array.from(decodeConstant(t, tensor, new Uint8Array([10, 12, 8, 1, 2, 3]), 'test')),
    [0, 1, -1, 2, 4, 6],
  );
  const int8: TfliteTensor = {
    ...tensor,
    shape: [1, 2],
    type: 'INT8',
    quantization: { scale: [0.25, 1], zeroPoint: [0], quantizedDimension: 1 },
  };
  assert.deepEqual(Array.from(decodeConstant(t, int8, new Uint8Array([0xfc, 5]), 'test')), [-1, 5]);
});

/** Raw outputs of TFLite itself (test/fixtures/goldens, made by scripts/goldens/make.mjs) against our CPU reference run. */
async function goldenParity(
  dir: string,
  load: () => Promise<LoadedModel>,
  names: [string, string][],
  tol: { meanSteps: number; maxSteps: number } | 'exact',
) {
  const stem = 'voc2012-100__2007_000515';
  const jsonFile = join(ROOT, 'test/fixtures/goldens', dir, `${stem}.json`);
  const golden = JSON.parse(readFileSync(jsonFile, 'utf8'));
  const data = gunzipSync(readFileSync(join(ROOT, 'test/fixtures/goldens', dir, `${stem}.bin.gz`)));
  const model = await load();
  const input = buildInput(golden.recipe.input, loadImage(ROOT, golden.recipe.image.path).image);
  const values = runReference(model, input.engine);
  for (const [ours, theirs] of names) {
    const o = golden.outputs[theirs];
    const raw = data.subarray(o.byteOffset, o.byteOffset + o.byteLength);
    const ref =
      o.dtype === 'uint8'
        ? Float32Array.from(raw, (q: number) => (q - o.quantization.zeroPoint) * o.quantization.scale)
        : new Float32Array(new Uint8Array(raw).buffer);
    const got = values.get(ours)!;
    assert.equal(got.length, ref.length);
    let max = 0,
      sum = 0,
      worstExcess = 0;
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(got[i]! - ref[i]!);
      max = Math.max(max, d);
      sum += d;
      worstExcess = Math.max(worstExcess, d - (1e-4 + 1e-4 * Math.abs(ref[i]!)));
    }
    if (tol === 'exact') {
      assert.ok(worstExcess <= 0, `${theirs}: max |ours - tflite| = ${max}`);
    } else {
      const step = o.quantization.scale;
      assert.ok(
        sum / ref.length <= tol.meanSteps * step && max <= tol.maxSteps * step,
        `${theirs}: mean ${(sum / ref.length / step).toFixed(2)} steps, max ${(max / step).toFixed(1)} steps`,
      );
    }
  }
}
test('Open Images model: float CPU run of the converted graph matches TFLite raw outputs', () =>
  goldenParity(
    'oid-ssd-mobilenetv2',
    convertedOid,
    [
      ['raw_outputs/box_encodings', 'raw_outputs/box_encodings'],
      ['raw_outputs/class_predictions', 'raw_outputs/class_predictions'],
    ],
    'exact',
  ));

test('COCO uint8 model: float CPU run stays within a few quantization steps of TFLite uint8 outputs', () =>
  // Float execution of a uint8 graph differs by the rounding TFLite does at every layer: about half
  // a step on average, a few steps at worst. Measured on this image (2007_000515, 2026-12-05): mean 0.446 / max 7.48
  // steps on boxes (Squeeze), 0.506 / 4.11 on logits (concat_1). The bounds are parity.test.ts's, which hold on all
  // five goldens (mean 0.41-0.57, max 4.0-11.2 steps there).
  goldenParity(
    'coco-ssd-mobilenetv1-quant',
    convertedCoco,
    [
      ['Squeeze', 'Squeeze'],
      ['concat_1', 'concat_1'],
    ],
    { meanSteps: 0.6, maxSteps: 12 },
  ));

/** Sets operator code `index` to builtin `code` in a copy of the file (both the byte and the int field). */
function patchOpcode(bytes: Uint8Array, index: number, code: number): Uint8Array {
  const b = bytes.slice();
  const fb = new FlatBuffer(b, 'patch');
  const opcode = fb.root('model').tables(1, 'operator_codes')![index]!;
  const vt = opcode.pos - fb.i32(opcode.pos, 'soffset');
  const vtSize = fb.u16(vt, 'vtable');
  const slot = (id: number) => (4 + 2 * id < vtSize ? fb.u16(vt + 4 + 2 * id, 'slot') : 0);
  const v = new DataView(b.buffer);
  if (slot(0)) v.setInt8(opcode.pos + slot(0), code);
  if (slot(3)) v.setInt32(opcode.pos + slot(3), code, true);
  return b;
}

test('an unsupported operator is named in an UnsupportedOperatorError', async () => {
  const oid = oidBytes();
  const codes = parseTflite(oid, 'oid').operatorCodes;
  // L2_POOL_2D: an operator no SSD detector uses, so it stays unsupported as ops are added.
  const patched = patchOpcode(
    oid,
    codes.findIndex((c) => c.name === 'DEPTHWISE_CONV_2D'),
    builtinCode('L2_POOL_2D'),
  );
  assert.equal(parseTflite(patched, 'x').operatorCodes.filter((c) => c.name === 'L2_POOL_2D').length, 1);
  await assert.rejects(
    convertTflite(patched, { file: 'patched.tflite', name: 'x' }),
    (e: unknown) =>
      e instanceof UnsupportedOperatorError &&
      /^patched\.tflite: unsupported operator L2_POOL_2D \(operator 5\)/.test(e.message) &&
      /hint: mobilessd converts .*CONV_2D/.test(e.message),
  );

  const coco = cocoBytes();
  const renamed = coco.slice();
  const fb = new FlatBuffer(renamed, 'patch');
  const custom = fb
    .root('model')
    .tables(1, 'operator_codes')!
    .find((t) => t.string(1, 'custom_code') === 'TFLite_Detection_PostProcess')!;
  const slot = custom.pos + fb.u16(custom.pos - fb.i32(custom.pos, 'soffset') + 4 + 2 * 1, 'slot');
  renamed[fb.follow(slot, 'custom_code') + 4 + 27] = 'X'.charCodeAt(0);
  await assert.rejects(
    convertTflite(renamed, { file: 'renamed.tflite', name: 'x' }),
    (e: unknown) =>
      e instanceof UnsupportedOperatorError && /unsupported operator TFLite_Detection_PostProcesX/.test(e.message),
  );
});

test('label maps must fit the score columns', async () => {
  await assert.rejects(
    convertTflite(cocoBytes(), { file: 'detect.tflite', name: 'x', labels: ['a', 'b'], labelsFile: 'labels.txt' }),
    (e: unknown) => e instanceof ModelFormatError && /^labels\.txt: 2 labels for 91 score columns/.test(e.message),
  );
  const noBackground = await convertTflite(cocoBytes(), {
    file: 'detect.tflite',
    name: 'x',
    labels: Array.from({ length: 90 }, (_, i) => `c${i}`),
  });
  assert.deepEqual(noBackground.json.labels.slice(0, 2), ['???', 'c0']);
});

test('mini-fuzz: conversions of damaged models end in a valid model or a MobileSsdError', async () => {
  const bytes = cocoBytes();
  const m = parseTflite(bytes, 'coco');
  const data = m.buffers
    .filter((b) => b.byteLength > 0)
    .map((b) => [b.byteOffset, b.byteOffset + b.byteLength] as const);
  const r = seededInts(99);
  let converted = 0;
  for (let i = 0; i < 60; i++) {
    const b = bytes.slice();
    for (let k = 0, flips = 1 + r(4); k < flips; k++) {
      let p = r(b.byteLength);
      for (let tries = 0; tries < 64 && data.some(([s, e]) => p >= s && p < e); tries++) p = r(b.byteLength);
      b[p]! ^= 1 << r(8);
    }
    try {
      const out = await convertTflite(b, { file: `fuzz-${i}.tflite`, name: 'fuzz' });
      validateModel(out.json, out.weights, `fuzz-${i}`);
      converted++;
    } catch (e) {
      assert.ok(e instanceof MobileSsdError, `case ${i}: ${(e as Error).stack}`);
      if (e instanceof TfliteFormatError) assert.match(e.message, new RegExp(`^fuzz-${i}\\.tflite: `));
    }
  }
  assert.ok(converted < 60, 'some damage is detected');
});
