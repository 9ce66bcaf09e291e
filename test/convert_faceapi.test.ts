import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { convertFaceApi, FACEAPI_BN_EPSILON } from '../src/convert/faceapi_to_ir.ts';
import { modelStats } from '../src/graph/model_stats.ts';
import { decodeTfjsWeights, parseTfjsManifest } from '../src/convert/tfjs_manifest.ts';
import { MobileSsdError, TfjsFormatError } from '../src/errors.ts';
import type { DepthwiseConv2dNode } from '../src/ops/depthwise_conv2d.ts';
import { validateModel } from '../src/graph/model_format.ts';
import { runReference } from '../src/graph/reference.ts';
import { constData } from '../src/graph/weights.ts';
import { ACTIVATIONS, convGeometry } from '../src/core/geometry.ts';
import { depthwiseConv2dRef } from '../src/kernels/depthwise_conv2d_ref.ts';
import { preprocessRef } from '../src/kernels/preprocess_ref.ts';
import jpeg from 'jpeg-js';
import { assertClose, randomFloats } from './support/gpu.ts';
import { convertedFace, FACE_MANIFEST, faceManifest, faceShard, ROOT, seededInts } from './support/model_sources.ts';

test('face-api manifest: 151 weights, uint8-affine floats and int32 leftovers decode as TF.js does', () => {
  const groups = parseTfjsManifest(faceManifest(), FACE_MANIFEST);
  const specs = groups.flatMap((g) => g.weights);
  assert.equal(specs.length, 151);
  assert.equal(specs.filter((w) => w.dtype === 'float32' && w.quantization?.dtype === 'uint8').length, 135);
  assert.equal(specs.filter((w) => w.dtype === 'int32').length, 15);
  const w = decodeTfjsWeights(groups, [faceShard()], FACE_MANIFEST);
  assert.equal(w.get('Postprocessor/stack/1')!.data[0], 5118);
  assert.equal(w.get('Prediction/BoxPredictor_0/stack_1/1')!.data[0], 3072);
  // The first weight of the shard is ClassPredictor_0/weights: value = q * scale + min.
  const first = specs[0]!;
  assert.equal(first.name, 'Prediction/BoxPredictor_0/ClassPredictor/weights');
  const q = faceShard()[10]!;
  assert.equal(w.get(first.name)!.data[10], Math.fround(q * first.quantization!.scale + first.quantization!.min));
  assert.deepEqual(w.get('Output/extra_dim')!.shape, [1, 5118, 4]);
});

test('face-api SSD converts to a valid graph with the documented feature maps and outputs', async () => {
  const m = await convertedFace();
  validateModel(m.json, m.weights, 'face/model.json');
  const counts: Record<string, number> = {};
  for (const n of m.json.nodes) counts[n.op] = (counts[n.op] ?? 0) + 1;
  assert.deepEqual(counts, { conv2d: 34, depthwise_conv2d: 13, reshape: 12, concat: 2 });
  const features = [
    'MobilenetV1/Conv2d_11_pointwise',
    'MobilenetV1/Conv2d_13_pointwise',
    'Prediction/Conv2d_1_pointwise',
    'Prediction/Conv2d_3_pointwise',
    'Prediction/Conv2d_5_pointwise',
    'Prediction/Conv2d_7_pointwise',
  ];
  assert.deepEqual(
    features.map((f) => m.json.shapes[f]),
    [
      [1, 32, 32, 512],
      [1, 16, 16, 1024],
      [1, 8, 8, 512],
      [1, 4, 4, 256],
      [1, 2, 2, 256],
      [1, 1, 1, 128],
    ],
  );
  assert.deepEqual(
    [m.json.shapes[m.json.outputs.boxes], m.json.shapes[m.json.outputs.scores]],
    [
      [1, 5118, 4],
      [1, 5118, 3],
    ],
  );
  assert.deepEqual(m.json.preprocess, {
    width: 512,
    height: 512,
    resize: 'pad-bottom-right',
    halfPixelCenters: false,
    mean: 127.5,
    std: 127.5,
  });
  assert.deepEqual(m.json.labels, ['???', 'face', '???']);
  assert.deepEqual(m.json.ssd.defaults, {
    scoreThreshold: 0.5,
    iouThreshold: 0.5,
    maxDetections: 100,
    perClassNms: false,
  });
  assert.equal(m.json.ssd.backgroundClass, 0);
  for (const n of m.json.nodes) {
    if (n.op === 'conv2d' || n.op === 'depthwise_conv2d')
      assert.deepEqual(n.activation, n.name.includes('BoxPredictor') ? ACTIVATIONS.none : ACTIVATIONS.relu6, n.name);
  }
  const stride2 = m.json.nodes
    .filter((n): n is DepthwiseConv2dNode => n.op === 'depthwise_conv2d' && n.strides[0] === 2)
    .map((n) => n.name);
  assert.deepEqual(
    stride2,
    [2, 4, 6, 12].map((i) => `MobilenetV1/Conv2d_${i}_depthwise`),
  );
});

test('face-api SSD: 3.14 G multiply-adds at 512; 5.52 M parameters once BatchNorm is folded (5.54 M stored)', async () => {
  const s = modelStats((await convertedFace()).json);
  assert.equal(+(s.macs / 1e9).toFixed(2), 3.14);
  assert.equal(+(s.params / 1e6).toFixed(2), 5.52);
  const stored = parseTfjsManifest(faceManifest(), FACE_MANIFEST)
    .flatMap((g) => g.weights)
    .filter((w) => w.dtype === 'float32' && w.name !== 'Output/extra_dim');
  assert.equal(+(stored.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0) / 1e6).toFixed(2), 5.54);
});

test('depthwise BatchNorm folding: folded conv equals conv -> batchNorm(eps 1e-3) on random input', async () => {
  const m = await convertedFace();
  const w = decodeTfjsWeights(parseTfjsManifest(faceManifest(), FACE_MANIFEST), [faceShard()], FACE_MANIFEST);
  const p = 'MobilenetV1/Conv2d_3_depthwise';
  const [gamma, beta, mean, variance] = ['gamma', 'beta', 'moving_mean', 'moving_variance'].map(
    (n) => w.get(`${p}/BatchNorm/${n}`)!.data,
  ) as [Float32Array, Float32Array, Float32Array, Float32Array];
  const c = 128;
  const g = convGeometry({
    batch: 1,
    inH: 7,
    inW: 6,
    inC: c,
    outC: c,
    kH: 3,
    kW: 3,
    strideH: 2,
    strideW: 2,
    padding: 'SAME',
  });
  const x = randomFloats(7 * 6 * c, 11, 0, 6);
  const raw = depthwiseConv2dRef(g, x, w.get(`${p}/depthwise_weights`)!.data, new Float32Array(c), ACTIVATIONS.none);
  const bn = raw.map((v, i) =>
    Math.min(
      6,
      Math.max(
        0,
        ((v - mean[i % c]!) / Math.sqrt(variance[i % c]! + FACEAPI_BN_EPSILON)) * gamma[i % c]! + beta[i % c]!,
      ),
    ),
  );
  const node = m.json.nodes.find((n): n is DepthwiseConv2dNode => n.name === p)!;
  const folded = depthwiseConv2dRef(
    g,
    x,
    constData(m, node.filter).data,
    constData(m, node.bias).data,
    node.activation,
  );
  assertClose(folded, bn, 1e-4, 1e-4, 'folded vs conv + batchNorm');
});

test('anchors come from Output/extra_dim corners as (yc, xc, h, w)', async () => {
  const m = await convertedFace();
  const corners = decodeTfjsWeights(parseTfjsManifest(faceManifest(), FACE_MANIFEST), [faceShard()], FACE_MANIFEST).get(
    'Output/extra_dim',
  )!.data;
  const a = constData(m, 'anchors').data;
  for (const i of [0, 1, 2, 5117]) {
    const [yc, xc, h, w] = a.subarray(4 * i, 4 * i + 4);
    assertClose(
      [yc! - h! / 2, xc! - w! / 2, yc! + h! / 2, xc! + w! / 2],
      corners.subarray(4 * i, 4 * i + 4),
      1e-6,
      1e-6,
      `anchor ${i}`,
    );
  }
});

test('face-api demo sample1.jpg: the converted graph finds its three faces at 0.995, 0.994, 0.989', async () => {
  const m = await convertedFace();
  const img = jpeg.decode(readFileSync(join(ROOT, 'node_modules/@vladmandic/face-api/demo/sample1.jpg')), {
    useTArray: true,
    formatAsRGBA: true,
  });
  const out = runReference(
    m,
    preprocessRef(m.json.preprocess, { data: img.data, width: img.width, height: img.height }),
  );
  const enc = out.get(m.json.outputs.boxes)!;
  const logits = out.get(m.json.outputs.scores)!;
  const anchors = constData(m, 'anchors').data;
  const found: { score: number; box: number[] }[] = [];
  const cands = Array.from({ length: 5118 }, (_, i) => i)
    .map((i) => ({ i, score: 1 / (1 + Math.exp(-logits[3 * i + 1]!)) }))
    .filter((c) => c.score >= 0.5)
    .sort((a, b) => b.score - a.score);
  for (const { i, score } of cands) {
    const [ya, xa, ha, wa] = anchors.subarray(4 * i, 4 * i + 4) as unknown as number[];
    const yc = (enc[4 * i]! / 10) * ha! + ya!,
      xc = (enc[4 * i + 1]! / 10) * wa! + xa!;
    const h = Math.exp(enc[4 * i + 2]! / 5) * ha!,
      w = Math.exp(enc[4 * i + 3]! / 5) * wa!;
    const box = [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2];
    if (found.every((f) => iou(f.box, box) <= 0.5)) found.push({ score, box });
  }
  assert.equal(found.length, 3, JSON.stringify(found));
  assertClose(
    found.map((f) => f.score),
    [0.995, 0.994, 0.989],
    2e-3,
    0,
    'face scores',
  );
});

function iou(a: number[], b: number[]): number {
  const ih = Math.max(0, Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!));
  const iw = Math.max(0, Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ih * iw;
  return inter / ((a[2]! - a[0]!) * (a[3]! - a[1]!) + (b[2]! - b[0]!) * (b[3]! - b[1]!) - inter);
}

test('broken manifests and shards are TfjsFormatErrors naming the manifest and the problem', async () => {
  const text = faceManifest();
  const shard = faceShard();
  const fails = async (what: string, t: string, shards: Uint8Array[], re: RegExp) =>
    assert.rejects(
      convertFaceApi(t, shards, { file: 'm.json', name: 'f' }),
      (e: unknown) => e instanceof TfjsFormatError && e.message.startsWith('m.json: ') && re.test(e.message),
      what,
    );
  await fails('not JSON', '{', [shard], /not valid JSON/);
  await fails(
    'truncated shard',
    text,
    [shard.subarray(0, 1000)],
    /needs \d+ bytes at offset \d+, but the shards of its group hold 1000/,
  );
  await fails(
    'missing weight',
    text.replace('MobilenetV1/Conv2d_7_depthwise/BatchNorm/gamma', 'renamed'),
    [shard],
    /weight MobilenetV1\/Conv2d_7_depthwise\/BatchNorm\/gamma is missing/,
  );
  await fails(
    'escaping shard path',
    text.replace('"ssd_mobilenetv1_model.bin"', '"../../etc/passwd"'),
    [shard],
    /invalid shard path/,
  );
  await fails(
    'float16 quantization',
    text.replace('"dtype":"uint8"', '"dtype":"float16"'),
    [shard],
    /quantization "float16" is not supported/,
  );
  await fails('wrong shard count', text, [], /0 shards given for 1 paths/);
});

test('mini-fuzz: damaged manifests and shards only ever raise MobileSsdErrors', async (t) => {
  let converted = 0;
  let rejected = 0;
  const text = faceManifest();
  const shard = faceShard();
  const r = seededInts(3);
  for (let i = 0; i < 60; i++) {
    let t = text;
    let shards = [shard];
    const harmless = i % 4 === 3;
    if (i % 4 === 0) shards = [shard.subarray(0, r(shard.length))];
    else if (i % 4 === 1) t = text.slice(0, r(text.length));
    else if (harmless) {
      // Flips in the lowest mantissa byte of float32 weights: other numbers, still finite, still a model.
      const copy = shard.slice();
      for (let k = 0; k < 8; k++) copy[4 * r(copy.length / 4)]! ^= 1 << r(8);
      shards = [copy];
    } else {
      const chars = [...text];
      for (let k = 0, n = 1 + r(3); k < n; k++) {
        const p = r(chars.length);
        chars[p] = String.fromCharCode(chars[p]!.charCodeAt(0) ^ (1 << r(6)));
      }
      t = chars.join('');
    }
    try {
      await convertFaceApi(t, shards, { file: `fuzz-${i}.json`, name: 'fuzz' });
      converted++;
    } catch (e) {
      assert.ok(e instanceof MobileSsdError, `case ${i}: ${(e as Error).stack}`);
      assert.ok(!harmless, `case ${i}: changed weight values were refused: ${(e as Error).message}`);
      rejected++;
    }
  }
  // Both outcomes occur: damage to the structure is caught, changed weight values convert.
  t.diagnostic(`${converted} converted, ${rejected} rejected`);
  assert.ok(converted > 0 && rejected > 0, `${converted} converted, ${rejected} rejected`);
});
