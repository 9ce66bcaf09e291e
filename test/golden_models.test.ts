/**
 * The goldens are of the models the parity tests run: each golden's recorded model hash equals the hash of the
 * files the Node registry reads for that model, and the model the registry hands the parity tests (converted now
 * or read from its cache) says it came from those same bytes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BLAZEFACE_FULL_RANGE, BLAZEFACE_SHORT_RANGE } from '../src/convert/mediapipe_presets.ts';
import { GOLDEN_MODEL_FILES, GOLDEN_MODEL_LOADERS, readBytes, sha256 } from './support/golden_models.ts';
import { GOLDEN_MODELS, goldenStems, loadGolden, type GoldenModel } from './support/goldens.ts';

/** The model recipes of every golden of a model; they must all name the same model. */
function recipes(model: GoldenModel): Record<string, unknown>[] {
  const stems = goldenStems(model);
  assert.ok(stems.length >= 3, `${model}: ${stems.length} goldens`);
  const all = stems.map((s) => loadGolden(model, s).recipe.model);
  for (const r of all) assert.deepEqual(r, all[0], `${model}: the goldens record different models`);
  return all;
}

test('OID goldens: the recorded byte range of the objectron assets is the model the registry converts', async () => {
  const [recipe] = recipes('oid-ssd-mobilenetv2') as [{ byteOffset: number; byteLength: number; sha256: string }];
  const [packedFile] = GOLDEN_MODEL_FILES['oid-ssd-mobilenetv2'] as [string];
  const packed = readBytes(packedFile);
  const slice = packed.subarray(recipe.byteOffset, recipe.byteOffset + recipe.byteLength);
  assert.equal(sha256(slice), recipe.sha256);
  assert.equal(new TextDecoder().decode(slice.subarray(4, 8)), 'TFL3', 'the recorded range is a TFLite flatbuffer');
  const loaded = await GOLDEN_MODEL_LOADERS['oid-ssd-mobilenetv2']();
  assert.equal(loaded.json.source.sha256, sha256(packed));
  // The registry finds the model by the Emscripten loader's ranges; they must be the recorded ones.
  assert.ok(loaded.json.source.file.endsWith(`[${recipe.byteOffset}..${recipe.byteOffset + recipe.byteLength}]`));
});

test('COCO goldens: the recorded .tflite hash is the file the parity test converts, with its labels', async () => {
  const [recipe] = recipes('coco-ssd-mobilenetv1-quant') as [{ sha256: string; byteLength: number }];
  const [tfliteFile, labelsFile] = GOLDEN_MODEL_FILES['coco-ssd-mobilenetv1-quant'] as [string, string];
  const tflite = readBytes(tfliteFile);
  assert.equal(tflite.length, recipe.byteLength);
  assert.equal(sha256(tflite), recipe.sha256);
  const loaded = await GOLDEN_MODEL_LOADERS['coco-ssd-mobilenetv1-quant']();
  assert.equal(loaded.json.source.sha256, sha256(tflite, readBytes(labelsFile)));
});

test('face goldens: the recorded manifest and weights hashes are the face model the registry converts', async () => {
  const [recipe] = recipes('face-ssd-mobilenetv1') as [
    { sha256: { manifest: string; weights: string; concatenated: string } },
  ];
  const [manifestFile, weightsFile] = GOLDEN_MODEL_FILES['face-ssd-mobilenetv1'] as [string, string];
  const manifest = readBytes(manifestFile);
  const weights = readBytes(weightsFile);
  assert.equal(sha256(manifest), recipe.sha256.manifest);
  assert.equal(sha256(weights), recipe.sha256.weights);
  assert.equal(sha256(manifest, weights), recipe.sha256.concatenated);
  const loaded = await GOLDEN_MODEL_LOADERS['face-ssd-mobilenetv1']();
  assert.equal(loaded.json.source.sha256, recipe.sha256.concatenated);
});

for (const [model, name] of [
  ['blazeface-short-range', 'blazeface'],
  ['blazeface-full-range', 'blazeface-full'],
] as const) {
  test(`${model} goldens: the recorded .tflite is the file the registry converts as '${name}'`, async () => {
    const [recipe] = recipes(model) as [{ sha256: string; byteLength: number; package: string }];
    const tflite = readBytes(GOLDEN_MODEL_FILES[model][0]!);
    assert.equal(tflite.length, recipe.byteLength);
    assert.equal(sha256(tflite), recipe.sha256);
    const loaded = await GOLDEN_MODEL_LOADERS[model]();
    assert.equal(loaded.json.name, name);
    // The registry's source hash covers the .tflite, an empty label file and MediaPipe's options for it.
    const options = name === 'blazeface' ? BLAZEFACE_SHORT_RANGE : BLAZEFACE_FULL_RANGE;
    const key = sha256(tflite, new Uint8Array(0), new TextEncoder().encode(JSON.stringify(options)));
    assert.equal(loaded.json.source.sha256, key);
  });
}

test('every golden model is covered here', () => {
  assert.deepEqual(Object.keys(GOLDEN_MODEL_LOADERS).sort(), [...GOLDEN_MODELS].sort());
});
