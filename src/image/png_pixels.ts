/**
 * PNG pixels without pngjs's copies: the image data is inflated once (capped at the size the header implies),
 * unfiltered in place, and converted row by row into the RGBA8 output. Peak memory is the file, the filtered
 * data (1x the RGBA size for 8-bit RGBA, 2x for 16-bit) and the output; pngjs held three to four full copies.
 * Output matches pngjs: samples scaled to 8 bits with round(v * 255 / max), a tRNS colour (compared at the
 * file's bit depth) makes the pixel all zeros, palette entries take their tRNS alpha.
 */
import { inflateSync } from 'node:zlib';
import type { RgbaImage } from '../core/image.ts';
import { ImageDecodeError } from '../errors.ts';
import { ADAM7, CHANNELS, type PngStructure } from './png_structure.ts';

export function decodePngPixels(s: PngStructure, source: string): RgbaImage {
  const data = inflateImageData(s, source);
  const { width, height, bitDepth: depth, colorType } = s;
  const out = new Uint8Array(width * height * 4);
  const channels = CHANNELS[colorType]!;
  const bitsPerPixel = channels * depth;
  const stride = Math.max(1, bitsPerPixel >> 3); // bytes to the same byte of the previous pixel
  const max = 2 ** depth - 1;
  const scale = (v: number) => Math.floor((v * 255) / max + 0.5);
  const palette = colorType === 3 ? paletteRgba(s, source) : undefined;
  const trns = colorType === 0 || colorType === 2 ? transparentColour(s) : undefined;
  const passes = s.interlaced ? ADAM7 : ([[0, 0, 1, 1]] as const);
  const samples = new Array<number>(channels);
  let at = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((width - x0) / dx);
    const h = Math.ceil((height - y0) / dy);
    if (w <= 0 || h <= 0) continue;
    const rowBytes = Math.ceil((w * bitsPerPixel) / 8);
    for (let r = 0; r < h; r++, at += rowBytes + 1) {
      unfilter(data, at, rowBytes, stride, r === 0 ? -1 : at - rowBytes - 1, source);
      const row = at + 1;
      for (let i = 0; i < w; i++) {
        for (let c = 0; c < channels; c++) samples[c] = sample(data, row, i * channels + c, depth);
        const o = ((y0 + r * dy) * width + x0 + i * dx) * 4;
        if (palette) {
          const k = samples[0]! * 4;
          if (k >= palette.length)
            throw new ImageDecodeError(source, `corrupt PNG: index ${samples[0]} not in the palette`);
          out[o] = palette[k]!;
          out[o + 1] = palette[k + 1]!;
          out[o + 2] = palette[k + 2]!;
          out[o + 3] = palette[k + 3]!;
          continue;
        }
        if (trns && samples.every((v, c) => v === trns[c])) continue; // all four zero, as pngjs
        const grey = channels <= 2;
        out[o] = scale(samples[0]!);
        out[o + 1] = scale(samples[grey ? 0 : 1]!);
        out[o + 2] = scale(samples[grey ? 0 : 2]!);
        out[o + 3] = channels === 2 ? scale(samples[1]!) : channels === 4 ? scale(samples[3]!) : 255;
      }
    }
  }
  return { data: out, width, height };
}

/**
 * Inflates the image data with Node's zlib, capped at the size the header implies (a small crafted file cannot
 * expand to gigabytes); short data is an error (pngjs's own inflate returned uninitialised memory for it).
 */
function inflateImageData(s: PngStructure, source: string): Buffer {
  const slack = 65536; // tolerate encoders that leave a little padding after the last row
  let inflated: Buffer;
  try {
    // One output chunk of the expected size: zlib then fills it in place instead of gathering many chunks and
    // concatenating them at the end (a second full copy).
    const size = s.inflatedSize + slack;
    inflated = inflateSync(s.idat.length === 1 ? s.idat[0]! : Buffer.concat(s.idat), {
      maxOutputLength: size,
      chunkSize: size,
    });
  } catch (e) {
    const tooBig = (e as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE';
    throw new ImageDecodeError(
      source,
      tooBig
        ? `corrupt PNG: its image data inflates to more than the ${s.inflatedSize} bytes a ${s.width}x${s.height} image needs`
        : `corrupt PNG image data (zlib: ${e instanceof Error ? e.message : String(e)})`,
    );
  }
  if (inflated.length < s.inflatedSize) {
    throw new ImageDecodeError(
      source,
      `corrupt PNG: its image data inflates to ${inflated.length} bytes, but a ${s.width}x${s.height} image needs ${s.inflatedSize}`,
    );
  }
  return inflated;
}

/** Reverses one row's filter in place; `prior` is the previous (already unfiltered) row's filter byte, or -1. */
function unfilter(d: Uint8Array, at: number, n: number, bpp: number, prior: number, source: string): void {
  const type = d[at]!;
  const x = at + 1;
  const up = prior + 1;
  switch (type) {
    case 0:
      return;
    case 1:
      for (let i = bpp; i < n; i++) d[x + i] = (d[x + i]! + d[x + i - bpp]!) & 255;
      return;
    case 2:
      if (prior < 0) return;
      for (let i = 0; i < n; i++) d[x + i] = (d[x + i]! + d[up + i]!) & 255;
      return;
    case 3:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? d[x + i - bpp]! : 0;
        const b = prior < 0 ? 0 : d[up + i]!;
        d[x + i] = (d[x + i]! + ((a + b) >> 1)) & 255;
      }
      return;
    case 4:
      for (let i = 0; i < n; i++) {
        const a = i >= bpp ? d[x + i - bpp]! : 0;
        const b = prior < 0 ? 0 : d[up + i]!;
        const c = i >= bpp && prior >= 0 ? d[up + i - bpp]! : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        d[x + i] = (d[x + i]! + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
      }
      return;
    default:
      throw new ImageDecodeError(source, `corrupt PNG: unknown filter type ${type} at byte ${at} of the image data`);
  }
}

/** The k-th sample of a row at this bit depth (sub-byte samples are packed from the high bit). */
function sample(d: Uint8Array, row: number, k: number, depth: number): number {
  if (depth === 8) return d[row + k]!;
  if (depth === 16) return (d[row + 2 * k]! << 8) | d[row + 2 * k + 1]!;
  const bit = k * depth;
  return (d[row + (bit >> 3)]! >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

function paletteRgba(s: PngStructure, source: string): Uint8Array {
  const plte = s.plte;
  if (!plte || plte.length % 3 !== 0 || plte.length === 0)
    throw new ImageDecodeError(source, 'corrupt PNG: a palette image without a valid PLTE chunk');
  const n = plte.length / 3;
  if (s.trns && s.trns.length > n)
    throw new ImageDecodeError(source, 'corrupt PNG: more transparent colours (tRNS) than palette entries');
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba.set(plte.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = s.trns && i < s.trns.length ? s.trns[i]! : 255;
  }
  return rgba;
}

/** The tRNS colour of a greyscale (one sample) or RGB (three) image, at the file's bit depth. */
function transparentColour(s: PngStructure): number[] | undefined {
  const t = s.trns;
  const n = s.colorType === 0 ? 1 : 3;
  if (!t || t.length < 2 * n) return undefined;
  return Array.from({ length: n }, (_, c) => (t[2 * c]! << 8) | t[2 * c + 1]!);
}
