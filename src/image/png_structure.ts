/**
 * A bounds-checked walk over a PNG's chunks before the pixel decoder runs: the IHDR (declared size,
 * to refuse absurd images before allocating; a valid bit depth / colour type pair), truncation (a
 * chunk running past the end, or no IEND), chunk CRCs (pngjs detects a mismatch but then reports a
 * misleading "unrecognised content at end of stream"), and how many bytes the image data must
 * inflate to.
 */
import { crc32 } from './crc32.ts';

export interface PngStructure {
  width: number;
  height: number;
  /** The IDAT payloads, as views into the file. */
  idat: Uint8Array[];
  /** Exact size of the inflated, still filtered image data the header implies. */
  inflatedSize: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
  /** The PLTE and tRNS payloads, when present. */
  plte?: Uint8Array;
  trns?: Uint8Array;
}

/** A structural problem: a cut-off file, or corrupt content. */
export class PngStructureProblem {
  constructor(
    readonly problem: string,
    readonly kind: 'truncated' | 'corrupt',
  ) {}
}

/** Allowed bit depths per colour type (PNG spec, table 11.1). */
const DEPTHS: Record<number, readonly number[]> = {
  0: [1, 2, 4, 8, 16], // greyscale
  2: [8, 16], // RGB
  3: [1, 2, 4, 8], // palette
  4: [8, 16], // greyscale + alpha
  6: [8, 16], // RGBA
};
export const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: x0, y0, dx, dy. */
export const ADAM7: readonly (readonly [number, number, number, number])[] = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
];

/** `onHeader` sees the declared size as soon as IHDR is read, so a size check can stop the walk. */
export function readPngStructure(
  b: Uint8Array,
  onHeader: (width: number, height: number) => void,
): PngStructure | PngStructureProblem {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let header: Omit<PngStructure, 'idat'> | undefined;
  let plte: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  let i = 8; // after the signature
  for (;;) {
    if (i === b.length)
      return new PngStructureProblem(`the file ends at byte ${b.length} before the IEND chunk`, 'truncated');
    if (i + 8 > b.length)
      return new PngStructureProblem(`the file ends inside a chunk header at byte ${i}`, 'truncated');
    const length = view.getUint32(i);
    const type = String.fromCharCode(...b.subarray(i + 4, i + 8));
    if (!/^[A-Za-z]{4}$/.test(type)) return new PngStructureProblem(`invalid chunk type at byte ${i + 4}`, 'corrupt');
    if (length > 0x7fffffff)
      return new PngStructureProblem(`chunk ${type} at byte ${i} has an impossible length ${length}`, 'corrupt');
    if (i + 12 + length > b.length)
      return new PngStructureProblem(`chunk ${type} at byte ${i} runs past the end of the file`, 'truncated');
    const data = b.subarray(i + 8, i + 8 + length);
    if (crc32(b.subarray(i + 4, i + 8 + length)) !== view.getUint32(i + 8 + length)) {
      return new PngStructureProblem(`chunk ${type} at byte ${i} fails its CRC check`, 'corrupt');
    }
    i += 12 + length;
    if (!header) {
      if (type !== 'IHDR') return new PngStructureProblem(`the first chunk is ${type}, not IHDR`, 'corrupt');
      const parsed = parseHeader(data);
      if (parsed instanceof PngStructureProblem) return parsed;
      header = parsed;
      onHeader(parsed.width, parsed.height);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'PLTE') {
      plte = data;
    } else if (type === 'tRNS') {
      trns = data;
    } else if (type === 'IEND') {
      if (!idat.length) return new PngStructureProblem('no image data (IDAT chunk)', 'corrupt');
      return { ...header, idat, ...(plte ? { plte } : {}), ...(trns ? { trns } : {}) };
    }
  }
}

function parseHeader(d: Uint8Array): Omit<PngStructure, 'idat'> | PngStructureProblem {
  if (d.length !== 13) return new PngStructureProblem(`IHDR has length ${d.length}, not 13`, 'corrupt');
  const view = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const width = view.getUint32(0);
  const height = view.getUint32(4);
  const [depth, colorType, compression, filter, interlace] = [d[8]!, d[9]!, d[10]!, d[11]!, d[12]!];
  if (width === 0 || height === 0)
    return new PngStructureProblem(`the header declares a zero-sized ${width}x${height} image`, 'corrupt');
  if (width > 0x7fffffff || height > 0x7fffffff)
    return new PngStructureProblem(`the header declares an impossible size ${width}x${height}`, 'corrupt');
  const depths = DEPTHS[colorType];
  if (!depths) return new PngStructureProblem(`invalid colour type ${colorType}`, 'corrupt');
  if (!depths.includes(depth))
    return new PngStructureProblem(`bit depth ${depth} is invalid for colour type ${colorType}`, 'corrupt');
  if (compression !== 0 || filter !== 0)
    return new PngStructureProblem(`unknown compression/filter method ${compression}/${filter}`, 'corrupt');
  if (interlace > 1) return new PngStructureProblem(`unknown interlace method ${interlace}`, 'corrupt');
  const bitsPerPixel = CHANNELS[colorType]! * depth;
  return {
    width,
    height,
    inflatedSize: inflatedSize(width, height, bitsPerPixel, interlace === 1),
    bitDepth: depth,
    colorType,
    interlaced: interlace === 1,
  };
}

/** Filtered scanlines: one filter-type byte plus the packed pixels per row, per Adam7 pass if interlaced. */
function inflatedSize(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number) => (w > 0 && h > 0 ? h * (1 + Math.ceil((w * bitsPerPixel) / 8)) : 0);
  if (!interlaced) return rows(width, height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) total += rows(Math.ceil((width - x0) / dx), Math.ceil((height - y0) / dy));
  return total;
}
