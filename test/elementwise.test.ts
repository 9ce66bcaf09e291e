import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ACTIVATIONS } from '../src/core/geometry.ts';
import {
  addDispatch,
  addPipeline,
  addRef,
  logisticDispatch,
  logisticPipeline,
  logisticRef,
} from '../src/kernels/elementwise.ts';
import { assertClose, gpu, output, randomFloats, readF32, releaseGpu, run, storage } from './support/gpu.ts';

after(releaseGpu);

for (const n of [1, 3, 37, 4096, 70001])
  for (const act of ['none', 'relu6'] as const)
    test(`add ${n} elements ${act}`, async () => {
      const ctx = await gpu();
      const a = randomFloats(n, 1, -8, 8),
        b = randomFloats(n, 2, -8, 8);
      const out = output(ctx, n);
      const ba = storage(ctx, a),
        bb = storage(ctx, b);
      await run(ctx, [
        addDispatch(ctx, await addPipeline(ctx), n, ACTIVATIONS[act], { buffer: ba }, { buffer: bb }, { buffer: out }),
      ]);
      assertClose(await readF32(ctx, out, n), addRef(a, b, ACTIVATIONS[act]), 1e-6, 1e-6);
    });

for (const n of [1, 5, 1917 * 91])
  test(`logistic ${n} elements, including |x| up to 100`, async () => {
    const ctx = await gpu();
    const x = randomFloats(n, 3, -100, 100);
    x[0] = 0;
    const out = output(ctx, n);
    const bx = storage(ctx, x);
    await run(ctx, [logisticDispatch(ctx, await logisticPipeline(ctx), n, { buffer: bx }, { buffer: out })]);
    assertClose(await readF32(ctx, out, n), logisticRef(x), 1e-6, 1e-5);
  });

test('a dispatch over more than 65535 workgroups is split over x and y, and every element is still computed', async () => {
  const ctx = await gpu();
  const n = 65535 * 64 + 101;
  const a = randomFloats(n, 4, -8, 8),
    b = randomFloats(n, 5, -8, 8);
  const out = output(ctx, n);
  const d = addDispatch(
    ctx,
    await addPipeline(ctx),
    n,
    ACTIVATIONS.none,
    { buffer: storage(ctx, a) },
    { buffer: storage(ctx, b) },
    { buffer: out },
  );
  const limit = ctx.report.limits.maxComputeWorkgroupsPerDimension ?? 65535;
  assert.ok(d.workgroups[0] <= limit && d.workgroups[1] > 1, `workgroups ${d.workgroups.join('x')}`);
  await run(ctx, [d]);
  assertClose(await readF32(ctx, out, n), addRef(a, b, ACTIVATIONS.none), 1e-6, 1e-6);
});
