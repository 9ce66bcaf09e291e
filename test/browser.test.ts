/**
 * The demo page and the browser library in Debian's Chromium (WebGPU on its SwiftShader adapter),
 * driven by playwright-core: the page's detections on samples/dog.jpg equal the Node path's on the
 * same pixels; a lost device shows a message and detection recovers; a short video is detected
 * frame by frame; clear messages without WebGPU and for files that are not images or videos; typed
 * library errors for missing or corrupt models and unusable inputs; the library's load and call options,
 * detectBatch, and ImageData, ImageBitmap, OffscreenCanvas and VideoFrame inputs against Node on the same
 * pixels, with typed errors for closed frames. Screenshots go to artifacts/.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import jpeg from 'jpeg-js';
import type { Page } from 'playwright-core';
import type { Detection } from '../src/detect_types.ts';
import { iou } from '../src/eval/iou.ts';
import { load, type ObjectDetector } from '../src/index.ts';
import { exportWeb, type WebModelEntry } from '../src/node/web_export.ts';
import { openDemoBrowser, waitForResults, type DemoBrowser } from './support/demo_browser.ts';

let b: DemoBrowser;
let root: string;
let artifacts: string;
let page: Page;
let node: ObjectDetector;
/** Node's coco detector, loaded once for the two tests that compare the page's coco model with it. */
let nodeCoco: ObjectDetector | undefined;
const cocoInNode = async () => (nodeCoco ??= await load('coco'));
const webModels = mkdtempSync(join(tmpdir(), 'mobilessd-web-models-'));
const exported: Record<string, WebModelEntry> = {};

before(async () => {
  // What `mobilessd export-web --model oid-v4,coco --out <app>/models` writes (oid-v4 float16, coco float32).
  for (const name of ['oid-v4', 'coco']) exported[name] = await exportWeb(name, webModels);
  b = await openDemoBrowser({ mounts: { '/app/models/': webModels } });
  ({ root, artifacts, page } = b);
  node = await load('oid-v4');
});

after(async () => {
  node?.dispose();
  nodeCoco?.dispose();
  await b?.close();
  rmSync(webModels, { recursive: true, force: true });
});

const results = (count: number) => waitForResults(b, count);

/** Same detections in the same order: labels, IoU >= 0.99, scores within 1e-3. */
function assertSameDetections(
  found: readonly Detection[],
  ref: readonly Detection[],
  what: string,
): { worstIou: number; worstScore: number } {
  assert.deepEqual(
    found.map((d) => d.label),
    ref.map((d) => d.label),
    `${what}: labels`,
  );
  let worstIou = 1;
  let worstScore = 0;
  found.forEach((d, i) => {
    const overlap = iou(d.box, ref[i]!.box);
    const diff = Math.abs(d.score - ref[i]!.score);
    assert.ok(overlap >= 0.99, `${what}: ${d.label} IoU ${overlap}`);
    assert.ok(diff <= 1e-3, `${what}: ${d.label} score ${d.score} vs ${ref[i]!.score}`);
    worstIou = Math.min(worstIou, overlap);
    worstScore = Math.max(worstScore, diff);
  });
  return { worstIou, worstScore };
}

const summary = (ds: readonly Detection[]) => ds.map((d) => `${d.label} ${d.score.toFixed(4)}`).join(', ');

test('the page detects on samples/dog.jpg what the Node path detects on the same pixels', async (t) => {
  await page.goto(`${b.server.origin}/`);
  const [first] = await results(1);
  assert.equal(first!.source, 'image');
  // The pixels the page ran on, as Chromium decoded the JPEG (its decoder rounds differently from jpeg-js).
  const shown = await page.evaluate(() => {
    const c = document.getElementById('picture') as HTMLCanvasElement;
    const bytes = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { base64: btoa(s), width: c.width, height: c.height };
  });
  assert.deepEqual([shown.width, shown.height], [768, 576]);
  const pixels = {
    data: new Uint8Array(Buffer.from(shown.base64, 'base64')),
    width: shown.width,
    height: shown.height,
  };
  const ref = await node.detect(pixels);
  assert.deepEqual(
    ref.map((d) => d.label),
    ['Dog', 'Bicycle', 'Car'],
  );
  const w = assertSameDetections(first!.detections, ref, 'page vs Node');
  t.diagnostic(
    `page: ${summary(first!.detections)}; worst IoU ${w.worstIou.toFixed(6)}, worst score diff ${w.worstScore.toExponential(1)} (Node on ${node.adapter.description})`,
  );
  const fromFile = await node.detect(
    jpeg.decode(readFileSync(join(root, 'samples/dog.jpg')), { useTArray: true, formatAsRGBA: true }),
  );
  t.diagnostic(`Node on jpeg-js's decode of the same file: ${summary(fromFile)}`);
  const times = first!.times!;
  t.diagnostic(
    `page, first run: total ${times.total.toFixed(0)} ms (upload ${times.upload.toFixed(1)}, GPU ${times.gpu?.toFixed(0) ?? 'n/a'}, submit->result ${times.submitToResult.toFixed(0)})`,
  );
  assert.match(await page.locator('#detections').innerText(), /Dog 0\.\d{3}[\s\S]*Bicycle[\s\S]*Car/);
  await page.screenshot({ path: join(artifacts, 'browser-dog.png') });
});

test('a lost GPU device shows a message, and the next detection runs on a new device', async () => {
  const before = await page.evaluate(() => window.mobilessdDemo.results.length);
  const devices = await page.evaluate(() => window.mobilessdTestDevices.length);
  await page.evaluate(() => window.mobilessdTestDevices.at(-1)!.destroy());
  await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'device-lost', null, {
    timeout: 10_000,
    polling: 20,
  });
  assert.match(await page.locator('#message').innerText(), /GPU device was lost/);
  const all = await results(before + 1);
  assert.equal(await page.evaluate(() => window.mobilessdTestDevices.length), devices + 1, 'a new device');
  assertSameDetections(all.at(-1)!.detections, all[before - 1]!.detections, 'after recovery');
  assert.ok(await page.locator('#message').isHidden(), 'the message goes once detection works again');
});

test('a video file is detected frame by frame, each frame copied to the GPU from the <video>', async (t) => {
  // Three frames at 2 fps: the dog photo, the same panned 96 px to the right, then the cat.
  const clip = join(b.scratch, 'clip.webm');
  const ff = spawnSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-loop',
      '1',
      '-framerate',
      '2',
      '-t',
      '1',
      '-i',
      join(root, 'samples/dog.jpg'),
      '-loop',
      '1',
      '-framerate',
      '2',
      '-t',
      '0.5',
      '-i',
      join(root, 'samples/cat.jpg'),
      '-filter_complex',
      "[0:v]crop=640:480:'n*96':48,setsar=1[a];[1:v]scale=640:-2,pad=640:480:(ow-iw)/2:(oh-ih)/2,setsar=1[b];[a][b]concat=n=2:v=1,format=yuv420p[v]",
      '-map',
      '[v]',
      '-c:v',
      'libvpx',
      '-b:v',
      '2M',
      '-r',
      '2',
      clip,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(ff.status, 0, `ffmpeg: ${ff.stderr}`);
  const before = await page.evaluate(() => window.mobilessdDemo.results.length);
  await page.setInputFiles('#file', clip);
  const frames = (await results(before + 3)).slice(before);
  assert.deepEqual(
    frames.map((f) => [f.source, f.mediaTime]),
    [
      ['video', 0],
      ['video', 0.5],
      ['video', 1],
    ],
  );
  const dog = frames.map((f) => f.detections.find((d) => d.label === 'Dog'));
  assert.ok(dog[0] && dog[1], `the dog in frames 0 and 1: ${frames.map((f) => summary(f.detections)).join(' | ')}`);
  // Each frame's own pixels were used: the dog moves left by the pan.
  assert.ok(Math.abs(dog[0].box.x - dog[1].box.x - 96) < 6, `dog x ${dog[0].box.x} then ${dog[1].box.x}`);
  assert.deepEqual(
    frames[2]!.detections.map((d) => d.label),
    ['Cat'],
  );
  assert.ok(!b.consoleLines.some((l) => l.includes('cannot copy video frames')), 'no fallback to createImageBitmap');
  t.diagnostic(
    frames.map((f) => `t=${f.mediaTime}s: ${summary(f.detections)} (${f.times!.total.toFixed(0)} ms)`).join('; '),
  );
  await page.screenshot({ path: join(artifacts, 'browser-video.png') });
});

test('a file that is neither an image nor a video, or a damaged image, gets a clear message', async () => {
  await page.setInputFiles('#file', {
    name: 'notes.txt',
    mimeType: 'text/plain',
    buffer: Buffer.from('not a picture'),
  });
  await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'not-media');
  assert.match(await page.locator('#message').innerText(), /“notes\.txt” is not an image or a video[\s\S]*text\/plain/);
  await page.screenshot({ path: join(artifacts, 'browser-not-media.png') });
  await page.click('#message-close');
  await page.setInputFiles('#file', {
    name: 'broken.jpg',
    mimeType: 'image/jpeg',
    buffer: Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]),
  });
  await page.waitForFunction(() => window.mobilessdDemo.message?.code === 'not-media');
  assert.match(await page.locator('#message').innerText(), /“broken\.jpg”[\s\S]*could not decode/);
  assert.equal(await page.locator('#stage video').count(), 1, 'the video shown before stays');
});

test('without WebGPU, or with no adapter, the page says so instead of failing silently', async () => {
  for (const [name, init] of [
    ['no-webgpu', () => delete (Navigator.prototype as { gpu?: unknown }).gpu],
    ['no-adapter', () => (GPU.prototype.requestAdapter = async () => null)],
  ] as const) {
    const p = await b.context.newPage();
    try {
      await p.addInitScript(init);
      await p.goto(`${b.server.origin}/?image=`);
      await p.waitForFunction(() => window.mobilessdDemo?.message?.code === 'no-webgpu', null, { timeout: 30_000 });
      const text = await p.locator('#message').innerText();
      assert.match(text, /WebGPU is not available in this browser/);
      assert.match(text, name === 'no-webgpu' ? /navigator\.gpu is missing/ : /no WebGPU adapter available/);
      await p.screenshot({ path: join(artifacts, `browser-${name}.png`) });
    } finally {
      await p.close();
    }
  }
});

test('the library: typed errors for a missing or corrupt model and for unusable inputs', async () => {
  const modelJson = readFileSync(join(b.oidDir, 'model.json'));
  const weights = readFileSync(join(b.oidDir, 'weights.bin'));
  weights[weights.length >> 1]! ^= 1;
  // A server that answers unknown paths with its home page, as single-page-app servers do.
  await page.route('**/test-models/spa/model.json', (route) =>
    route.fulfill({ body: '<!doctype html><title>home</title>', contentType: 'text/html' }),
  );
  await page.route(/\/test-models\/(short|flipped)\/model\.json$/, (route) =>
    route.fulfill({ body: modelJson, contentType: 'application/json' }),
  );
  await page.route('**/test-models/short/weights.bin', (route) => route.fulfill({ body: weights.subarray(0, 100) }));
  await page.route('**/test-models/flipped/weights.bin', (route) => route.fulfill({ body: weights }));
  const errors = await page.evaluate(async () => {
    const url = '/browser/mobilessd.js';
    const lib = (await import(url)) as typeof import('../src/browser.ts');
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => 'resolved',
        (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
      );
    const det = window.mobilessdDemo.detector!;
    const img = document.createElement('img');
    return {
      missing: await failure(lib.load('nope')),
      html: await failure(lib.load('spa', { baseUrl: '/test-models/' })),
      short: await failure(lib.load('short', { baseUrl: '/test-models/' })),
      flipped: await failure(lib.load('flipped', { baseUrl: '/test-models/' })),
      emptyImg: await failure(det.detect(img)),
      badPixels: await failure(det.detect({ data: new Uint8Array(3), width: 1, height: 1 })),
    };
  });
  assert.match(
    errors.missing,
    /^MODEL_NOT_FOUND: model not found: http:\/\/127\.0\.0\.1:\d+\/weights\/nope\/model\.json \(HTTP 404/,
  );
  assert.match(errors.html, /^MODEL_FORMAT: .*\/spa\/model\.json: the server answered with an HTML page/);
  assert.match(errors.short, /^MODEL_FORMAT: .*weights\.bin: has 100 bytes, model\.json says \d+/);
  assert.match(errors.flipped, /^MODEL_CHECKSUM: .*weights\.bin: checksum mismatch/);
  assert.match(errors.emptyImg, /^INVALID_INPUT: <img src=""> could not be decoded/);
  assert.match(errors.badPixels, /^INVALID_INPUT: image: data has 3 bytes, but a 1x1 RGBA image needs 4/);
});

test("export-web's files load in the page by { url, integrity } and detect what Node detects; a wrong hash is refused", async (t) => {
  const dog = jpeg.decode(readFileSync(join(root, 'samples/dog.jpg')), { useTArray: true, formatAsRGBA: true });
  const base64 = Buffer.from(dog.data).toString('base64');
  for (const [name, entry] of Object.entries(exported)) {
    const run = await page.evaluate(
      async ({ url, integrity, base64, width, height }) => {
        const bundle = '/browser/mobilessd.js';
        const lib = (await import(bundle)) as typeof import('../src/browser.ts');
        const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
        const failure = (p: Promise<unknown>) =>
          p.then(
            () => 'resolved',
            (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
          );
        const wrong = `sha384-${btoa('x'.repeat(48))}`;
        const detector = await lib.load({ url, integrity });
        const found = await detector.detect({ data, width, height });
        detector.dispose();
        return {
          found,
          wrong: await failure(lib.load({ url, integrity: wrong })),
          malformed: await failure(lib.load({ url, integrity: 'md5-abc' })),
        };
      },
      { url: `/app/models/${entry.url}`, integrity: entry.integrity, base64, width: dog.width, height: dog.height },
    );
    const ref = await (name === 'oid-v4' ? node : await cocoInNode()).detect(dog);
    assert.ok(ref.length >= 3, `${name}: ${summary(ref)}`);
    const w = assertSameDetections(run.found, ref, `${name} page (${entry.layout}) vs Node`);
    t.diagnostic(
      `${name} (${entry.layout}, ${(entry.bytes / 1e6).toFixed(1)} MB): ${summary(run.found)}; worst IoU ${w.worstIou.toFixed(6)}, worst score diff ${w.worstScore.toExponential(1)}`,
    );
    assert.match(run.wrong, /^MODEL_CHECKSUM: .*\/model\.json: checksum mismatch \(expected sha384-eHh4/);
    assert.match(run.malformed, /^INVALID_OPTION: invalid integrity: "md5-abc"/);
  }
});

test('the library: load and call options, detectBatch, and ImageData, ImageBitmap, OffscreenCanvas and VideoFrame inputs detect what Node detects; closed frames are typed errors', async (t) => {
  const dog = jpeg.decode(readFileSync(join(root, 'samples/dog.jpg')), { useTArray: true, formatAsRGBA: true });
  // Load-time options are the defaults of every call; a call's own options override them.
  const defaults = { scoreThreshold: 0.3, classes: ['Dog', 'Car'] };
  const call = { classes: ['Bicycle', 'Car'], maxDetections: 1 };
  const run = await page.evaluate(
    async ({ base64, width, height, defaults, call }) => {
      const bundle = '/browser/mobilessd.js';
      const lib = (await import(bundle)) as typeof import('../src/browser.ts');
      const failure = (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: { code?: string; message: string }) => `${e.code}: ${e.message}`,
        );
      const stages: string[] = [];
      const downloads = new Map<string, number>();
      const detector = await lib.load('oid-v4', {
        ...defaults,
        batchSizes: [4],
        onLoadStage: (s) => stages.push(s),
        onProgress: (p) => downloads.set(p.url.replace(/^.*\/weights\//, ''), p.loadedBytes),
      });
      const data = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      const imageData = new ImageData(new Uint8ClampedArray(data.buffer), width, height);
      const bitmap = await createImageBitmap(imageData);
      const canvas = new OffscreenCanvas(width, height);
      canvas.getContext('2d')!.putImageData(imageData, 0, 0);
      const frame = new VideoFrame(canvas, { timestamp: 0 });
      const kinds = ['ImageData', 'ImageBitmap', 'OffscreenCanvas', 'VideoFrame'];
      // One batch of the four kinds (each is uploaded its own way), then single calls.
      const batch = await detector.detectBatch([imageData, bitmap, canvas, frame]);
      const overridden = await detector.detect(frame, call);
      const invalid = await failure(detector.detect(imageData, { scoreThreshold: 2 }));
      frame.close();
      bitmap.close();
      const closed = {
        frame: await failure(detector.detect(frame)),
        bitmap: await failure(detector.detect(bitmap)),
        inBatch: await failure(detector.detectBatch([imageData, frame])),
      };
      const after = await detector.detect(imageData);
      detector.dispose();
      const badBatch = await failure(lib.load('oid-v4', { batchSizes: [0] }));
      return { kinds, stages, downloads: [...downloads], batch, overridden, invalid, closed, after, badBatch };
    },
    { base64: Buffer.from(dog.data).toString('base64'), width: dog.width, height: dog.height, defaults, call },
  );
  assert.deepEqual(run.stages, ['model', 'device', 'upload', 'compile']);
  const weightsBytes = readFileSync(join(b.oidDir, 'weights.bin')).length;
  assert.deepEqual(
    run.downloads.find(([url]) => url === 'oid-v4/weights.bin'),
    ['oid-v4/weights.bin', weightsBytes],
  );

  const ref = await node.detect(dog, defaults);
  // Below the model's own 0.5, smaller cars come in; the class list leaves the bicycle out.
  assert.ok(ref.length > 2 && ref.every((d) => d.label === 'Dog' || d.label === 'Car'), summary(ref));
  assert.ok(Math.min(...ref.map((d) => d.score)) < 0.5, summary(ref));
  assert.equal(run.batch.length, 4);
  run.batch.forEach((found, i) => assertSameDetections(found, ref, `detectBatch [${i}] (${run.kinds[i]})`));
  assertSameDetections(run.overridden, await node.detect(dog, { ...defaults, ...call }), 'call options');
  assert.deepEqual(
    run.overridden.map((d) => d.label),
    ['Bicycle'],
  );
  assert.match(run.invalid, /^INVALID_OPTION: invalid scoreThreshold: 2/);
  assert.match(run.closed.frame, /^INVALID_INPUT: VideoFrame is closed/);
  assert.match(run.closed.bitmap, /^INVALID_INPUT: ImageBitmap is empty \(0x0\)/);
  assert.match(run.closed.inBatch, /^INVALID_INPUT: VideoFrame is closed/);
  assertSameDetections(run.after, ref, 'detect after the errors');
  assert.match(run.badBatch, /^INVALID_OPTION: invalid batchSizes: 0/);
  t.diagnostic(`page, each input: ${summary(run.batch[0]!)}; Node: ${summary(ref)}`);
});

// The demo's other models come last: the tests above all use the oid-v4 page that the first test opened, and
// would otherwise each need it loaded (downloaded, compiled, run) again after a model switch.
test("the demo's coco model detects what Node's load('coco') detects on the same pixels", async (t) => {
  await page.goto(`${b.server.origin}/?model=coco`);
  const [first] = await results(1);
  const shown = await page.evaluate(() => {
    const c = document.getElementById('picture') as HTMLCanvasElement;
    const bytes = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { base64: btoa(s), width: c.width, height: c.height, model: window.mobilessdDemo.model };
  });
  assert.equal(shown.model, 'coco');
  const ref = await (
    await cocoInNode()
  ).detect({
    data: new Uint8Array(Buffer.from(shown.base64, 'base64')),
    width: shown.width,
    height: shown.height,
  });
  assert.ok(
    ref.some((d) => d.label === 'bicycle'),
    summary(ref),
  );
  const w = assertSameDetections(first!.detections, ref, 'page coco vs Node');
  t.diagnostic(
    `page: ${summary(first!.detections)}; worst IoU ${w.worstIou.toFixed(6)}, worst score diff ${w.worstScore.toExponential(1)}`,
  );
});

test("the demo's blazeface model finds the astronaut's face and keypoints where Node's load('blazeface') does", async (t) => {
  await page.goto(`${b.server.origin}/?model=blazeface&image=astronaut.jpg`);
  const [first] = await results(1);
  const shown = await page.evaluate(() => {
    const c = document.getElementById('picture') as HTMLCanvasElement;
    const bytes = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { base64: btoa(s), width: c.width, height: c.height, model: window.mobilessdDemo.model };
  });
  assert.equal(shown.model, 'blazeface');
  const face = await load('blazeface');
  try {
    const ref = await face.detect({
      data: new Uint8Array(Buffer.from(shown.base64, 'base64')),
      width: shown.width,
      height: shown.height,
    });
    assert.equal(ref.length, 1, summary(ref));
    assertSameDetections(first!.detections, ref, 'page blazeface vs Node');
    // Keypoints travel with the detections: the same names, within a pixel (SwiftShader vs lavapipe float rounding).
    const [got, want] = [first!.detections[0]!.keypoints!, ref[0]!.keypoints!];
    assert.deepEqual(
      got.map((k) => k.name),
      want.map((k) => k.name),
    );
    const worst = Math.max(...got.map((k, i) => Math.hypot(k.x - want[i]!.x, k.y - want[i]!.y)));
    assert.ok(worst < 1, `keypoints differ by ${worst} pixels`);
    t.diagnostic(`page: ${summary(first!.detections)}; worst keypoint distance ${worst.toFixed(4)} px`);
  } finally {
    face.dispose();
  }
  await page.screenshot({ path: join(artifacts, 'demo-blazeface.png') });
});
