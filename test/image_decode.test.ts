import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildSync } from 'esbuild';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { decodeImage, readImageFile, toRgbaImage } from '../src/image/decode.ts';
import {
  ImageDecodeError,
  ImageFileError,
  ImageTooLargeError,
  InvalidInputError,
  InvalidOptionError,
} from '../src/errors.ts';
import { chunk, fixCrcs, writePng, type PngSpec } from './support/png_writer.ts';
import { adobeSegment, exifSegment, segment, writeJpeg } from './support/jpeg_writer.ts';

const ROOT = process.env.MOBILESSD_ROOT ?? process.cwd();

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pixel(img: { data: Uint8Array | Uint8ClampedArray; width: number }, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

function assertDecodeError(
  fn: () => unknown,
  source: string,
  pattern: RegExp,
  cls: new (...a: never[]) => Error = ImageDecodeError,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    assert.ok(e.message.includes(source), `message should name ${source}: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------- PNG

const W = 13;
const H = 11; // odd sizes leave partial Adam7 passes

interface PngCase {
  name: string;
  spec: Omit<PngSpec, 'interlace'>;
  expected: (x: number, y: number) => number[];
}

function pngCases(): PngCase[] {
  const cases: PngCase[] = [];
  const r = rng(7);
  const rand = (max: number) => Math.floor(r() * (max + 1));
  const scale = (v: number, depth: number) =>
    depth === 16 ? Math.round((v * 255) / 65535) : Math.round((v * 255) / (2 ** depth - 1));
  for (const depth of [1, 2, 4, 8, 16] as const) {
    const s = Array.from({ length: W * H }, () => rand(2 ** depth - 1));
    cases.push({
      name: `grey ${depth}-bit`,
      spec: { width: W, height: H, depth, colorType: 0, samples: s },
      expected: (x, y) => {
        const g = scale(s[y * W + x]!, depth);
        return [g, g, g, 255];
      },
    });
  }
  for (const depth of [8, 16] as const) {
    const max = 2 ** depth - 1;
    const rgb = Array.from({ length: W * H * 3 }, () => rand(max));
    cases.push({
      name: `RGB ${depth}-bit`,
      spec: { width: W, height: H, depth, colorType: 2, samples: rgb },
      expected: (x, y) => [...rgb.slice((y * W + x) * 3, (y * W + x) * 3 + 3).map((v) => scale(v, depth)), 255],
    });
    const ga = Array.from({ length: W * H * 2 }, () => rand(max));
    cases.push({
      name: `grey+alpha ${depth}-bit`,
      spec: { width: W, height: H, depth, colorType: 4, samples: ga },
      expected: (x, y) => {
        const [g, a] = ga.slice((y * W + x) * 2, (y * W + x) * 2 + 2).map((v) => scale(v, depth));
        return [g!, g!, g!, a!];
      },
    });
    const rgba = Array.from({ length: W * H * 4 }, () => rand(max));
    cases.push({
      name: `RGBA ${depth}-bit`,
      spec: { width: W, height: H, depth, colorType: 6, samples: rgba },
      expected: (x, y) => rgba.slice((y * W + x) * 4, (y * W + x) * 4 + 4).map((v) => scale(v, depth)),
    });
  }
  for (const depth of [1, 2, 4, 8] as const) {
    const entries = 2 ** depth;
    const palette = Array.from(
      { length: entries },
      () => [rand(255), rand(255), rand(255)] as [number, number, number],
    );
    const alphas = palette.map((_, k) => (k === 0 ? 0 : k === 1 ? 128 : 255)).slice(0, entries - 1); // shorter tRNS: the rest are opaque
    const idx = Array.from({ length: W * H }, () => rand(entries - 1));
    cases.push({
      name: `palette ${depth}-bit with tRNS`,
      spec: { width: W, height: H, depth, colorType: 3, samples: idx, palette, trns: alphas },
      expected: (x, y) => {
        const k = idx[y * W + x]!;
        return [...palette[k]!, alphas[k] ?? 255];
      },
    });
  }
  const grey = Array.from({ length: W * H }, () => rand(255));
  grey[0] = 77;
  cases.push({
    name: 'grey 8-bit with a transparent colour',
    spec: { width: W, height: H, depth: 8, colorType: 0, samples: grey, trns: [77] },
    expected: (x, y) => {
      const g = grey[y * W + x]!;
      return g === 77 ? [0, 0, 0, 0] : [g, g, g, 255];
    },
  });
  return cases;
}

for (const c of pngCases()) {
  for (const interlace of [false, true]) {
    test(`PNG ${c.name}${interlace ? ', interlaced' : ''} decodes to RGBA8`, () => {
      const img = decodeImage(writePng({ ...c.spec, interlace }), 'case.png');
      assert.equal(img.width, W);
      assert.equal(img.height, H);
      assert.equal(img.data.length, W * H * 4);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) assert.deepEqual(pixel(img, x, y), c.expected(x, y), `pixel ${x},${y}`);
    });
  }
}

test('tiny interlaced PNGs with empty Adam7 passes decode', () => {
  for (const [w, h] of [
    [1, 1],
    [2, 1],
    [1, 3],
    [5, 2],
  ] as const) {
    const samples = Array.from({ length: w * h * 3 }, (_, k) => (k * 37) % 256);
    const img = decodeImage(
      writePng({ width: w, height: h, depth: 8, colorType: 2, samples, interlace: true }),
      'tiny.png',
    );
    for (let p = 0; p < w * h; p++)
      assert.deepEqual(pixel(img, p % w, Math.floor(p / w)), [...samples.slice(p * 3, p * 3 + 3), 255]);
  }
});

test('PNGs written by pngjs (8- and 16-bit, every colour type it writes) decode like pngjs reads them', () => {
  const w = 9,
    h = 6;
  const rgba = Uint8Array.from({ length: w * h * 4 }, (_, i) => (i * 53 + 11) % 256);
  for (const bitDepth of [8, 16] as const) {
    // pngjs takes 16-bit input as native-endian 16-bit samples.
    const input = bitDepth === 8 ? Buffer.from(rgba) : Buffer.from(Uint16Array.from(rgba, (v) => v * 257).buffer);
    for (const colorType of [0, 2, 4, 6] as const) {
      const png = new PNG({ width: w, height: h, bitDepth });
      png.data = input;
      const bytes = PNG.sync.write(png, { colorType, inputColorType: 6, bitDepth, inputHasAlpha: true });
      const ours = decodeImage(bytes, 'pngjs.png');
      assert.deepEqual(
        Array.from(ours.data),
        Array.from(PNG.sync.read(bytes).data),
        `colorType ${colorType}, ${bitDepth}-bit`,
      );
      if (colorType === 6)
        assert.deepEqual(Array.from(ours.data), Array.from(rgba), `RGBA ${bitDepth}-bit is lossless`);
    }
  }
});

// ---------------------------------------------------------------- JPEG

/** A smooth test picture: JPEG's lossy coding keeps it within a few levels. */
function smoothRgba(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      d.set([Math.round((x * 255) / (w - 1)), Math.round((y * 255) / (h - 1)), 128, 255], (y * w + x) * 4);
  return d;
}

test('baseline YCbCr JPEG (jpeg-js encoder) decodes to RGBA close to the original', () => {
  const w = 40,
    h = 24;
  const original = smoothRgba(w, h);
  const bytes = jpeg.encode({ data: original, width: w, height: h }, 95).data;
  const img = decodeImage(bytes, 'smooth.jpg');
  assert.equal(img.width, w);
  assert.equal(img.height, h);
  let maxErr = 0;
  for (let i = 0; i < original.length; i++) {
    if (i % 4 === 3) assert.equal(img.data[i], 255);
    else maxErr = Math.max(maxErr, Math.abs(img.data[i]! - original[i]!));
  }
  assert.ok(maxErr <= 12, `max error ${maxErr}`);
});

const BLOCKS = (bx: number, by: number, c: number) => (40 + 50 * bx + 30 * by + 70 * c) % 256;

for (const progressive of [false, true]) {
  const kind = progressive ? 'progressive' : 'baseline';
  test(`${kind} greyscale JPEG decodes to grey RGBA`, () => {
    const img = decodeImage(
      writeJpeg({ blocksX: 3, blocksY: 2, components: 1, block: BLOCKS, progressive }),
      'grey.jpg',
    );
    assert.equal(img.width, 24);
    assert.equal(img.height, 16);
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 24; x++) {
        const [r, g, b, a] = pixel(img, x, y);
        const want = BLOCKS(x >> 3, y >> 3, 0);
        assert.ok(
          Math.abs(r! - want) <= 1 && r === g && g === b && a === 255,
          `pixel ${x},${y}: ${[r, g, b, a]} vs ${want}`,
        );
      }
  });

  test(`${kind} JPEG cropped to a size that is not a multiple of 8`, () => {
    const img = decodeImage(
      writeJpeg({ blocksX: 3, blocksY: 2, width: 19, height: 9, components: 1, block: BLOCKS, progressive }),
      'crop.jpg',
    );
    assert.equal(img.width, 19);
    assert.equal(img.height, 9);
    assert.ok(Math.abs(pixel(img, 18, 8)[0]! - BLOCKS(2, 1, 0)) <= 1);
  });
}

function checkBlocks(
  img: { data: Uint8Array | Uint8ClampedArray; width: number; height: number },
  want: (bx: number, by: number) => number[],
  tol: number,
): void {
  for (let y = 0; y < img.height; y++)
    for (let x = 0; x < img.width; x++) {
      const got = pixel(img, x, y);
      const exp = want(x >> 3, y >> 3);
      assert.ok(
        got.every((v, k) => Math.abs(v - exp[k]!) <= tol),
        `pixel ${x},${y}: ${got} vs ${exp}`,
      );
    }
}

test('progressive 3-component (YCbCr) JPEG decodes like the same baseline file', () => {
  const spec = { blocksX: 2, blocksY: 2, components: 3 as const, block: BLOCKS };
  const base = decodeImage(writeJpeg(spec), 'base.jpg');
  const prog = decodeImage(writeJpeg({ ...spec, progressive: true }), 'prog.jpg');
  assert.deepEqual(Array.from(prog.data), Array.from(base.data));
});

test('RGB JPEGs (Adobe transform 0, or component ids R,G,B) are not colour-converted', () => {
  const want = (bx: number, by: number) => [BLOCKS(bx, by, 0), BLOCKS(bx, by, 1), BLOCKS(bx, by, 2), 255];
  const adobe = writeJpeg({ blocksX: 2, blocksY: 2, components: 3, block: BLOCKS, segments: [adobeSegment(0)] });
  checkBlocks(decodeImage(adobe, 'adobe-rgb.jpg'), want, 1);
  const ids = writeJpeg({ blocksX: 2, blocksY: 2, components: 3, block: BLOCKS, componentIds: [0x52, 0x47, 0x42] });
  checkBlocks(decodeImage(ids, 'rgb-ids.jpg'), want, 1);
});

test('CMYK JPEG with an Adobe segment decodes (Adobe inverted CMYK: R = C*K/255)', () => {
  const cmyk = [
    [255, 0, 128, 255],
    [255, 255, 255, 200],
    [0, 255, 60, 255],
    [100, 50, 255, 128],
  ];
  const block = (bx: number, by: number, c: number) => cmyk[by * 2 + bx]![c]!;
  const img = decodeImage(
    writeJpeg({ blocksX: 2, blocksY: 2, components: 4, block, segments: [adobeSegment(0)] }),
    'cmyk.jpg',
  );
  checkBlocks(
    img,
    (bx, by) => {
      const [c, m, y, k] = cmyk[by * 2 + bx]!;
      return [(c! * k!) / 255, (m! * k!) / 255, (y! * k!) / 255, 255];
    },
    1.5,
  );
});

test('CMYK JPEG without an Adobe segment is a clear ImageDecodeError', () => {
  const bytes = writeJpeg({ blocksX: 1, blocksY: 1, components: 4, block: () => 100 });
  assertDecodeError(() => decodeImage(bytes, 'plain-cmyk.jpg'), 'plain-cmyk.jpg', /JPEG/);
});

// ---------------------------------------------------------------- EXIF orientation

/** Where stored row 0 and column 0 end up when the image is shown upright (the EXIF definition). */
const ORIENTATIONS: Record<
  number,
  [row0: 'top' | 'bottom' | 'left' | 'right', col0: 'left' | 'right' | 'top' | 'bottom']
> = {
  1: ['top', 'left'],
  2: ['top', 'right'],
  3: ['bottom', 'right'],
  4: ['bottom', 'left'],
  5: ['left', 'top'],
  6: ['right', 'top'],
  7: ['right', 'bottom'],
  8: ['left', 'bottom'],
};

for (const order of ['II', 'MM'] as const) {
  for (let o = 1; o <= 8; o++) {
    test(`EXIF orientation ${o} (${order === 'II' ? 'little' : 'big'}-endian) is applied`, () => {
      const bx = 3,
        by = 2; // stored 24x16, blocks with distinct values
      const bytes = writeJpeg({
        blocksX: bx,
        blocksY: by,
        components: 1,
        block: BLOCKS,
        segments: [exifSegment(o, order)],
      });
      const img = decodeImage(bytes, 'phone.jpg');
      const [row0, col0] = ORIENTATIONS[o]!;
      const sideways = row0 === 'left' || row0 === 'right';
      const sw = bx * 8,
        sh = by * 8;
      assert.equal(img.width, sideways ? sh : sw);
      assert.equal(img.height, sideways ? sw : sh);
      for (let sy = 0; sy < sh; sy += 3) {
        for (let sx = 0; sx < sw; sx += 3) {
          let vx: number, vy: number;
          if (sideways) {
            vx = row0 === 'left' ? sy : sh - 1 - sy;
            vy = col0 === 'top' ? sx : sw - 1 - sx;
          } else {
            vy = row0 === 'top' ? sy : sh - 1 - sy;
            vx = col0 === 'left' ? sx : sw - 1 - sx;
          }
          assert.ok(
            Math.abs(pixel(img, vx, vy)[0]! - BLOCKS(sx >> 3, sy >> 3, 0)) <= 1,
            `stored ${sx},${sy} -> shown ${vx},${vy}`,
          );
        }
      }
    });
  }
}

test('malformed EXIF segments are ignored, not fatal', () => {
  const exif = (tiff: number[]) =>
    Uint8Array.from(segment(0xe1, [...Array.from('Exif\0\0', (c) => c.charCodeAt(0)), ...tiff]));
  const broken = [
    exif([]), // no TIFF header
    exif([0x49, 0x49, 42, 0, 0xff, 0xff, 0, 0]), // IFD offset past the end
    exif([0x49, 0x49, 42, 0, 8, 0, 0, 0, 0xff, 0xff]), // 65535 entries, none present
    exif([0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 9, 0, 0]), // orientation 9
    exif([0x58, 0x58, 42, 0, 8, 0, 0, 0]), // unknown byte order
  ];
  for (const [k, seg] of broken.entries()) {
    const img = decodeImage(
      writeJpeg({ blocksX: 2, blocksY: 1, components: 1, block: BLOCKS, segments: [seg] }),
      `exif${k}.jpg`,
    );
    assert.equal(img.width, 16, `case ${k}`);
    assert.ok(Math.abs(pixel(img, 0, 0)[0]! - BLOCKS(0, 0, 0)) <= 1);
  }
});

// ---------------------------------------------------------------- errors

const smallPng = () =>
  writePng({ width: 4, height: 3, depth: 8, colorType: 2, samples: Array.from({ length: 36 }, (_, k) => k * 7) });
const smallJpeg = () => new Uint8Array(jpeg.encode({ data: smoothRgba(16, 16), width: 16, height: 16 }, 90).data);

function pngWithHeader(width: number, height: number, rest: Uint8Array[] = []): Uint8Array {
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return new Uint8Array(
    Buffer.concat([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), ...rest]),
  );
}

/** Replaces the SOF0 size fields of a JPEG. */
function withJpegSize(bytes: Uint8Array, width: number, height: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 2; i < out.length;) {
    const marker = out[i + 1]!;
    if (marker === 0xc0) {
      out.set([height >> 8, height & 255, width >> 8, width & 255], i + 5);
      return out;
    }
    i += 2 + ((out[i + 2]! << 8) | out[i + 3]!);
  }
  throw new Error('no SOF0');
}

test('an empty file is an ImageDecodeError naming the source', () => {
  assertDecodeError(() => decodeImage(new Uint8Array(0), 'empty.jpg'), 'empty.jpg', /empty/);
});

test('truncated PNG and JPEG files are ImageDecodeErrors that say truncated', () => {
  const png = smallPng();
  for (const n of [3, 8, 20, 33, png.length - 13, png.length - 1]) {
    assertDecodeError(() => decodeImage(png.subarray(0, n), 'cut.png'), 'cut.png', /truncated/);
  }
  const jpg = smallJpeg();
  for (const n of [1, 2, 3, 10, 100, jpg.length - 200, jpg.length - 2, jpg.length - 1]) {
    assertDecodeError(() => decodeImage(jpg.subarray(0, n), 'cut.jpg'), 'cut.jpg', /truncated/);
  }
});

test('files that are not images say what they are and that only JPEG and PNG are supported', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['notes.txt', new TextEncoder().encode('hello, this is a text file\nwith two lines, ünïcödé\n'), /text file/],
    ['anim.gif', new TextEncoder().encode('GIF89a\x01\x00\x01\x00\x00\x00\x00;'), /GIF/],
    [
      'photo.webp',
      Uint8Array.from([...new TextEncoder().encode('RIFF'), 30, 0, 0, 0, ...new TextEncoder().encode('WEBPVP8 ')]),
      /WebP/,
    ],
    ['photo.heic', Uint8Array.from([0, 0, 0, 24, ...new TextEncoder().encode('ftypheic'), 0, 0, 0, 0]), /HEIC/],
    ['page.jpg', new TextEncoder().encode('<!DOCTYPE html><html><body>404</body></html>'), /HTML/],
    [
      'image.bmp',
      Uint8Array.from([0x42, 0x4d, 70, 0, 0, 0, 0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]),
      /BMP/,
    ],
    ['bmw.txt', new TextEncoder().encode('BMW and other German cars are listed in this file'), /text file/],
    ['random.bin', Uint8Array.from([0, 1, 2, 3, 200, 201, 202, 203, 9, 9]), /unrecognised format/],
  ];
  for (const [name, bytes, what] of cases) {
    assertDecodeError(() => decodeImage(bytes, name), name, what);
    assertDecodeError(() => decodeImage(bytes, name), name, /only JPEG and PNG are supported/);
  }
});

test('zero-sized images are ImageDecodeErrors', () => {
  assertDecodeError(() => decodeImage(pngWithHeader(0, 10), 'zero.png'), 'zero.png', /zero-sized/);
  assertDecodeError(() => decodeImage(pngWithHeader(10, 0), 'zero.png'), 'zero.png', /zero-sized/);
  assertDecodeError(() => decodeImage(withJpegSize(smallJpeg(), 0, 16), 'zero.jpg'), 'zero.jpg', /zero-sized/);
});

test('corrupt data is an ImageDecodeError, never the library exception', () => {
  const png = smallPng();
  const badCrc = png.slice();
  badCrc[30]! ^= 0xff; // inside IHDR's CRC
  assertDecodeError(() => decodeImage(badCrc, 'crc.png'), 'crc.png', /corrupt/);
  const idatAt = Buffer.from(png).indexOf('IDAT');
  const garbage = png.slice();
  garbage.fill(0xaa, idatAt + 4, idatAt + 10);
  assertDecodeError(() => decodeImage(fixCrcs(garbage), 'inflate.png'), 'inflate.png', /corrupt/);
  const badDepth = pngWithHeader(4, 4).slice();
  badDepth[24] = 3; // RGB at 3 bits
  assertDecodeError(() => decodeImage(fixCrcs(badDepth), 'depth.png'), 'depth.png', /bit depth 3/);
  const noIdat = pngWithHeader(4, 4, [chunk('IEND', new Uint8Array(0))]);
  assertDecodeError(() => decodeImage(noIdat, 'noidat.png'), 'noidat.png', /no image data/);
  const paletteWithoutPlte = writePng({ width: 2, height: 2, depth: 8, colorType: 3, samples: [0, 1, 2, 3] });
  assertDecodeError(() => decodeImage(paletteWithoutPlte, 'plte.png'), 'plte.png', /corrupt/);

  const jpg = smallJpeg();
  const dht = Buffer.from(jpg).indexOf(Buffer.from([0xff, 0xc4]));
  const noTables = jpg.slice();
  noTables[dht + 1] = 0xfe; // turn the Huffman tables into a comment
  assertDecodeError(() => decodeImage(noTables, 'tables.jpg'), 'tables.jpg', /corrupt JPEG/);
  const noSof = jpg.slice();
  noSof[Buffer.from(jpg).indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xfe;
  assertDecodeError(() => decodeImage(noSof, 'nosof.jpg'), 'nosof.jpg', /before the frame header/);
  assertDecodeError(
    () => decodeImage(Uint8Array.from([0xff, 0xd8, 0xff, 0xd9]), 'empty.jpg'),
    'empty.jpg',
    /no frame header/,
  );
});

test('unsupported JPEG kinds are named', () => {
  const arith = writeJpeg({ blocksX: 1, blocksY: 1, components: 1, block: () => 9, sofMarker: 0xc9 });
  assertDecodeError(() => decodeImage(arith, 'arith.jpg'), 'arith.jpg', /arithmetic-coded JPEG is not supported/);
  const lossless = writeJpeg({ blocksX: 1, blocksY: 1, components: 1, block: () => 9, sofMarker: 0xc3 });
  assertDecodeError(() => decodeImage(lossless, 'lossless.jpg'), 'lossless.jpg', /lossless/);
  const twelveBit = writeJpeg({ blocksX: 1, blocksY: 1, components: 1, block: () => 9, precision: 12 });
  assertDecodeError(() => decodeImage(twelveBit, '12bit.jpg'), '12bit.jpg', /12-bit/);
});

test('absurd declared sizes are ImageTooLargeError, decided from the header alone', () => {
  // Only the IHDR is present: the check happens before anything else is read or allocated.
  assertDecodeError(
    () => decodeImage(pngWithHeader(20000, 10), 'wide.png'),
    'wide.png',
    /20000x10.*16384 pixels per side/,
    ImageTooLargeError,
  );
  assertDecodeError(
    () => decodeImage(pngWithHeader(0x7fffffff, 0x7fffffff), 'huge.png'),
    'huge.png',
    /too large/,
    ImageTooLargeError,
  );
  assertDecodeError(
    () => decodeImage(pngWithHeader(12000, 12000), 'big.png'),
    'big.png',
    /100 megapixels/,
    ImageTooLargeError,
  );
  const jpg = smallJpeg();
  const sofEnd = Buffer.from(jpg).indexOf(Buffer.from([0xff, 0xc4]));
  assertDecodeError(
    () => decodeImage(withJpegSize(jpg, 60000, 60000).subarray(0, sofEnd), 'huge.jpg'),
    'huge.jpg',
    /60000x60000/,
    ImageTooLargeError,
  );
  assertDecodeError(
    () => decodeImage(withJpegSize(jpg, 12000, 12000), 'big.jpg'),
    'big.jpg',
    /megapixels/,
    ImageTooLargeError,
  );
});

test('size limits are configurable', () => {
  const png = smallPng(); // 4x3
  assertDecodeError(() => decodeImage(png, 'a.png', { maxSide: 3 }), 'a.png', /3 pixels per side/, ImageTooLargeError);
  assertDecodeError(() => decodeImage(png, 'a.png', { maxPixels: 11 }), 'a.png', /11 pixels/, ImageTooLargeError);
  assert.equal(decodeImage(png, 'a.png', { maxPixels: 12, maxSide: 4 }).width, 4);
  assertDecodeError(() => decodeImage(smallJpeg(), 'a.jpg', { maxSide: 15 }), 'a.jpg', /16x16/, ImageTooLargeError);
  assert.throws(() => decodeImage(png, 'a.png', { maxPixels: 0 }), InvalidOptionError);
  assert.throws(() => decodeImage(png, 'a.png', { maxSide: 1.5 }), InvalidOptionError);
});

test('decodeImage rejects inputs that are not bytes', () => {
  assert.throws(() => decodeImage('photo.jpg' as unknown as Uint8Array, 'x'), InvalidInputError);
  assert.throws(() => decodeImage([1, 2, 3] as unknown as Uint8Array, 'x'), InvalidInputError);
});

// ---------------------------------------------------------------- fuzz

test('seeded fuzz: truncations and bit flips only ever raise MobileSsdErrors', { timeout: 120_000 }, () => {
  const r = rng(20240607);
  const exifJpeg = writeJpeg({ blocksX: 3, blocksY: 2, components: 3, block: BLOCKS, segments: [exifSegment(6)] });
  const seeds: [string, Uint8Array, boolean][] = [
    [
      'rgba.png',
      writePng({
        width: 12,
        height: 9,
        depth: 8,
        colorType: 6,
        samples: Array.from({ length: 432 }, (_, k) => (k * 31) % 256),
      }),
      true,
    ],
    [
      'palette-interlaced.png',
      writePng({
        width: 11,
        height: 7,
        depth: 4,
        colorType: 3,
        samples: Array.from({ length: 77 }, (_, k) => k % 16),
        palette: Array.from({ length: 16 }, (_, k) => [k * 16, 255 - k * 16, 7] as [number, number, number]),
        trns: [0, 9],
        interlace: true,
      }),
      true,
    ],
    [
      'grey16.png',
      writePng({
        width: 6,
        height: 5,
        depth: 16,
        colorType: 0,
        samples: Array.from({ length: 30 }, (_, k) => k * 2000),
      }),
      true,
    ],
    ['baseline.jpg', new Uint8Array(jpeg.encode({ data: smoothRgba(24, 16), width: 24, height: 16 }, 80).data), false],
    ['progressive.jpg', writeJpeg({ blocksX: 3, blocksY: 2, components: 3, block: BLOCKS, progressive: true }), false],
    ['exif.jpg', exifJpeg, false],
  ];
  const outcomes = new Map<string, number>();
  let cases = 0;
  const t0 = performance.now();
  for (const [name, seed, isPng] of seeds) {
    for (let k = 0; k < 80; k++) {
      let bytes: Uint8Array;
      const mode = k % 3;
      if (mode === 0) {
        bytes = seed.subarray(0, Math.floor(r() * seed.length));
      } else {
        bytes = seed.slice();
        const flips = 1 + Math.floor(r() * 4);
        for (let f = 0; f < flips; f++) bytes[Math.floor(r() * bytes.length)]! ^= 1 << Math.floor(r() * 8);
        // Repaired CRCs let PNG corruption reach inflate and unfiltering instead of stopping at the checksum.
        if (isPng && mode === 2) bytes = fixCrcs(bytes);
      }
      const source = `${name}#${k}`;
      cases++;
      try {
        const img = decodeImage(bytes, source, { maxSide: 4096, maxPixels: 4_000_000 });
        assert.equal(img.data.length, img.width * img.height * 4, source);
        outcomes.set('decoded', (outcomes.get('decoded') ?? 0) + 1);
      } catch (e) {
        assert.ok(
          e instanceof ImageDecodeError || e instanceof ImageTooLargeError,
          `${source}: ${e instanceof Error ? `${e.name}: ${e.stack}` : String(e)}`,
        );
        assert.ok(e.message.includes(source), `${source}: message does not name the source: ${(e as Error).message}`);
        outcomes.set((e as Error).name, (outcomes.get((e as Error).name) ?? 0) + 1);
      }
    }
  }
  assert.ok(cases >= 400);
  // Both outcomes occur: the mutations reach the pixel decoders, not only the structure checks.
  assert.ok(
    (outcomes.get('ImageDecodeError') ?? 0) > 100 && (outcomes.get('decoded') ?? 0) > 10,
    JSON.stringify([...outcomes]),
  );
  assert.ok(performance.now() - t0 < 60_000, 'fuzz cases took too long');
});

// ---------------------------------------------------------------- files and raw input

test('readImageFile decodes a file and names the path in file errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mobilessd-image-'));
  try {
    const file = join(dir, 'ok.png');
    writeFileSync(file, smallPng());
    const img = await readImageFile(file);
    assert.deepEqual([img.width, img.height], [4, 3]);

    const missing = join(dir, 'missing.jpg');
    await assert.rejects(
      readImageFile(missing),
      (e: unknown) =>
        e instanceof ImageFileError &&
        e instanceof InvalidInputError &&
        e.message.includes(missing) &&
        /no such file/.test(e.message),
    );
    await assert.rejects(
      readImageFile(join(file, 'child.jpg')),
      (e: unknown) => e instanceof ImageFileError && /no such file/.test(e.message),
    );
    await assert.rejects(
      readImageFile(dir),
      (e: unknown) => e instanceof ImageFileError && e.message.includes(dir) && /directory/.test(e.message),
    );
    const empty = join(dir, 'empty.png');
    writeFileSync(empty, '');
    await assert.rejects(
      readImageFile(empty),
      (e: unknown) => e instanceof ImageDecodeError && e.message.includes(empty) && /empty/.test(e.message),
    );
    await assert.rejects(readImageFile(''), InvalidInputError);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('readImageFile reports an unreadable file as permission denied', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mobilessd-image-'));
  try {
    const file = join(dir, 'locked.png');
    writeFileSync(file, smallPng());
    chmodSync(file, 0o000);
    if (process.getuid?.() !== 0) {
      await assert.rejects(
        readImageFile(file),
        (e: unknown) => e instanceof ImageFileError && e.message.includes(file) && /permission denied/.test(e.message),
      );
      return;
    }
    // Root reads any file, so run the same check as an unprivileged user in a child process.
    chmodSync(dir, 0o755);
    const root = process.env.MOBILESSD_ROOT ?? process.cwd();
    // Inside the repo so the child resolves npm packages, in a folder the unprivileged user can read.
    const scriptDir = join(root, '.build', 'unprivileged');
    mkdirSync(scriptDir, { recursive: true });
    chmodSync(join(root, '.build'), 0o755);
    chmodSync(scriptDir, 0o755);
    const script = join(scriptDir, `permission-check-${process.pid}.mjs`);
    buildSync({
      stdin: {
        contents: `import { readImageFile } from './src/image/decode.ts';\nreadImageFile(${JSON.stringify(file)}).then(() => process.exit(3), (e) => { console.log(JSON.stringify({ name: e.name, message: e.message })); process.exit(0); });`,
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outfile: script,
      logLevel: 'silent',
    });
    const r = spawnSync(process.execPath, [script], { uid: 65534, gid: 65534, cwd: root, encoding: 'utf8' });
    rmSync(script, { force: true });
    assert.equal(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
    const err = JSON.parse(r.stdout) as { name: string; message: string };
    assert.equal(err.name, 'ImageFileError');
    assert.ok(err.message.includes(file) && /permission denied/.test(err.message), err.message);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('toRgbaImage accepts RGBA8 in Uint8Array, Uint8ClampedArray and Buffer', () => {
  for (const data of [new Uint8Array(24), new Uint8ClampedArray(24), Buffer.alloc(24)]) {
    const img = toRgbaImage({ data, width: 3, height: 2 });
    assert.equal(img.data, data);
    assert.deepEqual([img.width, img.height], [3, 2]);
  }
});

test('toRgbaImage rejects malformed raw inputs with InvalidInputError', () => {
  const bad: [unknown, RegExp][] = [
    [null, /expected \{data, width, height\}/],
    [42, /expected \{data, width, height\}/],
    [{ data: new Float32Array(24), width: 3, height: 2 }, /Float32Array/],
    [{ data: Array(24).fill(0), width: 3, height: 2 }, /an Array/],
    [{ width: 3, height: 2 }, /data must be/],
    [{ data: new Uint8Array(24), width: 3.5, height: 2 }, /width must be a positive integer/],
    [{ data: new Uint8Array(24), width: 3, height: 0 }, /height must be a positive integer/],
    [{ data: new Uint8Array(24), width: '3', height: 2 }, /width must be/],
    [{ data: new Uint8Array(23), width: 3, height: 2 }, /23 bytes.*needs 24/],
    [{ data: new Uint8Array(18), width: 3, height: 2 }, /RGB \(3 bytes per pixel\)/],
  ];
  for (const [input, pattern] of bad) {
    assert.throws(
      () => toRgbaImage(input, 'frame'),
      (e: unknown) => e instanceof InvalidInputError && e.message.includes('frame') && pattern.test(e.message),
      String(pattern),
    );
  }
});

// ---------------------------------------------------------------- samples

test('the sample photos decode', () => {
  const dir = join(ROOT, 'samples');
  const photos = readdirSync(dir).filter((f) => /\.(jpe?g|png)$/i.test(f));
  assert.ok(photos.length >= 1, 'samples/ has no photos');
  for (const f of photos) {
    const img = decodeImage(readFileSync(join(dir, f)), f);
    assert.ok(img.width >= 200 && img.height >= 200, `${f}: ${img.width}x${img.height}`);
  }
});
