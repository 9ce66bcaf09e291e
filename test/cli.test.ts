/** The mobilessd CLI end to end: a real photo, JSON and annotated PNG outputs, every bad-input case. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import { classColor } from '../src/image/draw.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { IMAGE, ssdTflite } from './support/op_model.ts';
import { fb } from './support/tflite_writer.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-cli-'));
after(() => rmSync(work, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [cliJs, ...args], { cwd: root, encoding: 'utf8', timeout: 180_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** A PNG whose IHDR declares width x height, with no pixel data after it. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const chunk = Buffer.concat([Buffer.from('IHDR'), ihdr]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(13);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(chunk));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), len, chunk, crc]);
}

test('detect on a real photo: table, JSON and an annotated PNG with box pixels', () => {
  const json = join(work, 'dog.json');
  const png = join(work, 'dog.png');
  const r = cli('detect', 'samples/dog.jpg', '--json', json, '--out', png);
  assert.equal(r.code, 0, r.stderr);
  for (const l of ['Dog', 'Bicycle', 'Car'])
    assert.match(r.stdout, new RegExp(`samples/dog.jpg\\s+${l}\\s+0\\.\\d{3}`));
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(doc.model, 'oid-v4');
  const dets = doc.images[0].detections as {
    label: string;
    classId: number;
    score: number;
    box: { x: number; y: number; width: number; height: number };
  }[];
  assert.deepEqual(
    dets.map((d) => d.label),
    ['Dog', 'Bicycle', 'Car'],
  );
  assert.deepEqual([doc.images[0].width, doc.images[0].height], [768, 576]);
  const img = PNG.sync.read(readFileSync(png));
  assert.deepEqual([img.width, img.height], [768, 576]);
  for (const d of dets) {
    // The left edge of each box, halfway down, carries the class colour.
    const [r0, g0, b0] = classColor(d.classId);
    const x = Math.round(d.box.x),
      y = Math.round(d.box.y + d.box.height / 2);
    let hit = false;
    for (let dx = -2; dx <= 2 && !hit; dx++) {
      const i = (y * img.width + x + dx) * 4;
      hit = img.data[i] === r0 && img.data[i + 1] === g0 && img.data[i + 2] === b0;
    }
    assert.ok(hit, `${d.label}: no box pixel at (${x}, ${y})`);
  }
});

test('bad inputs: each is named with its problem, the good image is still processed and written, exit code 1', () => {
  const dir = join(work, 'bad');
  const out = join(work, 'annotated');
  rmSync(dir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', dir]);
  const cases: [string, Buffer | string, RegExp][] = [
    ['truncated.jpg', readFileSync(join(root, 'samples/dog.jpg')).subarray(0, 4000), /truncated|corrupt|end/i],
    ['empty.png', Buffer.alloc(0), /empty/i],
    ['notes.jpg', 'not an image at all\n', /not a JPEG or PNG|unknown|not an image/i],
    ['huge.png', pngHeaderOnly(20000, 20000), /too large/i],
    ['zero.png', pngHeaderOnly(0, 10), /zero|invalid|size/i],
  ];
  for (const [name, data] of cases) writeFileSync(join(dir, name), data);
  const json = join(work, 'mixed.json');
  const files = cases.map(([n]) => join(dir, n));
  const r = cli(
    'detect',
    join(root, 'samples/dog.jpg'),
    ...files,
    join(dir, 'missing.jpg'),
    '--json',
    json,
    '--out',
    out,
    '--quiet',
  );
  assert.equal(r.code, 1, r.stderr);
  for (const [name, , why] of cases) {
    const line = r.stderr.split('\n').find((l) => l.includes(name));
    assert.ok(line, `stderr does not name ${name}:\n${r.stderr}`);
    assert.match(line, why, `${name}: ${line}`);
  }
  assert.match(r.stderr, /missing\.jpg.*(no such file|not found|does not exist)/i);
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  const good = doc.images.find((i: { file: string }) => i.file.endsWith('dog.jpg'));
  assert.equal(good.detections.length, 3);
  assert.equal(doc.images.filter((i: { error?: unknown }) => i.error).length, cases.length + 1);
  assert.deepEqual(readdirSync(out), ['dog.png']);
});

/** Starts the CLI without waiting; resolves with its exit (code or signal) and output. */
function cliAsync(...args: string[]) {
  const child = spawn(process.execPath, [cliJs, ...args], { cwd: root });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  child.stdout.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stderr })),
  );
  return { child, exit };
}

async function until(what: string, ok: () => boolean, ms = 120_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); await new Promise((r) => setTimeout(r, 10)))
    if (Date.now() - t0 > ms) assert.fail(`timed out waiting for ${what}`);
}

const SAMPLES = ['dog', 'cat', 'coffee', 'astronaut'].map((n) => join(root, `samples/${n}.jpg`));

test('an output folder that becomes unwritable midway loses no detections: the JSON has every image, later PNGs are reported', async () => {
  const out = join(work, 'vanishing');
  const json = join(work, 'vanishing.json');
  const run = cliAsync('detect', ...SAMPLES, '--out', out, '--json', json, '--quiet');
  await until('the first annotated image', () => existsSync(join(out, 'dog.png')));
  // Even root cannot write into a folder that has become a file.
  rmSync(out, { recursive: true, force: true });
  writeFileSync(out, 'not a folder any more');
  const r = await run.exit;
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot write the annotated image/);
  const doc = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(doc.complete, true);
  assert.deepEqual(
    doc.images.map((i: { file: string }) => i.file),
    SAMPLES,
  );
  assert.equal(doc.images[0].error, undefined);
  assert.ok(
    doc.images.every((i: { detections?: unknown[] }) => Array.isArray(i.detections) && i.detections.length > 0),
    'every image keeps its detections',
  );
  assert.ok(doc.images.slice(1).some((i: { error?: { code: string } }) => i.error?.code === 'OUTPUT'));
  assert.deepEqual(
    readdirSync(work).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left behind',
  );
});

test('a run stopped midway keeps the results so far: saved every 2 s, and on Ctrl-C', async () => {
  const voc = sharedPath(root, 'datasets/voc2012-100/JPEGImages');
  const inputs = readdirSync(voc)
    .sort()
    .slice(0, 12)
    .map((f) => join(voc, f));
  for (const signal of ['SIGKILL', 'SIGINT'] as const) {
    const json = join(work, `stopped-${signal}.json`);
    const run = cliAsync('detect', ...inputs, '--json', json, '--quiet');
    await until('the first saved results', () => existsSync(json));
    run.child.kill(signal);
    const r = await run.exit;
    const doc = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(doc.complete, false, signal);
    assert.ok(
      doc.images.length >= 1 && doc.images.length < inputs.length,
      `${signal}: ${doc.images.length} images saved`,
    );
    assert.deepEqual(
      doc.images.map((i: { file: string }) => i.file),
      inputs.slice(0, doc.images.length),
      'in input order',
    );
    assert.ok(
      doc.images.every((i: { detections?: unknown[] }) => Array.isArray(i.detections)),
      signal,
    );
    if (signal === 'SIGINT') {
      assert.equal(r.code, 130, r.stderr);
      assert.match(r.stderr, /interrupted after \d+ of 12 input\(s\); their results are in/);
    } else assert.equal(r.signal, 'SIGKILL');
  }
});

test('a folder input runs every image in it', () => {
  const r = cli('detect', 'samples', '--quiet', '--json', join(work, 'samples.json'));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(work, 'samples.json'), 'utf8'));
  const names = doc.images.map((i: { file: string }) => i.file.split('/').pop());
  assert.ok(names.includes('dog.jpg') && names.includes('cat.jpg'), names.join(','));
  const cat = doc.images.find((i: { file: string }) => i.file.endsWith('cat.jpg'));
  assert.ok(
    cat.detections.some((d: { label: string }) => d.label === 'Cat'),
    'the cat sample shows a cat',
  );
});

test('a quoted glob pattern is expanded by detect itself', () => {
  const r = cli('detect', 'samples/*.jpg', '--quiet', '--json', join(work, 'glob.json'));
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(readFileSync(join(work, 'glob.json'), 'utf8'));
  const want = readdirSync(join(root, 'samples'))
    .filter((f) => f.endsWith('.jpg'))
    .sort();
  assert.deepEqual(
    doc.images.map((i: { file: string }) => i.file.split('/').pop()),
    want,
  );
});

test('option errors: unknown class, NaN and out-of-range numbers exit 2 with a message naming the option', () => {
  const unknown = cli('detect', 'samples/dog.jpg', '--classes', 'unicorn');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unicorn/);
  assert.match(unknown.stderr, /Bicycle/);
  const nan = cli('detect', 'samples/dog.jpg', '--score', 'NaN');
  assert.equal(nan.code, 2);
  assert.match(nan.stderr, /--score/);
  const neg = cli('detect', 'samples/dog.jpg', '--iou', '-0.5');
  assert.equal(neg.code, 2);
  assert.match(neg.stderr, /iouThreshold/);
  const max = cli('detect', 'samples/dog.jpg', '--max', '0');
  assert.equal(max.code, 2);
  const flag = cli('detect', 'samples/dog.jpg', '--bogus');
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /unknown option --bogus/);
  assert.equal(cli('detect').code, 2);
});

test('a missing model exits 1 and lists the bundled models', () => {
  const r = cli('detect', 'samples/dog.jpg', '--model', 'no-such-model');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /model not found: no-such-model/);
  assert.match(r.stderr, /oid-v4/);
});

test('--help for every command, and an unknown command exits 2', () => {
  for (const c of ['detect', 'video', 'models', 'info']) {
    const r = cli(c, '--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, new RegExp(`usage: mobilessd ${c}`));
  }
  const top = cli('--help');
  assert.equal(top.code, 0);
  assert.match(top.stdout, /commands:/);
  const bad = cli('frobnicate');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown command "frobnicate"/);
});

test('models lists the bundled models; info shows the adapter and the per-layer-type table', () => {
  const m = cli('models');
  assert.equal(m.code, 0, m.stderr);
  assert.match(m.stdout, /oid-v4 \(default\)\s+300x300\s+23\s+4\.95\s+672\.99/);
  assert.match(m.stdout, /face\s+512x512\s+1\s/);
  const i = cli('info');
  assert.equal(i.code, 0, i.stderr);
  assert.match(i.stdout, /adapter: (lavapipe|swiftshader|hardware): /);
  assert.match(i.stdout, /conv 1x1 \(pointwise\)\s+50\s+582\.\d+/);
  // The kernel per layer (GEMMs with their workgroup size) and the dispatches of one frame.
  assert.match(i.stdout, /kernels per layer \(tune off: GEMMs from the measured table\)/);
  assert.match(i.stdout, /expanded_conv_1\/expand\/Relu6\s+pointwise\s+(blocked|unrolled|subgroup)\d+x\d+\s+\d+\n/);
  assert.match(i.stdout, /expanded_conv_1\/depthwise\/Relu6\s+depthwise\s+\w+\s+-\n/);
  assert.match(i.stdout, /dispatches per frame: (\d+) \(preprocess 1, network \d+, SSD head \d+\), one submit/);
  // Whether subgroups are in use: on lavapipe (8 lanes) the table's GEMMs for layers over 64 rows, not the head.
  assert.match(i.stdout, /subgroups: (offered \(sizes \d+\.\.\d+\); in use: .+|not offered by this device.+)\n/);
  if (/adapter: lavapipe/.test(i.stdout))
    assert.match(i.stdout, /subgroups: offered \(sizes 8\.\.8\); in use: \d+ of 50 1x1-convolution GEMMs\n/);
  // 'auto' keeps a float model in f32 on a software adapter; --precision f16 runs it in f16 where shader-f16 is.
  if (!/adapter: hardware/.test(i.stdout))
    assert.match(i.stdout, /\nprecision: f32 \(float32 weights and activations\)\n/);
  if (/features: .*shader-f16/.test(i.stdout)) {
    const h = cli('info', '--precision', 'f16');
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /\nprecision: f16 \(float16 weights and activations, float32 sums \(shader-f16\)\)\n/);
  }
  assert.ok(existsSync(cliJs));
});

test('info on a .tflite lists its operators; one mobilessd lacks is named with its index and the supported list', () => {
  const pool = { type: 5, fields: [fb.i8(1), fb.i32(1), fb.i32(1), fb.i32(13), fb.i32(6), fb.i8(0)] };
  const file = (builtin: string) =>
    ssdTflite({
      builtins: [builtin],
      tensors: [IMAGE, { shape: [1, 11, 4, 3], name: 'pool' }],
      operators: [{ opcode: 0, inputs: [0], outputs: [1], options: pool }],
    });
  const good = join(work, 'pool.tflite');
  writeFileSync(good, file('MAX_POOL_2D'));
  const ok = cli('info', '--model', good);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /MAX_POOL_2D\s+1\s+yes\s+0/);
  assert.match(ok.stdout, /RESHAPE\s+2\s+yes\s+1/);
  assert.match(ok.stdout, /model pool/);
  const bad = join(work, 'l2.tflite');
  writeFileSync(bad, file('L2_POOL_2D'));
  const no = cli('info', '--model', bad);
  assert.equal(no.code, 1);
  assert.match(no.stdout, /L2_POOL_2D\s+1\s+MISSING\s+0/);
  assert.match(no.stderr, /L2_POOL_2D \(operator 0\)\. Supported: .*HARD_SWISH.*RESIZE_BILINEAR/);
});
