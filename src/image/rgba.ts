/**
 * Validation of raw pixel inputs ({data, width, height}, e.g. a canvas ImageData or a decoder's
 * output). Platform-neutral: the browser entry uses it too.
 */
import { InvalidInputError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';

const RAW_HINT =
  'pass {data, width, height} with data a Uint8Array/Uint8ClampedArray/Buffer of width*height*4 RGBA bytes';

/** Checks a raw RGBA8 input and returns it as an RgbaImage (the pixel data is not copied). */
export function toRgbaImage(input: unknown, source = 'image'): RgbaImage {
  if (typeof input !== 'object' || input === null)
    throw new InvalidInputError(`${source}: expected {data, width, height}, got ${describeValue(input)}`, RAW_HINT);
  const { data, width, height } = input as Record<string, unknown>;
  if (!(data instanceof Uint8Array) && !(data instanceof Uint8ClampedArray)) {
    throw new InvalidInputError(
      `${source}: data must be a Uint8Array, Uint8ClampedArray or Buffer of RGBA bytes, got ${describeValue(data)}`,
      RAW_HINT,
    );
  }
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new InvalidInputError(`${source}: ${name} must be a positive integer, got ${describeValue(v)}`, RAW_HINT);
    }
  }
  const w = width as number;
  const h = height as number;
  if (data.length !== w * h * 4) {
    const hint =
      data.length === w * h * 3 ? 'the data looks like RGB (3 bytes per pixel): add an alpha channel' : RAW_HINT;
    throw new InvalidInputError(
      `${source}: data has ${data.length} bytes, but a ${w}x${h} RGBA image needs ${w * h * 4}`,
      hint,
    );
  }
  return { data, width: w, height: h };
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an Array';
  if (typeof v === 'object') return `a ${v.constructor?.name ?? 'object'}`;
  if (typeof v === 'number') return String(v);
  return typeof v;
}
