/**
 * Hostile files: a seeded campaign of a few thousand mutated TFLite models, face-api manifests and
 * shards, models in our format and JPEG/PNG images (support/fuzz_targets.ts), each run in a worker
 * under a hang watchdog and an allocation guard. Every case must end in success or a MobileSsdError
 * naming the file. The guard and the watchdog are themselves proved: a 4 GB tensor declared in a
 * real file is refused before allocation by the readers, and trips the guard when a reader skips
 * the check; a spinning case is flagged as a hang. Longer runs: `npm run fuzz -- --cases 100000`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMainThread } from 'node:worker_threads';
import { FlatBuffer } from '../src/convert/flatbuffer.ts';
import { decodeTfjsWeights, parseTfjsManifest } from '../src/convert/tfjs_manifest.ts';
import { builtinCode, elementCount, parseTflite } from '../src/convert/tflite.ts';
import { convertTflite } from '../src/convert/tflite_to_ir.ts';
import { decodeConstant } from '../src/convert/tflite_weights.ts';
import { ImageTooLargeError, ModelFormatError, TfjsFormatError, TfliteFormatError } from '../src/errors.ts';
import { lowerGraph } from '../src/graph/lower.ts';
import { parseModel, serializeModel, weightsInfo } from '../src/graph/model_format.ts';
import { decodeImage } from '../src/image/decode.ts';
import { AllocationGuard, AllocationLimitError } from './support/fuzz.ts';
import { formatReport, runCampaign, serveCampaign } from './support/fuzz_campaign.ts';
import { readTfliteFully } from './support/fuzz_targets.ts';
import { convertedCoco, faceManifest, faceShard, oidBytes } from './support/model_sources.ts';
import { fixCrcs, writePng } from './support/png_writer.ts';
import { syntheticModel } from './support/synthetic_model.ts';
import { writeTflite } from './support/tflite_writer.ts';

/** About 6,000 cases, some 15-25 s on two busy cores; weighted towards the cheap readers. */
const CI_CASES: Record<string, number> = {
  'tflite-oid': 1200,
  'tflite-coco': 1200,
  'tflite-convert': 80,
  'tfjs-manifest': 250,
  'faceapi-convert': 50,
  'model-synthetic': 1000,
  'model-coco': 50,
  jpeg: 1000,
  png: 1000,
};
const SEED = 8;
const GB4 = 2 ** 32;
const self = new URL(import.meta.url);

if (!isMainThread) {
  await serveCampaign();
} else {
  test(
    `seeded fuzz campaign (seed ${SEED}): every case ends in success or a typed error, no hang, no oversized allocation`,
    { timeout: 300_000 },
    async () => {
      const report = await runCampaign(self, { seed: SEED, cases: CI_CASES });
      console.log(formatReport(report));
      assert.deepEqual(report.failures, [], formatReport(report));
      assert.equal(
        report.cases,
        Object.values(CI_CASES).reduce((a, b) => a + b, 0),
      );
      for (const [name, s] of Object.entries(report.targets)) {
        // Both outcomes occur: the mutations get past the first check, and damage is detected.
        const rejected = Object.values(s.rejected).reduce((a, b) => a + b, 0);
        assert.ok(
          s.accepted > 0 && rejected > s.cases / 4,
          `${name}: ${s.accepted} accepted, ${rejected} rejected of ${s.cases}`,
        );
      }
    },
  );

  test(
    'the watchdog flags a case that never returns and the campaign goes on after it',
    { timeout: 60_000 },
    async () => {
      const report = await runCampaign(self, { seed: 1, cases: { 'selftest-hang': 3 }, hangFloorMs: 1000 });
      assert.equal(report.cases, 3);
      assert.deepEqual(
        report.failures.map((f) => [f.index, f.kind]),
        [[1, 'hang']],
      );
      assert.match(report.failures[0]!.replay, /npm run fuzz -- --seed 1 --target selftest-hang --from 1 --cases 1/);
      assert.equal(report.targets['selftest-hang']!.accepted, 2);
    },
  );

  test(
    'the allocation guard flags a header-sized allocation, even one whose error the reader swallows',
    { timeout: 60_000 },
    async () => {
      const report = await runCampaign(self, { seed: 1, cases: { 'selftest-allocation': 2 } });
      assert.deepEqual(
        report.failures.map((f) => [f.index, f.kind]),
        [
          [0, 'allocation'],
          [1, 'allocation'],
        ],
      );
      for (const f of report.failures)
        assert.match(f.detail, /new Float32Array of 4294967296 bytes exceeds the per-case allocation limit/);
    },
  );

  test('a 4 GB tensor declared in a real TFLite file: refused before allocation, and caught by the guard when the size check is skipped', async () => {
    const bytes = oidBytes().slice();
    const fb = new FlatBuffer(bytes, 'oid');
    const m = parseTflite(bytes, 'oid');
    const t = m.tensors.find((x) => x.shape.length === 4 && m.buffers[x.buffer]!.byteLength > 0)!;
    // Tensor t's table -> its shape vector (field 0); every dimension rewritten in place.
    const table = fb.root('model').tables(2, 'subgraphs')![0]!.tables(0, 'tensors')![t.index]!;
    const vtable = table.pos - fb.i32(table.pos, 'soffset');
    const shapeAt = fb.follow(table.pos + fb.u16(vtable + 4, 'shape slot'), 'shape');
    const huge = [1024, 1024, 256, 4];
    huge.forEach((d, i) => new DataView(bytes.buffer).setInt32(shapeAt + 4 + 4 * i, d, true));
    const hostile = parseTflite(bytes, 'hostile.tflite');
    const declared = hostile.tensors[t.index]!;
    assert.deepEqual(declared.shape, huge);
    // 2^30 elements: 4 GB once decoded to float32, whatever the stored type.
    assert.equal(elementCount(declared.shape) * 4, GB4);

    const guard = new AllocationGuard().install();
    try {
      guard.reset(256 * 2 ** 20);
      assert.throws(
        () => readTfliteFully(bytes, 'hostile.tflite'),
        (e: unknown) => e instanceof TfliteFormatError && /needs \d{10} bytes, its buffer \d+ has \d+/.test(e.message),
      );
      await assert.rejects(
        convertTflite(bytes, { file: 'hostile.tflite', name: 'x', sourceSha256: '0'.repeat(64) }),
        (e: unknown) => e instanceof TfliteFormatError && e.message.startsWith('hostile.tflite: '),
      );
      assert.equal(guard.tripped, undefined);
      assert.ok(guard.largest < 64 * 2 ** 20, `largest allocation ${guard.largest}`);
      // Without the size check, the decoder would size its output by the header alone.
      assert.throws(
        () => decodeConstant(hostile, declared, hostile.buffers[declared.buffer]!, 'CONV_2D'),
        (e: unknown) => e instanceof AllocationLimitError && e.bytes === GB4,
      );
      assert.equal((guard.tripped as AllocationLimitError | undefined)?.bytes, GB4);
    } finally {
      guard.uninstall();
    }
  });

  test('4 GB tensors declared in a TF.js manifest, our model.json and image headers are refused before allocation', async () => {
    const manifest = faceManifest().replace('"shape":[1,1,512,9]', '"shape":[1024,1024,1024,1]');
    const coco = serializeModel(await convertedCoco());
    const doc = JSON.parse(coco.json);
    const filter = Object.values(doc.constants as Record<string, { shape: number[]; length: number }>).find(
      (c) => c.shape.length === 4,
    )!;
    Object.assign(filter, { shape: [1024, 1024, 1024, 1], length: 2 ** 30 });
    const small = writePng({ width: 1, height: 1, depth: 8, colorType: 6, samples: [1, 2, 3, 4] });
    new DataView(small.buffer, small.byteOffset).setUint32(16, 32768);
    new DataView(small.buffer, small.byteOffset).setUint32(20, 32768);
    const png = fixCrcs(small);
    const guard = new AllocationGuard().install();
    try {
      guard.reset(64 * 2 ** 20);
      // uint8-quantized: 1 GB in the shard, 4 GB once decoded to float32.
      assert.throws(
        () => decodeTfjsWeights(parseTfjsManifest(manifest, 'm.json'), [faceShard()], 'm.json'),
        (e: unknown) => e instanceof TfjsFormatError && /needs 1073741824 bytes at offset 0/.test(e.message),
      );
      guard.reset(64 * 2 ** 20 + coco.weights.length * 2);
      await assert.rejects(
        parseModel(JSON.stringify(doc), coco.weights, 'big/model.json'),
        (e: unknown) => e instanceof ModelFormatError && /lies outside the weights/.test(e.message),
      );
      guard.reset(64 * 2 ** 20);
      assert.throws(
        () => decodeImage(png, 'big.png'),
        (e: unknown) => e instanceof ImageTooLargeError && /32768x32768/.test(e.message),
      );
      assert.equal(guard.tripped, undefined);
    } finally {
      guard.uninstall();
    }
  });

  // Files that are structurally valid, so mutation of a real model cannot produce them.
  test('a 516-byte TFLite graph declaring a 32768x32768 input is refused at once (was 12 s and 2 GB of anchors)', async () => {
    const side = 32768;
    const anchors = (side * side * 3) / 4;
    const reshape = { type: 17, fields: [] };
    const file = writeTflite({
      builtins: [builtinCode('RESHAPE')],
      tensors: [
        { shape: [1, side, side, 3], name: 'input' },
        { shape: [1, anchors, 4], name: 'boxes' },
        { shape: [1, anchors, 4], name: 'scores' },
      ],
      operators: [
        { opcode: 0, inputs: [0], outputs: [1], options: reshape },
        { opcode: 0, inputs: [0], outputs: [2], options: reshape },
      ],
      inputs: [0],
      outputs: [1, 2],
    });
    const t = performance.now();
    await assert.rejects(
      convertTflite(file, { file: 'wide.tflite', name: 'x' }),
      (e: unknown) =>
        e instanceof ModelFormatError &&
        /wide\.tflite: input input of 32768x32768 pixels is larger than the 4096-pixel sides/.test(e.message),
    );
    assert.ok(performance.now() - t < 1000);
  });

  test('a TFLite file of 50,000 same-named tensors converts in linear time (was 150 s)', async () => {
    const file = writeTflite({
      builtins: [builtinCode('RESHAPE')],
      tensors: Array.from({ length: 50_000 }, () => ({ shape: [1, 8, 8, 3], name: 'same' })),
      operators: [],
      inputs: [0],
      outputs: [0],
    });
    const t = performance.now();
    await assert.rejects(
      convertTflite(file, { file: 'names.tflite', name: 'x' }),
      (e: unknown) => e instanceof ModelFormatError && /names\.tflite: cannot find the box encodings/.test(e.message),
    );
    assert.ok(performance.now() - t < 5000, `${performance.now() - t} ms`);
  });

  test('graphs beyond 4096 nodes are refused; lowering a wide fan-out is linear (20,000 readers of one tensor: was 19 s)', async () => {
    const m = syntheticModel();
    m.json.weights = await weightsInfo(m.weights);
    const wide = (n: number) => {
      const json = structuredClone(m.json);
      for (let i = 0; i < n; i++) {
        json.nodes.push({
          op: 'add',
          name: `fan${i}`,
          inputs: ['input', 'input'],
          outputs: [`fan${i}`],
          activation: { min: -1, max: 1 },
        });
        json.shapes[`fan${i}`] = json.shapes.input!;
      }
      return json;
    };
    const { weights } = serializeModel(m);
    await assert.rejects(
      parseModel(JSON.stringify(wide(4096)), weights, 'wide/model.json'),
      (e: unknown) => e instanceof ModelFormatError && /the graph has \d+ nodes, more than the 4096/.test(e.message),
    );
    const t = performance.now();
    assert.equal(lowerGraph(wide(20_000), 1).steps.length, 20_013);
    assert.ok(performance.now() - t < 3000, `${performance.now() - t} ms`);
  });
}
