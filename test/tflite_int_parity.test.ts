/**
 * Integer execution of the COCO SSD-MobileNetV1 uint8 model against TensorFlow Lite's own uint8
 * tensors (the goldens: TFLite WASM in Chromium, see test/fixtures/goldens/README.md): the CPU
 * integer interpreter built on the kernels' references, and the GPU integer kernels run as a plain
 * dispatch sequence, must both reproduce the raw box encodings (Squeeze), the class logits
 * (concat_1) and the scores (convert_scores) byte for byte. docs/integer.md explains which
 * requantization this takes and why.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseTflite } from '../src/convert/tflite.ts';
import type { QuantArray, Requantization } from '../src/kernels/quantization.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { buildGoldenInput, goldenStems, loadGolden } from './support/goldens.ts';
import { COCO_TFLITE, cocoBytes } from './support/model_sources.ts';
import { TfliteIntGpu } from './support/tflite_int_gpu.ts';
import { runTfliteInt } from './support/tflite_int_reference.ts';

after(releaseGpu);

const MODEL = 'coco-ssd-mobilenetv1-quant';
const model = parseTflite(cocoBytes(), COCO_TFLITE);
const OUTPUTS = ['Squeeze', 'concat_1', 'convert_scores'] as const;
const tensorIndex = (name: string) => {
  const i = model.tensors.findIndex((t) => t.name === name);
  assert.ok(i >= 0, `the model has no tensor ${name}`);
  return i;
};
const outputIndices = OUTPUTS.map(tensorIndex);
const stems = goldenStems(MODEL);

test('there are COCO goldens to compare with', () => assert.ok(stems.length >= 5, `found ${stems.length}`));

const cpuRuns = new Map<string, Map<number, QuantArray>>();
function cpu(stem: string, requant: Requantization): Map<number, QuantArray> {
  const key = `${stem}/${requant}`;
  let r = cpuRuns.get(key);
  if (!r)
    cpuRuns.set(key, (r = runTfliteInt(model, buildGoldenInput(loadGolden(MODEL, stem)).data as Uint8Array, requant)));
  return r;
}

/** How many bytes of each output differ from `ref`, as "name: n/total" lines. */
function differences(
  values: Map<number, QuantArray>,
  ref: (name: string) => Uint8Array,
): { total: number; text: string } {
  let total = 0;
  const text = OUTPUTS.map((name, j) => {
    const ours = values.get(outputIndices[j]!)!,
      r = ref(name);
    assert.equal(ours.length, r.length, `${name}: ${ours.length} values vs ${r.length}`);
    let n = 0;
    for (let i = 0; i < r.length; i++) if (ours[i] !== r[i]) n++;
    total += n;
    return `${name} ${n}/${r.length}`;
  }).join(', ');
  return { total, text };
}

const golden = (stem: string) => (name: string) => loadGolden(MODEL, stem).outputs[name]!.quantized!;

for (const stem of stems)
  test(`integer CPU interpreter, XNNPACK requantization, equals TFLite's uint8 outputs byte for byte: ${stem}`, (t) => {
    const d = differences(cpu(stem, 'xnnpack'), golden(stem));
    t.diagnostic(`differing bytes: ${d.text}`);
    assert.equal(d.total, 0, `differing bytes: ${d.text}`);
  });

test(`TFLite's fixed-point requantization does not give the goldens (their runtime requantized in fp32): ${stems[0]}`, (t) => {
  const d = differences(cpu(stems[0]!, 'tflite'), golden(stems[0]!));
  t.diagnostic(`differing bytes: ${d.text}`);
  assert.ok(d.total > 0, 'fixed-point requantization reproduced the goldens too: docs/integer.md is wrong');
});

const gpuRuns = new Map<string, Promise<TfliteIntGpu>>();
function network(requant: Requantization, packedDot?: boolean): Promise<TfliteIntGpu> {
  const key = `${requant}/${packedDot}`;
  let r = gpuRuns.get(key);
  if (!r)
    gpuRuns.set(
      key,
      (r = gpu().then((ctx) =>
        TfliteIntGpu.create(ctx, model, packedDot === undefined ? { requant } : { requant, packedDot }),
      )),
    );
  return r;
}
after(async () => {
  for (const r of gpuRuns.values()) (await r).dispose();
});

for (const stem of stems)
  test(`integer GPU kernels (XNNPACK requantization) equal the CPU interpreter and TFLite byte for byte: ${stem}`, async (t) => {
    const net = await network('xnnpack');
    const out = await net.run(buildGoldenInput(loadGolden(MODEL, stem)).data as Uint8Array, outputIndices);
    const vsGolden = differences(out, golden(stem));
    const vsCpu = differences(out, (name) => cpu(stem, 'xnnpack').get(tensorIndex(name)) as Uint8Array);
    t.diagnostic(
      `${net.dispatchCount} dispatches, variants ${[...new Set(net.variants.values())].join(' ')}; vs TFLite: ${vsGolden.text}`,
    );
    assert.equal(vsCpu.total, 0, `GPU vs CPU interpreter: ${vsCpu.text}`);
    assert.equal(vsGolden.total, 0, `GPU vs TFLite: ${vsGolden.text}`);
  });

test(`integer GPU kernels without packed dot products (plain integers) equal TFLite byte for byte: ${stems[1]}`, async () => {
  const net = await network('xnnpack', false);
  assert.ok(![...net.variants.values()].some((v) => v.endsWith('dot4')), 'a dot4 variant was chosen');
  const out = await net.run(buildGoldenInput(loadGolden(MODEL, stems[1]!)).data as Uint8Array, outputIndices);
  const d = differences(out, golden(stems[1]!));
  assert.equal(d.total, 0, `GPU vs TFLite: ${d.text}`);
});

test(`integer GPU kernels with TFLite's fixed-point requantization equal the CPU interpreter's: ${stems[0]}`, async () => {
  const net = await network('tflite');
  const out = await net.run(buildGoldenInput(loadGolden(MODEL, stems[0]!)).data as Uint8Array, outputIndices);
  const d = differences(out, (name) => cpu(stems[0]!, 'tflite').get(tensorIndex(name)) as Uint8Array);
  assert.equal(d.total, 0, `GPU vs CPU interpreter: ${d.text}`);
});
