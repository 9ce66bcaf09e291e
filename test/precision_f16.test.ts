/**
 * precision 'f16' as a load option: where it resolves, the typed error on an adapter without shader-f16
 * (SwiftShader), and a detector that runs it end to end (preprocessing writes f16, half the weight and
 * activation bytes, detections within the budget of f16_goldens.test.ts).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { adapterPrecision, Detector } from '../src/api/detector.ts';
import { rgbaFrame } from '../src/api/rgba_frame.ts';
import { InvalidOptionError } from '../src/errors.ts';
import { GpuContext } from '../src/gpu/context.ts';
import type { DriverKind } from '../src/gpu/provider.ts';
import { installNodeGpu } from '../src/node_gpu.ts';
import { gpu, releaseGpu } from './support/gpu.ts';
import { syntheticModel } from './support/synthetic_model.ts';

after(releaseGpu);

test("'auto' takes f16 only for float models on hardware adapters with shader-f16; 'f16' passes where offered", () => {
  const ctx = (driver: DriverKind, hasF16: boolean) =>
    ({ hasF16, report: { driver }, describe: () => driver }) as unknown as GpuContext;
  assert.equal(adapterPrecision(ctx('hardware', true), 'auto', 'f32'), 'f16');
  assert.equal(adapterPrecision(ctx('hardware', false), 'auto', 'f32'), 'f32');
  assert.equal(adapterPrecision(ctx('lavapipe', true), 'auto', 'f32'), 'f32');
  assert.equal(adapterPrecision(ctx('hardware', true), 'auto', 'int8'), 'int8');
  assert.equal(adapterPrecision(ctx('hardware', true), 'f32', 'f32'), 'f32');
  assert.equal(adapterPrecision(ctx('lavapipe', true), 'f16', 'f16'), 'f16');
  assert.throws(() => adapterPrecision(ctx('hardware', false), 'f16', 'f16'), InvalidOptionError);
});

test("precision 'f16' on SwiftShader (no shader-f16): InvalidOptionError that says to use 'f32' or 'auto'", async (t) => {
  installNodeGpu();
  let ctx: GpuContext;
  try {
    ctx = await GpuContext.acquire({ driver: 'swiftshader' });
  } catch (e) {
    return t.skip(`no SwiftShader adapter here: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    if (ctx.hasF16) return t.skip(`${ctx.describe()} offers shader-f16 after all`);
    await assert.rejects(Detector.create(syntheticModel(), { precision: 'f16', context: ctx }), (e: unknown) => {
      assert.ok(e instanceof InvalidOptionError, String(e));
      assert.match(e.message, /does not offer shader-f16/);
      assert.match(e.message, /'f32' or 'auto'/);
      return true;
    });
  } finally {
    ctx.destroy();
  }
});

test("a detector loaded with precision 'f16' reports it, holds half the bytes and detects what f32 does", async (t) => {
  const ctx = await gpu();
  if (!ctx.hasF16) return t.skip(`${ctx.describe()} does not offer shader-f16: precision 'f16' cannot run here`);
  const model = syntheticModel();
  const f32 = await Detector.create(model, { precision: 'f32', context: ctx });
  const f16 = await Detector.create(model, { precision: 'f16', context: ctx });
  try {
    assert.equal(f32.precision, 'f32');
    assert.equal(f16.precision, 'f16');
    const [m32, m16] = [await f32.memory(), await f16.memory()];
    // Each constant starts at an aligned offset, so f16 packs to at most half plus one alignment gap per constant.
    assert.ok(m16.weightBytes < 0.6 * m32.weightBytes, `weights ${m16.weightBytes} vs ${m32.weightBytes}`);
    assert.ok(m16.activationBytes <= 0.5 * m32.activationBytes + 4096, `arena ${m16.activationBytes}`);
    const { width, height } = model.json.preprocess;
    const data = new Uint8ClampedArray(width * height * 4 * 4);
    for (let i = 0; i < data.length; i++) data[i] = (i * 37 + (i >> 7) * 11) % 256;
    const frame = rgbaFrame({ width: width * 2, height: height * 2, data });
    const opts = { scoreThreshold: 0.3, maxDetections: 10 };
    const [a, b] = [await f32.detect(frame, opts), await f16.detect(frame, opts)];
    assert.ok(a.length > 0, 'the synthetic model detects something');
    assert.equal(b.length, a.length);
    a.forEach((d, i) => {
      assert.equal(b[i]!.label, d.label, `detection ${i}`);
      assert.ok(Math.abs(b[i]!.score - d.score) <= 5e-3, `detection ${i}: score ${b[i]!.score} vs ${d.score}`);
      for (const k of ['x', 'y', 'width', 'height'] as const)
        assert.ok(Math.abs(b[i]!.box[k] - d.box[k]) <= 0.01 * width * 2, `detection ${i} box.${k}`);
    });
  } finally {
    f32.dispose();
    f16.dispose();
  }
});
