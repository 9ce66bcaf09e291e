/**
 * Hostile and careless inputs to the CLI (issue 18): special files and huge files, decode bombs, truncated
 * scans, unreadable folders, file-system errors, bad output paths and usage errors. Every case ends in a
 * typed error that names the path and says what to do, quickly, and the good input beside it is still
 * processed and written. Each child runs under a watchdog (spawnSync's timeout): a hang fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readCoco } from '../src/eval/datasets/coco.ts';
import { readImageFile } from '../src/image/decode.ts';
import { encodePng } from '../src/image/encode_png.ts';
import { sharedPath } from '../scripts/shared_data.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const cliJs = join(root, '.build/test/support/cli_main.js');
const work = mkdtempSync(join(tmpdir(), 'mobilessd-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));
const CAT = join(root, 'samples/cat.jpg');

/** Runs the CLI; a child still running after the watchdog is killed, and the test fails on it. */
function cli(args: string[], o: { uid?: number; input?: Buffer } = {}) {
  const r = spawnSync(process.execPath, [cliJs, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
    ...(o.input ? { input: o.input } : {}),
    ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid, env: { ...process.env, ...unprivilegedCache(o.uid) } } : {}),
  });
  assert.equal(r.signal, null, `the CLI was killed by ${r.signal} (hung?): ${args.join(' ')}\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Mesa's shader cache lives under $HOME, which the unprivileged user cannot write: without one lavapipe
 * compiles every pipeline again (tens of seconds a run). One shared, writable cache keeps those runs fast.
 * A new one starts as a copy of this user's own cache, which the CLI runs above filled with the same pipelines:
 * otherwise the first unprivileged run still compiled them all (measured 99 s against 13 s on two busy cores).
 */
function unprivilegedCache(uid: number): Record<string, string> {
  const dir = join(root, '.build', 'unprivileged', 'mesa-shader-cache');
  mkdirSync(dir, { recursive: true });
  for (const d of [join(root, '.build'), join(root, '.build', 'unprivileged')]) chmodSync(d, 0o755);
  chmodSync(dir, 0o777);
  const db = join(dir, 'mesa_shader_cache_db');
  const env = process.env;
  const own = join(
    env.MESA_SHADER_CACHE_DIR ?? env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
    'mesa_shader_cache_db',
  );
  if (!existsSync(db) && existsSync(own)) {
    cpSync(own, db, { recursive: true });
    const chown = spawnSync('chown', ['-R', `${uid}:${uid}`, db], { encoding: 'utf8' });
    assert.equal(chown.status, 0, `chown of the copied shader cache: ${chown.stderr}`);
  }
  return { MESA_SHADER_CACHE_DIR: dir, XDG_CACHE_HOME: dir };
}

/** The stderr line naming `path`, which must match `why`. */
function lineFor(stderr: string, path: string, why: RegExp): string {
  const line = stderr.split('\n').find((l) => l.includes(path));
  assert.ok(line, `stderr does not name ${path}:\n${stderr}`);
  assert.match(line, why);
  return line;
}

function readJson(file: string) {
  return JSON.parse(readFileSync(file, 'utf8')) as {
    complete: boolean;
    images: { file: string; detections?: { label: string }[]; error?: { code: string; message: string } }[];
  };
}

/** A sparse file of `bytes` bytes: huge on paper, no disk used. */
function sparse(path: string, bytes: number): string {
  const fd = openSync(path, 'w');
  try {
    writeFileSync(fd, Buffer.from([0xff, 0xd8, 0xff]));
  } finally {
    closeSync(fd);
  }
  spawnSync('truncate', ['-s', String(bytes), path]);
  return path;
}

test('case 1: /dev/zero, a FIFO and a 20 GB file are refused before reading; the good image is still processed', () => {
  const fifo = join(work, 'pipe.jpg');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const huge = sparse(join(work, 'huge.jpg'), 20 * 2 ** 30);
  const json = join(work, 'case1.json');
  const r = cli(['detect', '/dev/zero', fifo, huge, CAT, '--json', json, '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, '/dev/zero', /character device, not a regular image file/);
  lineFor(r.stderr, fifo, /FIFO \(named pipe\), not a regular image file/);
  lineFor(r.stderr, huge, /is 20 GiB, more than the 778\.9 MiB limit for an image file/);
  const doc = readJson(json);
  assert.equal(doc.complete, true);
  assert.deepEqual(
    doc.images.map((i) => i.file),
    ['/dev/zero', fifo, huge, CAT],
  );
  assert.deepEqual(
    doc.images.slice(0, 3).map((i) => i.error?.code),
    ['INVALID_INPUT', 'INVALID_INPUT', 'INVALID_INPUT'],
  );
  assert.ok(doc.images[3]!.detections!.some((d) => d.label === 'Cat'));
});

test('case 1: a model path that is /dev/zero, a FIFO or a huge file is a typed error, not an endless read', () => {
  const fifo = join(work, 'model.tflite');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  const huge = sparse(join(work, 'huge.tflite'), 8 * 2 ** 30);
  for (const [model, why] of [
    ['/dev/zero', /\/dev\/zero: is a character device, not a regular model file/],
    [fifo, /model\.tflite: is a FIFO \(named pipe\), not a regular model file/],
    [huge, /huge\.tflite: is 8 GiB, more than the 1 GiB limit for a model file/],
  ] as const) {
    const r = cli(['detect', '--model', model, CAT]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /error \[FILE_ACCESS\]/);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /hint: /);
  }
});

/** `src` with its frame header (SOF) rewritten to declare width x height. */
function patchJpegSize(src: string, width: number, height: number): Buffer {
  const b = Buffer.from(readFileSync(src));
  for (let i = 2; i + 9 < b.length; i += 2 + b.readUInt16BE(i + 2)) {
    if (b[i + 1]! >= 0xc0 && b[i + 1]! <= 0xc2) {
      b.writeUInt16BE(height, i + 5);
      b.writeUInt16BE(width, i + 7);
      return b;
    }
  }
  throw new Error(`${src}: no frame header`);
}

test('cases 2 and 3: a JPEG whose scan data ends far short of its header is a truncation error, found before decoding', () => {
  const patched = join(work, 'dog-16384x6100.jpg');
  writeFileSync(patched, patchJpegSize(join(root, 'samples/dog.jpg'), 16384, 6100));
  // Small images too: the astronaut's scans cannot fill 4x its size.
  const doubled = join(work, 'astronaut-4x.jpg');
  writeFileSync(doubled, patchJpegSize(join(root, 'samples/astronaut.jpg'), 2048, 2048));
  const json = join(work, 'case3.json');
  const r = cli(['detect', patched, doubled, CAT, '--json', json, '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, patched, /truncated JPEG: scan 1 holds \d+ bytes of image data, but the 16384x6100 image/);
  lineFor(r.stderr, doubled, /truncated JPEG: the image data ends .* before the 2048x2048 pixels its header declares/);
  assert.match(r.stderr, /hint: the file is incomplete: copy or download it again/);
  const doc = readJson(json);
  assert.deepEqual(
    doc.images.map((i) => i.error?.code),
    ['IMAGE_DECODE', 'IMAGE_DECODE', undefined],
  );
  assert.ok(doc.images[2]!.detections!.some((d) => d.label === 'Cat'));
});

test('case 2: the pixel limit refuses an image from its header before decoding; --max-pixels sets it', () => {
  const json = join(work, 'case2.json');
  const r = cli(['detect', CAT, join(root, 'samples/dog.jpg'), '--max-pixels', '300000', '--json', json, '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  // cat.jpg is 451x300 = 135300 pixels, dog.jpg 768x576 = 442368.
  lineFor(r.stderr, 'dog.jpg', /image of 768x576 is too large \(the limit is 300000 pixels\)/);
  assert.match(r.stderr, /hint: downscale the image, or raise the limit .*--max-pixels N/);
  const doc = readJson(json);
  assert.equal(doc.images[1]!.error?.code, 'IMAGE_TOO_LARGE');
  assert.ok(doc.images[0]!.detections!.some((d) => d.label === 'Cat'));
  for (const bad of ['0', '-5', '1.5']) {
    const u = cli(['detect', CAT, '--max-pixels', bad]);
    assert.equal(u.code, 2, u.stderr);
    assert.match(u.stderr, /--max-pixels must be a positive integer/);
  }
});

test('case 3: PNGs cut short or whose data cannot fill their header are typed errors; the good image is processed', async () => {
  // The cat as a PNG, made in process by the encoder the CLI writes its annotated images with (a CLI run that
  // annotated it cost a process and a model load for nothing the case checks).
  const png = Buffer.from(encodePng(await readImageFile(CAT)));
  const cut = join(work, 'cut.png');
  writeFileSync(cut, png.subarray(0, png.length >> 1));
  // IHDR patched to 16384x6100 (CRC fixed): the IDAT of a 451x300 image cannot fill it.
  const grown = Buffer.from(png);
  grown.writeUInt32BE(16384, 16);
  grown.writeUInt32BE(6100, 20);
  grown.writeUInt32BE(crc32(grown.subarray(12, 29)), 29);
  const big = join(work, 'grown.png');
  writeFileSync(big, grown);
  const r = cli(['detect', cut, big, CAT, '--quiet', '--json', join(work, 'case3png.json')]);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, cut, /truncated PNG/);
  lineFor(r.stderr, big, /corrupt PNG: its image data inflates to \d+ bytes, but a 16384x6100 image needs \d+/);
  const doc = readJson(join(work, 'case3png.json'));
  assert.deepEqual(
    doc.images.map((i) => i.error?.code),
    ['IMAGE_DECODE', 'IMAGE_DECODE', undefined],
  );
});

function crc32(buf: Uint8Array): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/** Root lists every folder, so permission cases run the CLI as an unprivileged user ("nobody") when root. */
const asUser = process.getuid?.() === 0 ? { uid: 65534 } : {};

test('case 4: an unreadable folder, also met by a ** glob, is reported and skipped; the readable images are processed', () => {
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'open'), { recursive: true });
  mkdirSync(join(tree, 'locked'), { recursive: true });
  copyFileSync(CAT, join(tree, 'open', 'cat.jpg'));
  copyFileSync(CAT, join(tree, 'locked', 'hidden.jpg'));
  chmodSync(work, 0o755);
  chmodSync(tree, 0o755);
  chmodSync(join(tree, 'open'), 0o755);
  chmodSync(join(tree, 'open', 'cat.jpg'), 0o644);
  chmodSync(join(tree, 'locked'), 0o000);
  const out = join(work, 'case4-out');
  mkdirSync(out);
  chmodSync(out, 0o777);
  const json = join(out, 'case4.json');
  const locked = join(tree, 'locked');
  for (const args of [[locked, join(tree, 'open')], [join(tree, '**', '*.jpg')]]) {
    const r = cli(['detect', ...args, '--json', json, '--quiet'], asUser);
    assert.equal(r.code, 1, r.stderr);
    lineFor(r.stderr, locked, /permission denied \(skipped; check that this user may list it/);
    assert.doesNotMatch(r.stderr, /unexpected error/);
    const doc = readJson(json);
    assert.equal(doc.complete, true);
    assert.deepEqual(
      doc.images.map((i) => [i.file, i.error?.code]),
      [
        [locked, 'INVALID_INPUT'],
        [join(tree, 'open', 'cat.jpg'), undefined],
      ],
    );
    assert.ok(doc.images[1]!.detections!.some((d) => d.label === 'Cat'));
  }
});

test('case 4: an unreadable image file is reported with the fix; the readable one beside it is processed', () => {
  const dir = join(work, 'files');
  mkdirSync(dir, { recursive: true });
  const locked = join(dir, 'locked.jpg');
  copyFileSync(CAT, locked);
  chmodSync(work, 0o755);
  chmodSync(dir, 0o755);
  chmodSync(locked, 0o000);
  const r = cli(['detect', locked, CAT, '--quiet'], asUser);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, locked, /locked\.jpg: permission denied/);
  assert.match(r.stderr, /hint: check that this user may read it/);
  assert.match(r.stderr, /1 of 2 input\(s\) failed, 1 processed/);
});

test('case 9: a URL argument says that only local files are read', () => {
  const r = cli(['detect', 'http://example.com/cat.jpg', CAT, '--quiet']);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, 'http://example.com/cat.jpg', /is a URL; mobilessd reads local files only: download it first/);
});

test('case 5: model files that are folders, unreadable or escape their folder are typed errors with a hint', () => {
  const model = join(root, 'weights/oid-v4/model.json');
  assert.ok(readFileSync(model).length > 0, 'the oid-v4 cache exists after the first CLI run');
  const doc = JSON.parse(readFileSync(model, 'utf8')) as { weights: { file: string } };
  const withWeights = (name: string, file: string) => {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...doc, weights: { ...doc.weights, file } }));
    return dir;
  };
  const folder = withWeights('weights-is-folder', 'weights.bin');
  mkdirSync(join(folder, 'weights.bin'));
  const r1 = cli(['detect', '--model', folder, CAT]);
  assert.equal(r1.code, 1, r1.stderr);
  assert.match(r1.stderr, /error \[FILE_ACCESS\]: .*weights\.bin: is a directory, not a regular model file/);
  assert.match(r1.stderr, /hint: name the model file itself, not a directory/);
  for (const escape of ['../../../../etc/passwd', '/etc/passwd']) {
    const r = cli(['detect', '--model', withWeights('escape', escape), CAT]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /error \[MODEL_FORMAT\]: .*weights\.file ".*" is not a plain file name inside the model folder/,
    );
  }
  const locked = join(work, 'locked.tflite');
  writeFileSync(locked, readFileSync(join(root, 'weights/oid-v4/model.json')));
  chmodSync(work, 0o755);
  chmodSync(locked, 0o000);
  const r2 = cli(['detect', '--model', locked, CAT], asUser);
  assert.equal(r2.code, 1, r2.stderr);
  assert.match(
    r2.stderr,
    /error \[FILE_ACCESS\]: .*locked\.tflite: permission denied\n {2}hint: check that this user may read it/,
  );
});

test('case 5: output paths are checked before any work: --json a folder, --out a file, video -o a folder', () => {
  const folder = join(work, 'a-folder');
  mkdirSync(folder, { recursive: true });
  const file = join(work, 'a-file');
  writeFileSync(file, 'x');
  const cases: [string[], RegExp][] = [
    [['detect', CAT, '--json', folder], /a-folder: --json names an existing directory\n {2}hint: give a file path/],
    [['detect', CAT, '--out', file], /a-file: --out names an existing file, not a folder/],
    [['detect', CAT, '--json', join(work, 'nowhere', 'r.json')], /the folder of --json does not exist/],
    [['video', CAT, '-o', folder], /a-folder: -o\/--output names an existing directory/],
    [['eval', 'samples', '--json', folder], /a-folder: --json names an existing directory/],
  ];
  for (const [args, why] of cases) {
    const r = cli(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /error \[FILE_ACCESS\]/);
    assert.match(r.stderr, why);
    assert.equal(r.stdout, '', 'nothing ran');
  }
  // A folder this user cannot write into.
  const readOnly = join(work, 'read-only');
  mkdirSync(readOnly);
  chmodSync(work, 0o755);
  chmodSync(readOnly, 0o555);
  const r = cli(['detect', CAT, '--json', join(readOnly, 'r.json')], asUser);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /--json: cannot write into .*read-only: permission denied/);
  assert.equal(r.stdout, '');
});

test('case 7 and 9: invalid enums, empty lists and an input size below the network stride are usage errors (exit 2)', () => {
  const cases: [string[], RegExp][] = [
    [
      ['detect', CAT, '--driver', 'banana'],
      /--driver must be one of auto, hardware, lavapipe, swiftshader, got "banana"/,
    ],
    [['video', CAT, '-o', join(work, 'v.mp4'), '--driver', 'x'], /--driver must be one of auto, hardware/],
    [['eval', 'samples', '--metric', 'f1'], /--metric must be one of voc, coco, all, got "f1"/],
    [['detect', CAT, '--classes', ',,,'], /--classes needs at least one value \(A,B\), got ",,,"/],
    [
      ['detect', CAT, '--input-size', '7'],
      /invalid inputSize: \[7,7\] \(expected at least 16 pixels per side for oid-v4/,
    ],
    [['detect', CAT, '--input-size', '300x9'], /invalid inputSize: \[300,9\] \(expected at least 16 pixels per side/],
  ];
  for (const [args, why] of cases) {
    const r = cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.doesNotMatch(r.stderr, /Vulkan|unexpected error/);
  }
  // The minimum itself runs.
  assert.equal(cli(['detect', CAT, '--input-size', '16', '--quiet']).code, 0);
});

test('case 8: the table marks failed inputs in one narrow row, each error is printed once, below it, and counted right', () => {
  const bad = join(work, 'not-an-image.jpg');
  writeFileSync(bad, 'hello\n'.repeat(50));
  const r = cli(['detect', bad, CAT]);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  const width = lines[0]!.length;
  assert.ok(
    lines.every((l) => l.length <= width + 40),
    `a row is much wider than the header:\n${r.stdout}`,
  );
  assert.match(r.stdout, /not-an-image\.jpg\s+error: IMAGE_DECODE\s*\n/);
  assert.match(r.stdout, /cat\.jpg\s+Cat\s+0\.\d{3}/);
  assert.equal(r.stderr.split('it is a text file').length - 1, 1, `printed once:\n${r.stderr}`);
  assert.match(r.stderr, /1 of 2 input\(s\) failed, 1 processed/);
  const none = cli(['detect', bad, '--json', join(work, 'none.json')]);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /all 1 input\(s\) failed; .*none\.json lists them/);
  assert.doesNotMatch(none.stderr, /the others'|processed/);
});

test('case 10: eval skips a malformed annotation file with a warning and scores the rest; --strict stops at it', () => {
  const voc = sharedPath(root, 'datasets/voc2012-100');
  const data = join(work, 'voc-mini');
  mkdirSync(join(data, 'Annotations'), { recursive: true });
  mkdirSync(join(data, 'JPEGImages'), { recursive: true });
  const ids = ['2007_000027', '2007_000032', '2007_000033'];
  for (const id of ids) {
    copyFileSync(join(voc, 'Annotations', `${id}.xml`), join(data, 'Annotations', `${id}.xml`));
    copyFileSync(join(voc, 'JPEGImages', `${id}.jpg`), join(data, 'JPEGImages', `${id}.jpg`));
  }
  const broken = join(data, 'Annotations', `${ids[1]}.xml`);
  writeFileSync(broken, '<annotation><object><name>dog</name></object'); // cut short
  const r = cli(['eval', data, '--quiet', '--json', join(work, 'voc-mini.json')]);
  assert.equal(r.code, 1, r.stderr);
  lineFor(r.stderr, broken, /warning: .*skipped \(.*\); --strict stops instead/);
  const doc = JSON.parse(readFileSync(join(work, 'voc-mini.json'), 'utf8')) as { result: unknown };
  assert.ok(doc.result, 'the evaluation of the other images was written');
  assert.match(r.stdout, /mAP/);
  const strict = cli(['eval', data, '--quiet', '--strict']);
  assert.equal(strict.code, 1, strict.stderr);
  assert.match(strict.stderr, /error \[DATASET_FORMAT\]: .*2007_000032\.xml/);
  assert.doesNotMatch(strict.stdout, /mAP/);
});

test('case 9: a COCO file_name that leaves the images folder is never opened: skipped with a warning, or an error with strict', async () => {
  const dir = join(work, 'coco');
  mkdirSync(join(dir, 'images'), { recursive: true });
  copyFileSync(CAT, join(dir, 'images', 'cat.jpg'));
  const json = join(dir, 'instances.json');
  writeFileSync(
    json,
    JSON.stringify({
      images: [
        { id: 1, file_name: 'cat.jpg', width: 451, height: 300 },
        { id: 2, file_name: '../../../../../../etc/passwd', width: 10, height: 10 },
        { id: 3, file_name: '/etc/passwd', width: 10, height: 10 },
      ],
      annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [3, 1, 420, 299] }],
      categories: [{ id: 1, name: 'cat' }],
    }),
  );
  const d = await readCoco(json, { imagesDir: join(dir, 'images') });
  assert.deepEqual(
    d.images.map((i) => i.id),
    ['1'],
  );
  const skipped = d.warnings.filter((w) => w.skippedFile);
  assert.equal(skipped.length, 2);
  assert.match(skipped[0]!.reason, /image id 2: file_name "..\/..\/.*etc\/passwd" leaves .*images/);
  await assert.rejects(
    readCoco(json, { imagesDir: join(dir, 'images'), strict: true }),
    /image id 2: file_name .* leaves/,
  );
});

test('case 9: a truncated MP4 is processed as far as it goes, with a note that the input ended early', () => {
  const clip = join(work, 'clip.mp4');
  const made = spawnSync('ffmpeg', [
    ...['-hide_banner', '-nostdin', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=96x64:rate=3', '-t', '2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', clip],
  ]);
  assert.equal(made.status, 0, String(made.stderr));
  const whole = readFileSync(clip);
  const cut = join(work, 'cut.mp4');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const out = join(work, 'cut.out.mp4');
  const r = cli(['video', cut, '-o', out, '--quiet']);
  assert.equal(r.code, 0, r.stderr);
  const m = /note: .*cut\.mp4: the input ended early: (\d+) of the 6 frames its container lists were decoded/.exec(
    r.stderr,
  );
  assert.ok(m, r.stderr);
  assert.ok(Number(m[1]) >= 1 && Number(m[1]) < 6, m[0]);
  assert.match(r.stdout, new RegExp(`cut\\.out\\.mp4: ${m[1]} frames`));
  const full = cli(['video', clip, '-o', join(work, 'clip.out.mp4'), '--quiet']);
  assert.equal(full.code, 0, full.stderr);
  assert.doesNotMatch(full.stderr, /ended early/);
});

test('case 1: "-" reads an image from stdin under the same cap as a file', () => {
  const json = join(work, 'stdin.json');
  const r = cli(['detect', '-', '--json', json, '--quiet'], { input: readFileSync(CAT) });
  assert.equal(r.code, 0, r.stderr);
  const doc = readJson(json);
  assert.equal(doc.images[0]!.file, '-');
  assert.ok(doc.images[0]!.detections!.some((d) => d.label === 'Cat'));
  // --max-pixels 1000 caps an image file at 8000 bytes + 16 MiB; 17 MiB of zeros are refused while streaming.
  const big = cli(['detect', '-', '--max-pixels', '1000', '--quiet'], { input: Buffer.alloc(17 * 2 ** 20) });
  assert.equal(big.code, 1, big.stderr);
  assert.match(big.stderr, /stdin: holds more than the 16 MiB limit for an image file/);
});
