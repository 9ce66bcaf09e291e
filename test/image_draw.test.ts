import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Detection } from '../src/detect_types.ts';
import { classColor, drawDetections, textColorOn, type Rgb } from '../src/image/draw.ts';
import { encodePng } from '../src/image/encode_png.ts';
import { decodeImage } from '../src/image/decode.ts';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows } from '../src/image/font5x7.ts';
import { InvalidInputError, InvalidOptionError } from '../src/errors.ts';
import type { RgbaImage } from '../src/core/image.ts';

const BG = [90, 100, 110, 255];

function blank(width: number, height: number): RgbaImage {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i += 4) data.set(BG, i);
  return { data, width, height };
}

function px(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

const opaque = (c: Rgb) => [...c, 255];

function det(
  classId: number,
  label: string,
  score: number,
  x: number,
  y: number,
  width: number,
  height: number,
): Detection {
  return { classId, label, score, box: { x, y, width, height } };
}

test('box outlines have the class colour and the requested thickness; the interior is untouched', () => {
  const img = blank(200, 100);
  const out = drawDetections(img, [det(2, 'cat', 0.87, 20, 30, 60, 40)], { thickness: 2, fontScale: 1 });
  const c = opaque(classColor(2));
  for (const [x, y] of [
    [20, 50],
    [21, 50],
    [78, 50],
    [79, 50],
    [50, 30],
    [50, 31],
    [50, 68],
    [50, 69],
  ])
    assert.deepEqual(px(out, x!, y!), c, `edge ${x},${y}`);
  for (const [x, y] of [
    [22, 50],
    [77, 50],
    [50, 32],
    [50, 67],
    [50, 50],
  ])
    assert.deepEqual(px(out, x!, y!), BG, `inside ${x},${y}`);
  for (const [x, y] of [
    [19, 50],
    [80, 50],
    [50, 70],
    [100, 50],
  ])
    assert.deepEqual(px(out, x!, y!), BG, `outside ${x},${y}`);
  assert.deepEqual(px(img, 20, 50), BG, 'the input image is not modified');
});

test('the label tag sits above the box, filled with the class colour, with text in a contrasting colour', () => {
  const out = drawDetections(blank(200, 100), [det(2, 'cat', 0.87, 20, 30, 60, 40)], { thickness: 2, fontScale: 1 });
  const bg = opaque(classColor(2));
  const ink = opaque(textColorOn(classColor(2)));
  assert.notDeepEqual(ink, bg);
  // "cat 0.87": 8 glyphs of 5 plus 7 gaps, and a 1-pixel margin: 49 x 9, bottom edge on the box top.
  const tag = { x: 20, y: 21, w: 49, h: 9 };
  let inkCount = 0,
    bgCount = 0;
  for (let y = tag.y; y < tag.y + tag.h; y++)
    for (let x = tag.x; x < tag.x + tag.w; x++) {
      const p = px(out, x, y);
      if (String(p) === String(ink)) inkCount++;
      else if (String(p) === String(bg)) bgCount++;
      else assert.fail(`tag pixel ${x},${y} is ${p}`);
    }
  assert.ok(inkCount > 40 && bgCount > inkCount, `ink ${inkCount}, background ${bgCount}`);
  assert.deepEqual(px(out, tag.x + tag.w, tag.y + 4), BG, 'the tag ends after its text');
  assert.deepEqual(px(out, tag.x, tag.y - 1), BG, 'nothing above the tag');
});

test('glyphs are drawn from the bitmap font, magnified by whole pixels', () => {
  const scale = 3;
  const out = drawDetections(blank(120, 120), [det(0, 'I', 0.5, 30, 60, 50, 40)], {
    thickness: 1,
    fontScale: scale,
    showScores: false,
  });
  const ink = opaque(textColorOn(classColor(0)));
  const tagH = GLYPH_HEIGHT * scale + 2 * scale;
  const x0 = 30 + scale,
    y0 = 60 - tagH + scale;
  const rows = glyphRows('I');
  for (let row = 0; row < GLYPH_HEIGHT; row++)
    for (let col = 0; col < GLYPH_WIDTH; col++) {
      const on = (rows[row]! & (0x10 >> col)) !== 0;
      for (let k = 0; k < scale * scale; k++) {
        const p = px(out, x0 + col * scale + (k % scale), y0 + row * scale + Math.floor(k / scale));
        assert.equal(String(p) === String(ink), on, `glyph cell ${col},${row}`);
      }
    }
});

test('every printable ASCII character has its own glyph; others fall back to "?"', () => {
  const seen = new Set<string>();
  for (let code = 32; code < 127; code++) {
    const rows = glyphRows(String.fromCharCode(code));
    assert.equal(rows.length, GLYPH_HEIGHT);
    assert.ok(rows.every((r) => r < 32));
    seen.add(String(rows));
  }
  assert.equal(seen.size, 95, 'glyphs are distinct');
  assert.deepEqual(glyphRows('é'), glyphRows('?'));
});

test('a box at the top edge gets its tag inside the box; a box at the right edge keeps its tag on the image', () => {
  const top = drawDetections(blank(100, 80), [det(1, 'dog', 0.9, 10, 0, 50, 50)], { thickness: 1, fontScale: 1 });
  const fill = opaque(classColor(1));
  assert.deepEqual(px(top, 12, 1), fill, 'tag background just inside the top-left corner');
  const right = drawDetections(blank(100, 80), [det(1, 'dog', 0.9, 90, 40, 10, 10)], { thickness: 1, fontScale: 1 });
  // "dog 0.90" is 49 pixels wide: shifted left to end at the image's right edge.
  assert.deepEqual(px(right, 51, 35), fill);
  assert.deepEqual(px(right, 50, 35), BG);
});

test('boxes off or partly off the image, degenerate or non-finite, do not throw and are clipped', () => {
  const img = blank(64, 48);
  const weird = [
    det(0, 'far', 0.9, 1000, 1000, 50, 50),
    det(1, 'left', 0.9, -500, -500, 100, 100),
    det(2, 'huge', 0.9, -1e12, -1e12, 2e12, 2e12),
    det(3, 'nan', 0.9, NaN, 3, 10, 10),
    det(4, 'inf', 0.9, 0, 0, Infinity, 10),
    det(5, 'flat', 0.9, 10, 10, 0, 0),
    det(6, 'negative', 0.9, 40, 40, -20, -20),
    det(7, 'a very long label that is much wider than the whole image', 0.999, 5, 20, 10, 10),
  ];
  const out = drawDetections(img, weird);
  assert.equal(out.data.length, img.data.length);
  const offOnly = drawDetections(img, weird.slice(0, 2));
  assert.deepEqual(Array.from(offOnly.data), Array.from(img.data), 'boxes entirely off the image draw nothing');
  // The huge box's outline runs along the image border, clipped.
  assert.deepEqual(px(drawDetections(img, [weird[2]!], { thickness: 1 }), 63, 47), BG);
  const partial = drawDetections(img, [det(3, 'x', 0.5, 50, -10, 30, 30)], { thickness: 1 });
  assert.deepEqual(
    px(partial, 50, 10),
    opaque(classColor(3)),
    'left edge of a box sticking out of the top-right corner',
  );
  assert.deepEqual(px(partial, 50, 19), opaque(classColor(3)), 'bottom-left corner');
});

test('thickness and font size scale with the image', () => {
  const out = drawDetections(blank(1200, 900), [det(4, 'person', 0.5, 100, 300, 400, 400)]);
  const c = opaque(classColor(4));
  for (const x of [100, 101, 102]) assert.deepEqual(px(out, x, 500), c);
  assert.deepEqual(px(out, 103, 500), BG);
  // fontScale 4 at 900 px: the tag is 7*4 + 2*4 = 36 pixels tall.
  assert.deepEqual(px(out, 100, 300 - 36), c);
  assert.deepEqual(px(out, 100, 300 - 37), BG);
});

test('class colours come from a fixed palette of distinct colours and wrap around', () => {
  const colours = Array.from({ length: 16 }, (_, k) => String(classColor(k)));
  assert.equal(new Set(colours).size, 16);
  assert.deepEqual(classColor(16), classColor(0));
  assert.deepEqual(classColor(-1), classColor(15));
  assert.deepEqual(textColorOn([255, 230, 0]), [0, 0, 0]);
  assert.deepEqual(textColorOn([20, 40, 140]), [255, 255, 255]);
});

test('bad images and options are typed errors', () => {
  assert.throws(() => drawDetections({ data: new Uint8Array(5), width: 2, height: 2 }, []), InvalidInputError);
  assert.throws(() => drawDetections(blank(10, 10), [], { thickness: 0 }), InvalidOptionError);
  assert.throws(() => drawDetections(blank(10, 10), [], { fontScale: 1.5 }), InvalidOptionError);
});

test('encodePng round-trips through decodeImage', () => {
  const out = drawDetections(blank(37, 23), [det(5, 'box', 0.42, 3, 12, 20, 9)]);
  out.data[3] = 17; // alpha survives too
  const back = decodeImage(encodePng(out), 'annotated.png');
  assert.deepEqual([back.width, back.height], [37, 23]);
  assert.deepEqual(Array.from(back.data), Array.from(out.data));
});
