/**
 * The fused depthwise + 1x1 step in the graph: where lowering fuses (forced, or a plan's per-layer pick) and
 * where it must not, and whole networks with every pair fused against the CPU reference and the TFLite goldens.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { GraphExecutor, packModelWeights } from '../src/graph/executor.ts';
import { lowerGraph } from '../src/graph/lower.ts';
import { runRawOutputs } from '../src/graph/raw.ts';
import { runReference } from '../src/graph/reference.ts';
import { DWPW_VARIANTS, DWPW_WORKGROUP_SIZES } from '../src/kernels/dwpw_conv2d.ts';
import { dwpwShapeKey } from '../src/kernels/dwpw_tuning.ts';
import type { GemmPlan } from '../src/kernels/pointwise_tuning.ts';
import { resolveModel } from '../src/node/model_registry.ts';
import { DwpwStep } from '../src/ops/support/dwpw.ts';
import { assertClose, gpu, randomFloats, releaseGpu } from './support/gpu.ts';
import { buildGoldenInput, goldenStems, loadGolden } from './support/goldens.ts';
import { syntheticModel } from './support/synthetic_model.ts';

after(releaseGpu);

test('lowering fuses a depthwise into its only 1x1 reader when forced or planned, never by default', () => {
  const m = syntheticModel();
  const plain = lowerGraph(m.json, 1);
  for (const driver of ['lavapipe', 'swiftshader', 'unknown'] as const)
    assert.ok(!lowerGraph(m.json, 1, {}, driver).steps.some((s) => s.kind === 'dwpw'), driver);
  const forced = lowerGraph(m.json, 1, { dwpw: 'dwpw32x64' });
  const fused = forced.steps.filter((s): s is DwpwStep => s instanceof DwpwStep);
  assert.ok(fused.length >= 1);
  assert.equal(forced.steps.length, plain.steps.length - fused.length, 'one dispatch per fused pair');
  for (const f of fused) {
    assert.ok(!forced.steps.includes(f.dw), 'the depthwise step is gone');
    assert.equal(f.variant, 'dwpw32x64');
  }
  // The inverted-residual block's skip add is fused into the fused step's epilogue, as into the GEMM's.
  const project = forced.steps.find((s) => s.name === 'b1/project');
  assert.ok(project instanceof DwpwStep && project.residual?.tensor === 'stem:out');
  // A plan's pick fuses that pair alone, at its workgroup size; 'pair' overrides any plan.
  const plan: GemmPlan = new Map([[dwpwShapeKey(project.s), { variant: 'dwpw64x64', workgroupSize: 256 }]]);
  const planned = lowerGraph(m.json, 1, {}, 'lavapipe', undefined, plan).steps.filter((s) => s.kind === 'dwpw');
  assert.deepEqual(
    planned.map((s) => [s.name, s.variant, s.workgroupSize]),
    [['b1/project', 'dwpw64x64', 256]],
  );
  assert.ok(!lowerGraph(m.json, 1, { dwpw: 'pair' }, 'lavapipe', undefined, plan).steps.some((s) => s.kind === 'dwpw'));
  // A depthwise output that another node reads too is not fused (it must be written).
  const j = structuredClone(m.json);
  const dwOut = project.dw.output;
  j.nodes.push({
    op: 'activation',
    name: 'extra',
    fn: 'identity',
    activation: { min: 0, max: 6 },
    inputs: [dwOut],
    outputs: ['extra'],
  });
  j.shapes.extra = j.shapes[dwOut]!;
  const shared = lowerGraph(j, 1, { dwpw: 'dwpw32x64' }).steps;
  assert.ok(!shared.some((s) => s.name === 'b1/project' && s.kind === 'dwpw'));
});

// Every configuration the autotuner may pick (DWPW_VARIANTS x DWPW_WORKGROUP_SIZES), through a whole network.
for (const variant of DWPW_VARIANTS)
  for (const workgroupSize of DWPW_WORKGROUP_SIZES) {
    const batch = workgroupSize === 64 ? 2 : 1;
    test(`executor with every pair fused (${variant} wg${workgroupSize}, batch ${batch}) equals the CPU reference`, async () => {
      const ctx = await gpu();
      const m = syntheticModel();
      const steps = lowerGraph(m.json, batch, { dwpw: variant }).steps.filter((s) => s instanceof DwpwStep);
      const plan: GemmPlan = new Map(steps.map((s) => [dwpwShapeKey(s.s), { variant, workgroupSize }]));
      const packed = packModelWeights(ctx, m);
      const ex = await GraphExecutor.create(ctx, m, packed, batch, {}, undefined, plan);
      assert.ok(ex.stats.steps.some((s) => s.kind === 'dwpw' && s.workgroupSize === workgroupSize));
      const [, h, w] = m.json.shapes.input!;
      const input = randomFloats(batch * h! * w! * 3, 11, -1, 1);
      const got = await runRawOutputs(ctx, ex, input);
      const ref = runReference(m, input, batch);
      assertClose(got.get('boxes')!, ref.get('boxes')!, 1e-4, 1e-4, 'boxes');
      assertClose(got.get('scores')!, ref.get('scores')!, 1e-4, 1e-4, 'scores');
      ex.destroy();
      packed.buffer?.destroy();
    });
  }

test('oid-v4 with every depthwise + 1x1 pair fused: raw outputs as the TFLite golden and as unfused', async () => {
  const ctx = await gpu();
  const model = await resolveModel('oid-v4');
  const stem = goldenStems('oid-ssd-mobilenetv2')[0]!;
  const g = loadGolden('oid-ssd-mobilenetv2', stem);
  const input = buildGoldenInput(g).engine;
  const packed = packModelWeights(ctx, model);
  const outputs = async (force: Record<string, string>) => {
    const ex = await GraphExecutor.create(ctx, model, packed, 1, force);
    try {
      return {
        fused: ex.stats.steps.filter((s) => s.kind === 'dwpw').length,
        raw: await runRawOutputs(ctx, ex, input),
      };
    } finally {
      ex.destroy();
    }
  };
  const fused = await outputs({ dwpw: 'dwpw64x64' });
  const pair = await outputs({});
  assert.ok(fused.fused >= 17, `${fused.fused} fused pairs`);
  assert.equal(pair.fused, 0);
  const { boxes, scores } = model.json.outputs;
  // The parity test's stated tolerance against the reference runtime (fp32 through ~60 layers).
  assertClose(fused.raw.get(boxes)!, g.outputs['raw_outputs/box_encodings']!.data, 2e-4, 1e-4, 'box encodings');
  assertClose(fused.raw.get(scores)!, g.outputs['raw_outputs/class_predictions']!.data, 2e-4, 1e-4, 'class logits');
  assertClose(fused.raw.get(boxes)!, pair.raw.get(boxes)!, 2e-4, 1e-4, 'box encodings, fused vs pair');
  assertClose(fused.raw.get(scores)!, pair.raw.get(scores)!, 2e-4, 1e-4, 'class logits, fused vs pair');
  packed.buffer?.destroy();
});
