import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { CONVERTER_VERSION } from '../src/convert/builder.ts';
import { ModelFormatError, ModelNotFoundError, TfliteFormatError } from '../src/errors.ts';
import { BUNDLED_MODELS, resolveModel } from '../src/node/model_registry.ts';
import { packageRoot } from '../src/node/paths.ts';
import { COCO_TFLITE, FACE_MANIFEST, oidLabels } from './support/model_sources.ts';

const tmp = mkdtempSync(join(tmpdir(), 'mobilessd-registry-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const cacheDir = join(tmp, 'cache');

test('the package root is found from the running module', () => {
  const root = packageRoot()!;
  assert.equal(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).name, 'mobilessd');
  if (process.env.MOBILESSD_ROOT) assert.equal(root, process.env.MOBILESSD_ROOT);
});

test('an unknown name is a ModelNotFoundError whose hint lists the bundled models', async () => {
  await assert.rejects(
    resolveModel('no-such-model', { cacheDir }),
    (e: unknown) =>
      e instanceof ModelNotFoundError &&
      e.message.includes('model not found: no-such-model') &&
      BUNDLED_MODELS.every((m) => e.hint!.includes(m.name)),
  );
});

test('oid-v4 is converted from the objectron package on first use, then loaded from the cache', async () => {
  const lines: string[] = [];
  const first = await resolveModel('oid-v4', { cacheDir, log: (l) => lines.push(l) });
  assert.equal(first.converted, true);
  assert.equal(first.dir, join(cacheDir, 'oid-v4'));
  assert.deepEqual(first.json.labels, oidLabels());
  assert.equal(first.json.source.converter, CONVERTER_VERSION);
  assert.match(lines.join('\n'), /converting oid-v4/);
  const second = await resolveModel(undefined, { cacheDir });
  assert.equal(second.converted, false);
  assert.deepEqual(second.json, first.json);
  assert.equal((await resolveModel('oid-v4', { cacheDir, refresh: true })).converted, true);
});

test('stale or damaged cache entries are rebuilt', async () => {
  const dir = (await resolveModel('oid-v4', { cacheDir })).dir;
  const jsonFile = join(dir, 'model.json');
  const j = JSON.parse(readFileSync(jsonFile, 'utf8'));
  j.source.converter = 'mobilessd-convert/0';
  writeFileSync(jsonFile, JSON.stringify(j));
  assert.equal((await resolveModel('oid-v4', { cacheDir })).converted, true, 'older converter');
  const w = readFileSync(join(dir, 'weights.bin'));
  w[100]! ^= 0xff;
  writeFileSync(join(dir, 'weights.bin'), w);
  assert.equal((await resolveModel('oid-v4', { cacheDir })).converted, true, 'checksum mismatch');
  assert.equal((await resolveModel('oid-v4', { cacheDir })).converted, false);
});

test('a .tflite path works, with labels.txt beside it as part of the cache key', async () => {
  const coco = await resolveModel(COCO_TFLITE, { cacheDir });
  assert.equal(coco.json.labels[1], 'person');
  assert.equal(coco.json.ssd.defaults.maxDetections, 10);
  assert.match(coco.dir, /detect-[0-9a-f]{12}$/);

  const dir = join(tmp, 'copy');
  mkdirSync(dir);
  copyFileSync(COCO_TFLITE, join(dir, 'detect.tflite'));
  const bare = await resolveModel(join(dir, 'detect.tflite'), { cacheDir });
  assert.deepEqual(bare.json.labels.slice(0, 3), ['???', 'class 1', 'class 2']);
  writeFileSync(join(dir, 'labels.txt'), Array.from({ length: 91 }, (_, i) => `label${i}`).join('\n'));
  const labelled = await resolveModel(join(dir, 'detect.tflite'), { cacheDir });
  assert.equal(labelled.converted, true);
  assert.equal(labelled.json.labels[5], 'label5');
});

test('converted model folders and model.json paths load directly', async () => {
  const dir = (await resolveModel(COCO_TFLITE, { cacheDir })).dir;
  for (const p of [dir, join(dir, 'model.json')]) {
    const m = await resolveModel(p, { cacheDir });
    assert.equal(m.converted, false);
    assert.equal(m.json.nodes.length, 62);
  }
});

test('face by name and a TF.js manifest by path', async () => {
  const face = await resolveModel('face', { cacheDir });
  assert.deepEqual(face.json.labels, ['???', 'face', '???']);
  assert.equal(face.dir, join(cacheDir, 'face'));
  const byPath = await resolveModel(FACE_MANIFEST, { cacheDir });
  assert.equal(byPath.json.name, 'ssd_mobilenetv1_model');
  assert.equal(byPath.json.weights.sha256, face.json.weights.sha256);
});

test('wrong files give typed errors naming them', async () => {
  const png = join(tmp, 'photo.tflite');
  writeFileSync(png, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]));
  await assert.rejects(
    resolveModel(png, { cacheDir }),
    (e: unknown) => e instanceof TfliteFormatError && e.message.startsWith(`${png}: not a valid TFLite model`),
  );
  const other = join(tmp, 'notes.bin');
  writeFileSync(other, 'hello world');
  await assert.rejects(
    resolveModel(other, { cacheDir }),
    (e: unknown) => e instanceof ModelFormatError && e.message.startsWith(`${other}: is not a .tflite model`),
  );
  const empty = join(tmp, 'empty-dir');
  mkdirSync(empty);
  await assert.rejects(
    resolveModel(empty, { cacheDir }),
    (e: unknown) => e instanceof ModelNotFoundError && /has no model\.json/.test(e.message),
  );
});
