import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { runReference } from '../src/graph/reference.ts';
import { modelToOnnx } from '../src/graph/onnx_export.ts';
import { ProtoWriter } from '../src/onnx/protobuf.ts';
import { randomFloats } from './support/gpu.ts';
import { syntheticModel } from './support/synthetic_model.ts';

test('protobuf varints: multi-byte, int64 negatives as ten bytes, packed fields length-prefixed', () => {
  assert.deepEqual([...new ProtoWriter().varint(1, 300).finish()], [0x08, 0xac, 0x02]);
  assert.deepEqual(
    [...new ProtoWriter().varint(2, -1).finish()],
    [0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
  );
  assert.deepEqual([...new ProtoWriter().varint(1, 2 ** 40).finish()], [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
  assert.deepEqual([...new ProtoWriter().packedVarints(8, [3, 270]).finish()], [0x42, 0x03, 0x03, 0x8e, 0x02]);
  assert.deepEqual(
    [...new ProtoWriter().float(2, 1).string(1, 'ab').finish()],
    [0x15, 0, 0, 0x80, 0x3f, 0x0a, 0x02, 0x61, 0x62],
  );
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const cases = [
  { name: 'ReLU6 clamps, batch 1', quantClamp: false, batch: 1 },
  {
    name: 'quantized clamp ranges (Clip with other bounds), batch 3 through the symbolic batch dimension',
    quantClamp: true,
    batch: 3,
  },
];

for (const c of cases) {
  test(`onnxruntime-node runs the converted synthetic model like the CPU reference: ${c.name}`, async () => {
    const model = syntheticModel({ quantClamp: c.quantClamp });
    const [, H, W] = model.json.shapes[model.json.input]!;
    const input = randomFloats(c.batch * H! * W! * 3, 7, -1, 1);
    const want = runReference(model, input, c.batch);
    const session = await ort.InferenceSession.create(modelToOnnx(model), {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
    });
    try {
      const got = await session.run({ [model.json.input]: new ort.Tensor('float32', input, [c.batch, H!, W!, 3]) });
      for (const name of [model.json.outputs.boxes, model.json.outputs.scores]) {
        const t = got[name];
        assert.ok(t, `output ${name} is missing`);
        assert.deepEqual(t.dims, [c.batch, ...model.json.shapes[name]!.slice(1)]);
        const diff = maxAbsDiff(t.data as Float32Array, want.get(name)!);
        assert.ok(diff <= 1e-4, `${name}: max |onnx - reference| = ${diff}`);
      }
    } finally {
      await session.release();
    }
  });
}

test('two reshapes of one rank-4 tensor share its NHWC transpose (ONNX Runtime refused a duplicate definition)', async () => {
  const model = syntheticModel();
  const json = model.json;
  const again = 'box0:out:reshape_again';
  json.shapes[again] = [...json.shapes['box0:out:reshape']!];
  json.nodes.push({ op: 'reshape', name: again, inputs: ['box0:out'], outputs: [again], shape: json.shapes[again] });
  const [, H, W] = json.shapes[json.input]!;
  const input = randomFloats(H! * W! * 3, 9, -1, 1);
  const session = await ort.InferenceSession.create(modelToOnnx(model), { executionProviders: ['cpu'] });
  try {
    const got = await session.run({ [json.input]: new ort.Tensor('float32', input, [1, H!, W!, 3]) });
    assert.ok(
      maxAbsDiff(got[json.outputs.boxes]!.data as Float32Array, runReference(model, input).get(json.outputs.boxes)!) <=
        1e-4,
    );
  } finally {
    await session.release();
  }
});
