/**
 * JPEG and PNG decoding to RGBA8 for Node, in pure JS and bounded memory: our own JPEG decoder (jpeg_pixels.ts,
 * bit-identical to jpeg-js) and PNG unfiltering over Node's zlib (png_pixels.ts). The format comes from the
 * magic bytes, the declared size is checked against limits before any pixel memory is allocated,
 * EXIF orientation is applied, and every failure is a typed MobileSsdError naming the source: the
 * libraries' own exceptions never escape.
 */
import { ImageDecodeError, ImageFileError, InvalidInputError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';
import { readFileCapped, readStreamCapped, type CappedRead } from '../core/read_file.ts';
import { decodeJpegPixels, JpegDataError } from './jpeg_pixels.ts';
import { readJpegStructure, JpegStructureProblem } from './jpeg_structure.ts';
import { checkDeclaredSize, resolveLimits, type DecodeLimits } from './limits.ts';
import { applyOrientation } from './orientation.ts';
import { decodePngPixels } from './png_pixels.ts';
import { readPngStructure, PngStructureProblem } from './png_structure.ts';
import { sniffImage } from './sniff.ts';

export { toRgbaImage } from './rgba.ts';
export type { DecodeLimits } from './limits.ts';

const TRUNCATED_HINT = 'the file is incomplete: copy or download it again';

/** Decodes JPEG or PNG bytes to RGBA8; `source` (a path or a short description) names the image in errors. */
export function decodeImage(bytes: Uint8Array, source: string, options: DecodeLimits = {}): RgbaImage {
  if (!(bytes instanceof Uint8Array))
    throw new InvalidInputError(`${source}: expected the encoded image as a Uint8Array or Buffer`);
  const limits = resolveLimits(options);
  if (bytes.length === 0) throw new ImageDecodeError(source, 'the file is empty');
  const sniffed = sniffImage(bytes);
  switch (sniffed.kind) {
    case 'png':
      return decodePng(bytes, source, limits);
    case 'jpeg':
      return decodeJpeg(bytes, source, limits);
    case 'truncated':
      throw new ImageDecodeError(
        source,
        `the file is truncated: ${bytes.length} bytes, the start of a ${sniffed.format} signature`,
      );
    case 'other':
      throw new ImageDecodeError(source, `${sniffed.description}; only JPEG and PNG are supported`);
  }
}

/** Reads and decodes an image file; file-system failures are ImageFileError naming the path. */
export async function readImageFile(path: string, options: DecodeLimits = {}): Promise<RgbaImage> {
  if (typeof path !== 'string' || path === '')
    throw new InvalidInputError(`expected an image file path, got ${JSON.stringify(path) ?? typeof path}`);
  const limits = resolveLimits(options);
  const read: CappedRead = {
    maxBytes: maxImageFileBytes(limits),
    what: 'image file',
    raiseHint: 'an image within the pixel limit is never this large; check the file, or raise maxPixels',
    makeError: (p, problem, hint) => new ImageFileError(p, problem, hint),
  };
  // '-' is standard input, read under the same cap (a pipe has no size to check first).
  const bytes = path === '-' ? await readStreamCapped(process.stdin, 'stdin', read) : await readFileCapped(path, read);
  return decodeImage(bytes, path === '-' ? 'stdin' : path, options);
}

function decodeJpeg(bytes: Uint8Array, source: string, limits: Required<DecodeLimits>): RgbaImage {
  const s = readJpegStructure(bytes, (w, h) => checkDeclaredSize(source, w, h, limits));
  if (s instanceof JpegStructureProblem)
    throw new ImageDecodeError(
      source,
      s.kind === 'unsupported' ? s.problem : `${s.kind} JPEG: ${s.problem}`,
      s.kind === 'truncated' ? TRUNCATED_HINT : undefined,
    );
  let image: RgbaImage;
  try {
    image = decodeJpegPixels(bytes, s);
  } catch (e) {
    if (!(e instanceof JpegDataError)) throw e;
    if (e.truncated) throw new ImageDecodeError(source, `truncated JPEG: ${e.message}`, TRUNCATED_HINT);
    throw new ImageDecodeError(source, `corrupt JPEG: ${e.message}`);
  }
  return applyOrientation(image, s.orientation);
}

function decodePng(bytes: Uint8Array, source: string, limits: Required<DecodeLimits>): RgbaImage {
  const s = readPngStructure(bytes, (w, h) => checkDeclaredSize(source, w, h, limits));
  if (s instanceof PngStructureProblem)
    throw new ImageDecodeError(
      source,
      `${s.kind} PNG: ${s.problem}`,
      s.kind === 'truncated' ? TRUNCATED_HINT : undefined,
    );
  return decodePngPixels(s, source);
}

/**
 * The largest file an image within the pixel limit can be: uncompressed 16-bit RGBA (8 bytes a pixel, what a
 * stored-deflate PNG holds at worst) plus room for metadata (EXIF, ICC profiles, text chunks).
 */
export function maxImageFileBytes(limits: Required<DecodeLimits>): number {
  return limits.maxPixels * 8 + 16 * 2 ** 20;
}
