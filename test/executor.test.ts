import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { lowerGraph } from '../src/graph/lower.ts';
import { PointwiseStep } from '../src/ops/conv2d.ts';
import type { VariantChoice } from '../src/ops/support/lowering.ts';
import { runRawOutputs } from '../src/graph/raw.ts';
import { runReference } from '../src/graph/reference.ts';
import { assertClose, gpu, randomFloats, releaseGpu } from './support/gpu.ts';
import { syntheticModel } from './support/synthetic_model.ts';

after(releaseGpu);

test('lowering fuses the residual add, aliases reshapes and writes concat slices in place', () => {
  const m = syntheticModel();
  const low = lowerGraph(m.json, 1);
  const kinds = low.steps.map((s) => s.kind);
  assert.ok(!kinds.includes('add'), 'the skip add is fused into the project GEMM');
  const project = low.steps.find((s) => s.name === 'b1/project');
  assert.equal(project?.kind, 'pointwise');
  assert.ok(project instanceof PointwiseStep && project.residual?.tensor === 'stem:out');
  assert.equal(
    low.steps.length,
    m.json.nodes.filter((n) => n.op !== 'reshape' && n.op !== 'concat' && n.op !== 'add').length,
  );
  assert.equal(low.rootOf.get('box0:out'), 'boxes');
  assert.equal(low.rootOf.get('cls1:out:reshape'), 'scores');
  const box1 = low.steps.find((s) => s.name === 'box1')!;
  assert.deepEqual(box1.view, { base: 9 * 8 * 2 * 4, batchStride: (9 * 8 * 2 + 5 * 4 * 3) * 4, pixelStride: 12 });
});

const cases: [string, VariantChoice, number][] = [
  ['default variants, batch 1', {}, 1],
  ['default variants, batch 3', {}, 3],
  ['naive kernels', { conv2d: 'naive', depthwise: 'naive', pointwise: 'naive' }, 2],
  ['direct conv, vec4 depthwise, shared-memory GEMM', { conv2d: 'direct', depthwise: 'vec4', pointwise: 'shared' }, 1],
  ['blocked conv/depthwise, 8x2 GEMM tiles', { conv2d: 'blocked', depthwise: 'blocked', pointwise: 'blocked8x2' }, 2],
  ['shared-memory tiled GEMM, 64x64 tiles', { pointwise: 'tiled64x64' }, 2],
  ['shared-memory tiled GEMM, 128x64 tiles', { pointwise: 'tiled128x64' }, 1],
  [
    'implicit-GEMM conv, unrolled 3x3 depthwise, unrolled 8x2 GEMM (the SwiftShader choices)',
    { conv2d: 'igemm', depthwise: 'k3s1u', pointwise: 'unrolled8x2' },
    1,
  ],
];

test('kernel choices follow the adapter kind: array tiles on lavapipe (4x4 depthwise), hand-unrolled on SwiftShader', () => {
  const m = syntheticModel();
  const variants = (driver: 'lavapipe' | 'swiftshader' | 'hardware', kind: string) =>
    new Set(lowerGraph(m.json, 1, {}, driver).steps.flatMap((s) => (s.kind === kind && s.variant ? [s.variant] : [])));
  assert.ok(
    [...variants('lavapipe', 'pointwise')].every((v) => v.startsWith('blocked')),
    [...variants('lavapipe', 'pointwise')].join(),
  );
  assert.ok(
    [...variants('swiftshader', 'pointwise')].every((v) => v.startsWith('unrolled')),
    [...variants('swiftshader', 'pointwise')].join(),
  );
  const dwLava = variants('lavapipe', 'depthwise');
  const dwSwift = variants('swiftshader', 'depthwise');
  const dwHardware = variants('hardware', 'depthwise');
  assert.ok(dwLava.size > 0 && [...dwLava].every((v) => v === 'k3s1t4x4' || v === 'k3s2t4x4'), [...dwLava].join());
  assert.ok(
    [...dwSwift].every((v) => v === 'k3s1u' || v === 'k3s2u'),
    [...dwSwift].join(),
  );
  assert.ok(
    [...dwHardware].every((v) => v === 'k3s1' || v === 'k3s2'),
    [...dwHardware].join(),
  );
  const conv = (driver: 'lavapipe' | 'hardware') => [...variants(driver, 'conv2d')].filter((v) => v !== 'igemm');
  assert.ok(
    conv('lavapipe').every((v) => v === 'blocked16' || v === 'direct'),
    conv('lavapipe').join(),
  );
  assert.ok(
    conv('hardware').every((v) => v === 'blocked' || v === 'direct'),
    conv('hardware').join(),
  );
});

for (const [name, force, batch] of cases) {
  test(`executor equals the CPU reference: ${name}`, async () => {
    const ctx = await gpu();
    const m = syntheticModel({ quantClamp: batch === 2 });
    const packed = packModelWeights(ctx, m);
    const ex = await GraphExecutor.create(ctx, m, packed, batch, force);
    const [, h, w] = m.json.shapes.input!;
    const input = randomFloats(batch * h! * w! * 3, 7 + batch, -1, 1);
    const got = await runRawOutputs(ctx, ex, input);
    const ref = runReference(m, input, batch);
    assertClose(got.get('boxes')!, ref.get('boxes')!, 1e-4, 1e-4, 'boxes');
    assertClose(got.get('scores')!, ref.get('scores')!, 1e-4, 1e-4, 'scores');
    assert.ok(ex.stats.activationBytes < ex.stats.naiveActivationBytes, 'the plan shares memory');
    ex.destroy();
    packed.buffer?.destroy();
  });
}

test('a residual add whose other input is computed after the projection runs as its own step, and right', async () => {
  // BlazeFace's blocks: the shortcut (max pool, channel pad) comes after the branch's convolutions in graph order.
  const m = syntheticModel();
  const j = m.json;
  const at = j.nodes.findIndex((n) => n.name === 'b1/add');
  const late = { op: 'activation', name: 'b1/late', fn: 'identity', activation: { min: 0, max: 6 } };
  j.nodes.splice(at, 0, { ...late, inputs: ['stem:out'], outputs: ['b1/late'] } as (typeof j.nodes)[number]);
  j.shapes['b1/late'] = j.shapes['stem:out']!;
  j.nodes[at + 1]!.inputs = j.nodes[at + 1]!.inputs.map((t) => (t === 'stem:out' ? 'b1/late' : t));
  const low = lowerGraph(j, 1);
  const project = low.steps.find((s) => s.name === 'b1/project');
  assert.ok(project instanceof PointwiseStep && !project.residual, 'the add is not fused into the earlier projection');
  assert.ok(low.steps.some((s) => s.kind === 'add'));
  const ctx = await gpu();
  const packed = packModelWeights(ctx, m);
  const ex = await GraphExecutor.create(ctx, m, packed, 1);
  const [, h, w] = j.shapes.input!;
  const input = randomFloats(h! * w! * 3, 5, -1, 1);
  const got = await runRawOutputs(ctx, ex, input);
  const ref = runReference(m, input);
  assertClose(got.get('boxes')!, ref.get('boxes')!, 1e-4, 1e-4, 'boxes');
  assertClose(got.get('scores')!, ref.get('scores')!, 1e-4, 1e-4, 'scores');
  ex.destroy();
  packed.buffer?.destroy();
});
