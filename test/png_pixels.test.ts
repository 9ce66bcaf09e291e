/**
 * The PNG pixel decoder (src/image/png_pixels.ts) against pngjs as the independent reference: every colour
 * type and bit depth, palettes with tRNS, transparent grey/RGB colours, Adam7, odd sizes, and each of the five
 * row filters (pngjs's encoder writes Average and Paeth rows, test/support/png_writer.ts the others).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { decodeImage } from '../src/image/decode.ts';
import { writePng, type PngSpec } from './support/png_writer.ts';

function reference(bytes: Uint8Array): Uint8Array {
  const r = PNG.sync.read(Buffer.from(bytes));
  return new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.length);
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) >>> 8) / 2 ** 24;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;
const DEPTHS = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] } as const;

test('every colour type, bit depth and interlacing decodes to the same RGBA as pngjs', () => {
  let cases = 0;
  for (const colorType of [0, 2, 3, 4, 6] as const) {
    for (const depth of DEPTHS[colorType]) {
      for (const interlace of [false, true]) {
        for (const [width, height] of [
          [1, 1],
          [7, 5],
          [13, 9],
        ] as const) {
          const rnd = random(cases + 1);
          const max = colorType === 3 ? Math.min(2 ** depth, 6) - 1 : 2 ** depth - 1;
          const samples = Array.from({ length: width * height * CHANNELS[colorType] }, () => Math.round(rnd() * max));
          const spec: PngSpec = { width, height, depth, colorType, samples, interlace };
          if (colorType === 3) {
            spec.palette = Array.from({ length: max + 1 }, (_, i) => [i * 40, 255 - i * 30, (i * 77) & 255] as const);
            spec.trns = [0, 128, 255].slice(0, max + 1);
          }
          // A transparent colour that some pixels have: the first pixel's samples.
          if (colorType === 0) spec.trns = [samples[0]!];
          if (colorType === 2) spec.trns = samples.slice(0, 3);
          const png = writePng(spec);
          const got = decodeImage(png, `ct${colorType}-d${depth}`);
          assert.deepEqual([got.width, got.height], [width, height]);
          assert.deepEqual(
            got.data,
            reference(png),
            `colour type ${colorType}, depth ${depth}, interlace ${interlace}, ${width}x${height}`,
          );
          cases++;
        }
      }
    }
  }
  assert.equal(cases, 15 * 2 * 3);
});

test('rows filtered with Sub, Up, Average and Paeth (pngjs encoder) decode exactly', () => {
  for (const filterType of [0, 1, 2, 3, 4]) {
    for (const bitDepth of [8, 16] as const) {
      const width = 31,
        height = 17;
      const png = new PNG({ width, height, bitDepth, colorType: 6, inputHasAlpha: true });
      const rnd = random(filterType * 10 + bitDepth);
      // A smooth gradient with noise: the predictors see real neighbours.
      for (let i = 0; i < png.data.length; i++) png.data[i] = ((i % 97) * 2 + Math.round(rnd() * 20)) & 255;
      const bytes = PNG.sync.write(png, { filterType, bitDepth, colorType: 6, inputColorType: 6 });
      const got = decodeImage(bytes, `filter ${filterType}`);
      assert.deepEqual(got.data, reference(bytes), `filter ${filterType}, ${bitDepth}-bit`);
    }
  }
});
