/**
 * Device loss, simulated with device.destroy() at fixed points of a call (while its frame uploads,
 * right after its submit) and between calls: the call in flight rejects with DeviceLostError, the
 * next call runs on a new device with the same detections, calls queued behind the lost one are
 * unaffected, and nothing is left as an unhandled rejection. A detector on a context it was given
 * cannot replace that device and says so on every call, until its owner makes a new context.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createGpuContext,
  DeviceLostError,
  DisposedError,
  load,
  type Detection,
  type ObjectDetector,
  type RgbaImage,
} from '../src/index.ts';
import { readImageFile } from '../src/image/decode.ts';

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
process.on('unhandledRejection', onUnhandled);
process.on('uncaughtException', onUnhandled);

let det: ObjectDetector;
let dog: RgbaImage;
let cat: RgbaImage;
let dogAlone: Detection[];
let catAlone: Detection[];

before(async () => {
  [dog, cat] = await Promise.all([readImageFile('samples/dog.jpg'), readImageFile('samples/cat.jpg')]);
  det = await load('oid-v4');
  dogAlone = await det.detect(dog);
  catAlone = await det.detect(cat);
  assert.ok(dogAlone.length === 3 && catAlone.length >= 1);
});

after(async () => {
  det?.dispose();
  // A loss is reported on the device's `lost` promise a moment later; give stragglers a turn.
  await new Promise((r) => setTimeout(r, 100));
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUnhandled);
  assert.deepEqual(unhandled, [], 'unhandled rejections or exceptions');
});

/** Destroys the detector's device at its next queue.submit(): `before` it (the work never runs) or `after` it (the readback is pending). */
function destroyOnNextSubmit(d: ObjectDetector, when: 'before' | 'after'): void {
  const queue = d.context.queue;
  const submit = queue.submit.bind(queue);
  queue.submit = (buffers) => {
    queue.submit = submit;
    if (when === 'before') d.context.device.destroy();
    submit(buffers);
    if (when === 'after') d.context.device.destroy();
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

for (const when of ['before', 'after'] as const) {
  test(`destroyed ${when} the submit of a call in flight: that call rejects with DeviceLostError, the next runs on a new device with the same detections`, async () => {
    const old = det.context;
    const live = old.liveResources;
    destroyOnNextSubmit(det, when);
    await assert.rejects(
      det.detect(dog),
      (e: unknown) =>
        e instanceof DeviceLostError &&
        e.code === 'DEVICE_LOST' &&
        /GPU device lost/.test(e.message) &&
        /re-creates its device/.test(e.message),
    );
    assert.ok(same(await det.detect(dog), dogAlone));
    assert.notEqual(det.context, old, 'a new context');
    assert.ok(same(await det.detect(cat), catAlone));
    assert.deepEqual(det.context.liveResources, live, 'the new device holds what the old one held');
  });
}

test('destroyed between calls: the next call recovers without an error', async () => {
  det.context.device.destroy();
  assert.ok(same(await det.detect(cat), catAlone));
  det.context.device.destroy();
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(same(await det.detectBatch([dog, cat]), [dogAlone, catAlone]));
});

test('calls queued behind the lost one are unaffected', async () => {
  destroyOnNextSubmit(det, 'after');
  const calls = [det.detect(dog), det.detect(cat), det.detect(dog), det.detectBatch([cat, dog])];
  const settled = await Promise.allSettled(calls);
  assert.equal(settled[0]!.status, 'rejected');
  assert.ok((settled[0] as PromiseRejectedResult).reason instanceof DeviceLostError);
  const rest = settled.slice(1).map((s) => (s.status === 'fulfilled' ? s.value : s.reason));
  assert.ok(same(rest, [catAlone, dogAlone, [catAlone, dogAlone]]), 'the queued calls ran on the new device');
});

test('dispose() while a call is in flight: the call completes, later ones reject with DisposedError, the device goes', async () => {
  const d = await load('oid-v4');
  const queue = d.context.queue;
  const submit = queue.submit.bind(queue);
  const submitted = new Promise<void>((resolve) => {
    queue.submit = (buffers) => {
      queue.submit = submit;
      submit(buffers);
      resolve();
    };
  });
  const running = d.detect(dog);
  const queued = d.detect(cat).then(
    () => 'resolved',
    (e: unknown) => e,
  );
  await submitted;
  d.dispose();
  assert.ok(same(await running, dogAlone));
  assert.ok((await queued) instanceof DisposedError);
  await assert.rejects(d.detect(dog), DisposedError);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(d.context.lost, 'the owned device is destroyed once the running call ended');
});

test('a detector on a shared context: the loss is reported on every call with what to do, until the owner makes a new context', async () => {
  const context = await createGpuContext();
  const [a, b] = await Promise.all([load('oid-v4', { context }), load('oid-v4', { context })]);
  try {
    assert.ok(same(await a.detect(dog), dogAlone));
    destroyOnNextSubmit(a, 'after');
    const shared = (e: unknown) => e instanceof DeviceLostError && /cannot replace that context/.test(e.message);
    await assert.rejects(a.detect(dog), shared);
    await assert.rejects(a.detect(dog), shared);
    await assert.rejects(b.detect(cat), shared);
    a.dispose();
    b.dispose();
    context.destroy();
    const fresh = await createGpuContext();
    const c = await load('oid-v4', { context: fresh });
    assert.ok(same(await c.detect(dog), dogAlone));
    c.dispose();
    fresh.destroy();
  } finally {
    a.dispose();
    b.dispose();
  }
});
