/**
 * Our JPEG decoder (src/image/jpeg_pixels.ts) against jpeg-js as the oracle: the engine's parity figures were
 * measured on jpeg-js's pixels, so the RGBA must be identical, byte for byte. Cases: every JPEG in samples/ and
 * in the shared datasets, the fixtures of scripts/make-jpeg-fixtures.sh (progressive with successive
 * approximation, restart intervals, every chroma subsampling, grey, RGB, 16-bit tables, several-scan
 * sequential), jpeg-js's own encoder at odd sizes, and hand-written greyscale/RGB/CMYK/YCCK files.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { decodeImage } from '../src/image/decode.ts';
import { readJpegStructure, JpegStructureProblem } from '../src/image/jpeg_structure.ts';
import { ImageDecodeError } from '../src/errors.ts';
import { sharedPath } from '../scripts/shared_data.ts';
import { adobeSegment, writeJpeg } from './support/jpeg_writer.ts';

const root = process.env.MOBILESSD_ROOT ?? process.cwd();
const FIXTURES = join(root, 'test/fixtures/jpeg');

/** jpeg-js's RGBA, with the colour transform decode.ts used to pass it (and no EXIF rotation). */
function oracle(bytes: Uint8Array): Uint8Array {
  const s = readJpegStructure(bytes, () => {});
  assert.ok(!(s instanceof JpegStructureProblem), 'a valid file');
  const colorTransform = s.adobeTransform !== undefined ? s.adobeTransform !== 0 : !s.rgbComponentIds;
  return jpeg.decode(bytes, {
    useTArray: true,
    formatAsRGBA: true,
    maxMemoryUsageInMB: 2048,
    ...(s.components === 3 ? { colorTransform } : {}),
  }).data;
}

function assertSame(image: Uint8Array | Uint8ClampedArray, want: Uint8Array, what: string): void {
  const got = new Uint8Array(image.buffer, image.byteOffset, image.length);
  assert.equal(got.length, want.length, `${what}: RGBA length`);
  if (Buffer.compare(got, want) === 0) return;
  let n = 0,
    first = -1;
  for (let i = 0; i < got.length; i++) if (got[i] !== want[i] && n++ === 0) first = i;
  assert.fail(`${what}: ${n} bytes differ from jpeg-js, the first at byte ${first} (${got[first]} vs ${want[first]})`);
}

function compareFile(path: string): void {
  const bytes = new Uint8Array(readFileSync(path));
  assertSame(decodeImage(bytes, path).data, oracle(bytes), path);
}

test('every sample photo decodes to exactly jpeg-js RGBA', () => {
  const files = readdirSync(join(root, 'samples')).filter((f) => f.endsWith('.jpg'));
  assert.ok(files.length >= 4);
  for (const f of files) compareFile(join(root, 'samples', f));
});

test('every fixture (progressive, restart intervals, subsampling, grey, RGB, ...) decodes to exactly jpeg-js RGBA', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.jpg') && !f.includes('--'));
  assert.ok(files.length >= 30, `fixtures in ${FIXTURES}: run scripts/make-jpeg-fixtures.sh`);
  const kinds = new Set<number>();
  for (const f of files) {
    compareFile(join(FIXTURES, f));
    const b = readFileSync(join(FIXTURES, f));
    kinds.add(b.indexOf(Buffer.from([0xff, 0xc2])) >= 0 ? 2 : 0);
  }
  assert.deepEqual([...kinds].sort(), [0, 2], 'both baseline and progressive fixtures');
});

test('lossless transcodes decode to the same pixels as their source (where jpeg-js itself fails on some)', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.includes('--'));
  assert.ok(files.length >= 4);
  for (const f of files) {
    const source = join(FIXTURES, f.split('--')[1]!);
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, f)));
    assertSame(decodeImage(bytes, f).data, oracle(new Uint8Array(readFileSync(source))), f);
  }
});

test('every JPEG of the shared datasets decodes to exactly jpeg-js RGBA', (t) => {
  let datasets: string;
  try {
    datasets = sharedPath(root, 'datasets');
  } catch (e) {
    t.skip(`no shared data: ${(e as Error).message}`);
    return;
  }
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (/\.jpe?g$/i.test(e.name)) files.push(join(dir, e.name));
    }
  };
  if (existsSync(datasets)) walk(datasets);
  assert.ok(files.length > 500, `JPEGs under ${datasets}: ${files.length}`);
  for (const f of files) compareFile(f);
  t.diagnostic(`${files.length} dataset JPEGs identical`);
});

function noise(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  let s = seed;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const o = (y * width + x) * 4;
      // Smooth gradients plus noise: both flat and busy blocks.
      data[o] = (x * 3 + (s >>> 28)) & 255;
      data[o + 1] = (y * 5 + ((s >>> 20) & 63)) & 255;
      data[o + 2] = (s >>> 24) & 255;
      data[o + 3] = 255;
    }
  return data;
}

test('jpeg-js encoded images at odd sizes and qualities decode to exactly jpeg-js RGBA', () => {
  const sizes = [
    [1, 1],
    [7, 9],
    [8, 8],
    [17, 15],
    [33, 47],
    [100, 3],
  ] as const;
  for (const [w, h] of sizes)
    for (const q of [1, 50, 100]) {
      const bytes = new Uint8Array(jpeg.encode({ data: noise(w, h, w * h + q), width: w, height: h }, q).data);
      assertSame(decodeImage(bytes, `${w}x${h}q${q}`).data, oracle(bytes), `${w}x${h} quality ${q}`);
    }
});

test('hand-written grey, RGB, CMYK and YCCK files decode to exactly jpeg-js RGBA', () => {
  const block = (bx: number, by: number, c: number) => (bx * 61 + by * 37 + c * 90) & 255;
  const cases: [string, Uint8Array][] = [
    ['grey', writeJpeg({ blocksX: 3, blocksY: 2, width: 19, height: 9, components: 1, block })],
    ['grey progressive', writeJpeg({ blocksX: 3, blocksY: 2, components: 1, block, progressive: true })],
    ['rgb ids', writeJpeg({ blocksX: 2, blocksY: 2, components: 3, block, componentIds: [0x52, 0x47, 0x42] })],
    ['adobe rgb', writeJpeg({ blocksX: 2, blocksY: 2, components: 3, block, segments: [adobeSegment(0)] })],
    ['ycbcr progressive', writeJpeg({ blocksX: 3, blocksY: 3, components: 3, block, progressive: true })],
    ['cmyk', writeJpeg({ blocksX: 3, blocksY: 2, components: 4, block, segments: [adobeSegment(0)] })],
    ['ycck', writeJpeg({ blocksX: 3, blocksY: 2, components: 4, block, segments: [adobeSegment(2)] })],
    [
      'ycck progressive',
      writeJpeg({ blocksX: 2, blocksY: 2, components: 4, block, segments: [adobeSegment(2)], progressive: true }),
    ],
  ];
  for (const [name, bytes] of cases) assertSame(decodeImage(bytes, name).data, oracle(bytes), name);
});

test('a scan that ends at a restart marker before its last MCU is a truncation error, not a grey image', () => {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, '420-restart-1row.jpg')));
  // Cut the scan at its third restart marker and end the file there.
  let rst = -1;
  for (let i = 0, seen = 0; i < bytes.length - 1; i++)
    if (bytes[i] === 0xff && bytes[i + 1]! >= 0xd0 && bytes[i + 1]! <= 0xd7 && ++seen === 3) {
      rst = i;
      break;
    }
  assert.ok(rst > 0);
  const cut = Uint8Array.from([...bytes.subarray(0, rst), 0xff, 0xd9]);
  // 1-row intervals of 13 MCUs (203 pixels in 16-pixel MCUs) over 9 rows: 3 rows are there.
  assert.throws(
    () => decodeImage(cut, 'cut.jpg'),
    (e) =>
      e instanceof ImageDecodeError && /truncated JPEG: the image data ends after 39 of its 117 MCUs/.test(e.message),
  );
});

test('a progressive file cut anywhere in its scans gives a typed error or a whole image, never another exception', () => {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, 's2x2-progressive.jpg')));
  let errors = 0;
  for (let n = 200; n < bytes.length - 2; n += 97) {
    try {
      const img = decodeImage(Uint8Array.from([...bytes.subarray(0, n), 0xff, 0xd9]), 'cut.jpg');
      assert.equal(img.data.length, img.width * img.height * 4);
    } catch (e) {
      assert.ok(e instanceof ImageDecodeError && /cut\.jpg/.test(e.message), String(e));
      errors++;
    }
  }
  assert.ok(errors > 0);
});
