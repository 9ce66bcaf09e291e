/**
 * Format detection by magic bytes. File extensions lie (a .jpg that is really a PNG or a WebP is
 * common on the web), so the decoder trusts only the content, and names what it found when it
 * cannot decode it.
 */
export type Sniffed =
  | { kind: 'png' | 'jpeg' }
  /** Too short to hold the signature but a prefix of it: a cut-off download. */
  | { kind: 'truncated'; format: 'PNG' | 'JPEG' }
  | { kind: 'other'; description: string };

export const PNG_SIGNATURE: readonly number[] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_SIGNATURE: readonly number[] = [0xff, 0xd8, 0xff];

/** Formats we recognise only to name them in the error. */
const OTHER_FORMATS: readonly { name: string; test: (b: Uint8Array) => boolean }[] = [
  { name: 'a GIF image', test: (b) => ascii(b, 0, 4) === 'GIF8' },
  { name: 'a WebP image', test: (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 4) === 'WEBP' },
  {
    name: 'a BMP image',
    test: (b) =>
      ascii(b, 0, 2) === 'BM' &&
      [12, 40, 52, 56, 64, 108, 124].includes(b[14]!) &&
      b[15] === 0 &&
      b[16] === 0 &&
      b[17] === 0,
  },
  { name: 'a TIFF image', test: (b) => ['II*\0', 'MM\0*'].includes(ascii(b, 0, 4)) },
  { name: 'an AVIF image', test: (b) => ascii(b, 4, 4) === 'ftyp' && ['avif', 'avis'].includes(ascii(b, 8, 4)) },
  {
    name: 'a HEIC/HEIF image',
    test: (b) =>
      ascii(b, 4, 4) === 'ftyp' && ['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1', 'msf1'].includes(ascii(b, 8, 4)),
  },
  { name: 'a video file', test: (b) => ascii(b, 4, 4) === 'ftyp' },
  { name: 'a JPEG XL image', test: (b) => (b[0] === 0xff && b[1] === 0x0a) || ascii(b, 4, 4) === 'JXL ' },
  { name: 'a JPEG 2000 image', test: (b) => ascii(b, 4, 4) === 'jP  ' },
  { name: 'an ICO icon', test: (b) => b.length >= 6 && b[0] === 0 && b[1] === 0 && b[2] === 1 && b[3] === 0 },
  { name: 'a QOI image', test: (b) => ascii(b, 0, 4) === 'qoif' },
  { name: 'a Photoshop document', test: (b) => ascii(b, 0, 4) === '8BPS' },
  { name: 'a PDF document', test: (b) => ascii(b, 0, 5) === '%PDF-' },
  { name: 'a ZIP archive', test: (b) => ascii(b, 0, 4) === 'PK\x03\x04' },
  { name: 'a gzip archive', test: (b) => b[0] === 0x1f && b[1] === 0x8b },
  { name: 'an SVG or XML document', test: (b) => /^\s*(<\?xml|<svg)/i.test(ascii(b, 0, 64)) },
  {
    name: 'an HTML page (a web page saved instead of the image?)',
    test: (b) => /^\s*(<!doctype html|<html)/i.test(ascii(b, 0, 64)),
  },
];

export function sniffImage(bytes: Uint8Array): Sniffed {
  if (startsWith(bytes, PNG_SIGNATURE)) return { kind: 'png' };
  if (startsWith(bytes, JPEG_SIGNATURE)) return { kind: 'jpeg' };
  if (bytes.length < PNG_SIGNATURE.length && isPrefixOf(bytes, PNG_SIGNATURE))
    return { kind: 'truncated', format: 'PNG' };
  if (bytes.length < JPEG_SIGNATURE.length && isPrefixOf(bytes, JPEG_SIGNATURE))
    return { kind: 'truncated', format: 'JPEG' };
  const other = OTHER_FORMATS.find((f) => f.test(bytes));
  if (other) return { kind: 'other', description: `it is ${other.name}` };
  if (looksLikeText(bytes)) return { kind: 'other', description: 'it is a text file, not an image' };
  const head = Array.from(bytes.subarray(0, 8), (v) => v.toString(16).padStart(2, '0')).join(' ');
  return { kind: 'other', description: `unrecognised format (starts with bytes ${head})` };
}

function ascii(b: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...b.subarray(at, at + n));
}

function startsWith(b: Uint8Array, sig: readonly number[]): boolean {
  return b.length >= sig.length && sig.every((v, i) => b[i] === v);
}

function isPrefixOf(b: Uint8Array, sig: readonly number[]): boolean {
  return b.every((v, i) => sig[i] === v);
}

/** Printable ASCII, whitespace or UTF-8 multi-byte sequences throughout the first 512 bytes. */
function looksLikeText(b: Uint8Array): boolean {
  const head = b.subarray(0, 512);
  for (const v of head) {
    const printable = (v >= 0x20 && v < 0x7f) || v === 0x09 || v === 0x0a || v === 0x0d || v >= 0x80;
    if (!printable) return false;
  }
  try {
    // A multi-byte character cut at the 512-byte window end is still text.
    new TextDecoder('utf-8', { fatal: true }).decode(head.length === b.length ? head : trimPartialUtf8(head));
    return true;
  } catch {
    return false;
  }
}

function trimPartialUtf8(b: Uint8Array): Uint8Array {
  let end = b.length;
  for (let k = 0; k < 3 && end > 0 && (b[end - 1]! & 0xc0) === 0x80; k++) end--;
  if (end > 0 && b[end - 1]! >= 0xc0) end--;
  return b.subarray(0, end);
}
