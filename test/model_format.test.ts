import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ChecksumError, MobileSsdError, ModelFormatError, ModelNotFoundError } from '../src/errors.ts';
import type { ModelJson } from '../src/graph/ir.ts';
import { parseModel, serializeModel, sha256Hex } from '../src/graph/model_format.ts';
import { readModel, writeModel } from '../src/node/model_files.ts';
import { convertedCoco, convertedOid, seededInts } from './support/model_sources.ts';

const tmp = mkdtempSync(join(tmpdir(), 'mobilessd-format-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function serialized() {
  const { json, weights } = serializeModel(await convertedCoco());
  return { json, weights: weights.slice() };
}

/** Expects `parseModel` of the edited model.json to fail with a ModelFormatError matching `re`. */
async function rejectsEdited(edit: (j: ModelJson) => void, re: RegExp) {
  const s = await serialized();
  const j = JSON.parse(s.json) as ModelJson;
  edit(j);
  await assert.rejects(
    parseModel(JSON.stringify(j), s.weights, 'dir/model.json'),
    (e: unknown) => e instanceof ModelFormatError && e.message.startsWith('dir/model.json: ') && re.test(e.message),
    re.source,
  );
}

test('model.json + weights round trip through serialize and validated parse', async () => {
  const m = await convertedOid();
  const s = serializeModel(m);
  assert.equal(m.json.weights.byteLength, s.weights.byteLength);
  assert.equal(m.json.weights.sha256, await sha256Hex(s.weights));
  const back = await parseModel(s.json, s.weights.slice(), 'oid/model.json');
  assert.deepEqual(back.json, m.json);
  assert.deepEqual(back.weights, m.weights);
});

test('sha256Hex uses Web Crypto and gives the standard digest', async () => {
  assert.equal(
    await sha256Hex(new TextEncoder().encode('abc')),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  );
});

test('a flipped weights byte is a ChecksumError naming the weights file', async () => {
  const s = await serialized();
  s.weights[1234]! ^= 0x10;
  await assert.rejects(
    parseModel(s.json, s.weights, 'models/coco/model.json'),
    (e: unknown) =>
      e instanceof ChecksumError &&
      /^models\/coco\/weights\.bin: checksum mismatch \(expected [0-9a-f]{64}, got [0-9a-f]{64}\)/.test(e.message),
  );
});

test('a truncated weights file is reported with both sizes', async () => {
  const s = await serialized();
  await assert.rejects(
    parseModel(s.json, s.weights.subarray(0, 1000), 'm/model.json'),
    (e: unknown) =>
      e instanceof ModelFormatError && /^m\/weights\.bin: has 1000 bytes, model\.json says \d+/.test(e.message),
  );
});

test('format name and version are checked first, with a clear message for newer versions', async () => {
  await rejectsEdited(
    (j) => ((j as { version: number }).version = 2),
    /format version 2 is newer than this mobilessd reads \(version 1\)[\s\S]*hint: upgrade mobilessd/,
  );
  await rejectsEdited((j) => ((j as { version: number }).version = 0), /format version 0 is invalid/);
  await rejectsEdited(
    (j) => ((j as { format: string }).format = 'onnx'),
    /format is "onnx", expected "mobilessd-model"/,
  );
  const s = await serialized();
  await assert.rejects(
    parseModel('{"format": ', s.weights, 'dir/model.json'),
    (e: unknown) => e instanceof ModelFormatError && /dir\/model\.json: not valid JSON/.test(e.message),
  );
});

test('constants must lie inside the weights and match their shapes', async () => {
  await rejectsEdited(
    (j) => (j.constants.anchors!.offset = j.weights.byteLength),
    /constant anchors \(floats \d+\.\.\d+\) lies outside the weights/,
  );
  await rejectsEdited(
    (j) => (j.constants.anchors!.length -= 1),
    /constant anchors has length 7667 but shape \[1917,4\] holds 7668/,
  );
  await rejectsEdited((j) => (j.constants.anchors!.offset += 2), /offset \d+ is not a multiple of 4/);
});

test('graph structure: inputs defined before use, known ops, consistent shapes, outputs and labels', async () => {
  await rejectsEdited((j) => j.nodes.reverse(), /input .* is used before it is defined/);
  await rejectsEdited((j) => ((j.nodes[3] as { op: string }).op = 'max_pool'), /node 3 .*unknown op "max_pool"/);
  await rejectsEdited(
    (j) => (j.shapes[j.nodes[1]!.outputs[0]!] = [1, 150, 150, 25]),
    /node 1 .*recorded as \[1,150,150,25\] but the op computes \[1,150,150,24\]/,
  );
  await rejectsEdited(
    (j) => ((j.nodes[2] as { strides: number[] }).strides = [2, 2]),
    /node 2 .*recorded as \[1,150,150,48\] but the op computes \[1,75,75,48\]/,
  );
  await rejectsEdited((j) => {
    const n = j.nodes[0] as { bias: string };
    n.bias = 'anchors';
  }, /bias anchors must be a constant of shape \[24\]/);
  await rejectsEdited((j) => j.labels.pop(), /90 labels for 91 score columns/);
  await rejectsEdited((j) => (j.outputs.boxes = 'concat_1'), /outputs\.boxes concat_1 has shape \[1,1917,91\]/);
  await rejectsEdited(
    (j) => (j.constants.anchors!.shape = [7668, 1]),
    /ssd\.anchors anchors must be a constant of shape \[1917, 4\]/,
  );
  await rejectsEdited(
    (j) => (j.preprocess.width = 299),
    /input normalized_input_image_tensor has shape \[1,300,300,3\], expected \[1,300,299,3\]/,
  );
  await rejectsEdited((j) => delete (j as Partial<ModelJson>).ssd, /ssd is missing or not an object/);
});

test('writeModel/readModel: atomic files in a folder, read back through validation', async () => {
  const m = await convertedCoco();
  const dir = join(tmp, 'coco');
  await writeModel(dir, m);
  assert.deepEqual(readdirSync(dir).sort(), ['model.json', 'weights.bin'], 'no temporary files left behind');
  const back = await readModel(dir);
  assert.deepEqual(back.json, m.json);
  assert.deepEqual((await readModel(join(dir, 'model.json'))).weights, m.weights);

  const w = readFileSync(join(dir, 'weights.bin'));
  w[w.length - 1]! ^= 1;
  writeFileSync(join(dir, 'weights.bin'), w);
  await assert.rejects(
    readModel(dir),
    (e: unknown) =>
      e instanceof ChecksumError && e.message.startsWith(`${join(dir, 'weights.bin')}: checksum mismatch`),
  );
  await assert.rejects(
    readModel(join(tmp, 'missing')),
    (e: unknown) => e instanceof ModelNotFoundError && e.message.includes(join(tmp, 'missing')),
  );
  assert.equal(existsSync(join(tmp, 'missing')), false);
});

test('mini-fuzz: damaged model.json texts and weights only ever raise MobileSsdErrors', async () => {
  const s = await serialized();
  const text = new TextEncoder().encode(s.json);
  const r = seededInts(7);
  let accepted = 0;
  for (let i = 0; i < 200; i++) {
    let json = text;
    let weights = s.weights;
    if (i % 4 === 0) json = text.subarray(0, r(text.length));
    else if (i % 4 === 3) {
      weights = s.weights.slice();
      weights[r(weights.length)]! ^= 1 << r(8);
    } else {
      json = text.slice();
      for (let k = 0, n = 1 + r(3); k < n; k++) json[r(json.length)]! ^= 1 << r(7);
    }
    try {
      await parseModel(new TextDecoder().decode(json), weights, `fuzz-${i}/model.json`);
      accepted++;
    } catch (e) {
      assert.ok(e instanceof MobileSsdError, `case ${i}: ${(e as Error).stack}`);
    }
  }
  assert.ok(accepted < 200);
});
