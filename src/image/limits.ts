/**
 * Size limits checked against an image's declared header size before any pixel memory is
 * allocated, so a 100-byte file that claims to be 60000x60000 fails fast instead of exhausting RAM.
 */
import { ImageTooLargeError, InvalidOptionError } from '../errors.ts';

export interface DecodeLimits {
  /** Largest width*height accepted. Default 100 million. */
  maxPixels?: number;
  /** Largest width or height accepted. Default 16384. */
  maxSide?: number;
}

export const DEFAULT_MAX_PIXELS = 100_000_000;
export const DEFAULT_MAX_SIDE = 16384;

export function resolveLimits(options: DecodeLimits): Required<DecodeLimits> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const maxSide = options.maxSide ?? DEFAULT_MAX_SIDE;
  if (!Number.isInteger(maxPixels) || maxPixels <= 0)
    throw new InvalidOptionError('maxPixels', maxPixels, 'a positive integer');
  if (!Number.isInteger(maxSide) || maxSide <= 0)
    throw new InvalidOptionError('maxSide', maxSide, 'a positive integer');
  return { maxPixels, maxSide };
}

export function checkDeclaredSize(source: string, width: number, height: number, limits: Required<DecodeLimits>): void {
  if (width > limits.maxSide || height > limits.maxSide) {
    throw new ImageTooLargeError(source, width, height, `the limit is ${limits.maxSide} pixels per side`);
  }
  if (width * height > limits.maxPixels) {
    throw new ImageTooLargeError(
      source,
      width,
      height,
      `the limit is ${formatPixels(limits.maxPixels)}`,
      'downscale the image, or raise the limit (the maxPixels option; `--max-pixels N` on the command line) if the memory is there: decoding takes about 3 times its RGBA size',
    );
  }
}

function formatPixels(n: number): string {
  return n >= 1e6 ? `${+(n / 1e6).toFixed(2)} megapixels` : `${n} pixels`;
}
