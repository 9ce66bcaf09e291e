/**
 * A minimal PNG writer for tests: every bit depth and colour type, palettes with tRNS, and Adam7
 * interlacing, which pngjs cannot write. Rows use filter type None, cycled with Sub and Up so the
 * decoder's unfiltering is exercised too.
 */
import { deflateSync } from 'node:zlib';

export interface PngSpec {
  width: number;
  height: number;
  depth: 1 | 2 | 4 | 8 | 16;
  colorType: 0 | 2 | 3 | 4 | 6;
  /** Raw sample values, pixel by pixel, channels per pixel as the colour type says (palette: index). */
  samples: readonly number[];
  /** RGB triples for colour type 3. */
  palette?: readonly (readonly [number, number, number])[];
  /** tRNS payload: palette alphas, or the transparent grey/RGB sample as 16-bit values. */
  trns?: readonly number[];
  interlace?: boolean;
}

const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as const;
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

export function writePng(spec: PngSpec): Uint8Array {
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, spec.width);
  v.setUint32(4, spec.height);
  ihdr.set([spec.depth, spec.colorType, 0, 0, spec.interlace ? 1 : 0], 8);
  const chunks = [chunk('IHDR', ihdr)];
  if (spec.palette) chunks.push(chunk('PLTE', Uint8Array.from(spec.palette.flat())));
  if (spec.trns) {
    const bytes =
      spec.colorType === 3 ? Uint8Array.from(spec.trns) : Uint8Array.from(spec.trns.flatMap((s) => [s >> 8, s & 255]));
    chunks.push(chunk('tRNS', bytes));
  }
  const raw = spec.interlace ? interlacedScanlines(spec) : scanlines(spec, 0, 0, 1, 1);
  // Two IDAT chunks: decoders must concatenate them.
  const z = deflateSync(raw);
  const cut = z.length >> 1;
  chunks.push(chunk('IDAT', z.subarray(0, cut)), chunk('IDAT', z.subarray(cut)), chunk('IEND', new Uint8Array(0)));
  return concat([Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), ...chunks]);
}

export function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  out.set(
    Array.from(type, (c) => c.charCodeAt(0)),
    4,
  );
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Recomputes every chunk CRC, so a mutated file is judged on its content, not its checksums. */
export function fixCrcs(png: Uint8Array): Uint8Array {
  const out = new Uint8Array(png); // a copy with its own buffer (Buffer.slice would be a view)
  const v = new DataView(out.buffer);
  for (let i = 8; i + 12 <= out.length;) {
    const len = v.getUint32(i);
    if (i + 12 + len > out.length) break;
    v.setUint32(i + 8 + len, crc32(out.subarray(i + 4, i + 8 + len)));
    i += 12 + len;
  }
  return out;
}

function interlacedScanlines(spec: PngSpec): Uint8Array {
  const parts = ADAM7.map(([x0, y0, dx, dy]) => scanlines(spec, x0, y0, dx, dy));
  return concat(parts);
}

/** The filtered rows of the sub-image of pixels (x0 + i*dx, y0 + j*dy). */
function scanlines(spec: PngSpec, x0: number, y0: number, dx: number, dy: number): Uint8Array {
  const ch = CHANNELS[spec.colorType];
  const w = Math.ceil((spec.width - x0) / dx);
  const h = Math.ceil((spec.height - y0) / dy);
  if (w <= 0 || h <= 0) return new Uint8Array(0);
  const bitsPerPixel = ch * spec.depth;
  const rowBytes = Math.ceil((w * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const out = new Uint8Array(h * (rowBytes + 1));
  let prev = new Uint8Array(rowBytes);
  for (let j = 0; j < h; j++) {
    const row = new Uint8Array(rowBytes);
    let bit = 0;
    for (let i = 0; i < w; i++) {
      const p = ((y0 + j * dy) * spec.width + x0 + i * dx) * ch;
      for (let c = 0; c < ch; c++) {
        const s = spec.samples[p + c]!;
        if (spec.depth === 16) {
          row[bit >> 3] = s >> 8;
          row[(bit >> 3) + 1] = s & 255;
        } else {
          row[bit >> 3]! |= s << (8 - spec.depth - (bit & 7));
        }
        bit += spec.depth;
      }
    }
    const filter = j % 3; // 0 None, 1 Sub, 2 Up
    const line = out.subarray(j * (rowBytes + 1), (j + 1) * (rowBytes + 1));
    line[0] = filter;
    for (let k = 0; k < rowBytes; k++) {
      const predictor = filter === 1 ? (k >= bpp ? row[k - bpp]! : 0) : filter === 2 ? prev[k]! : 0;
      line[k + 1] = (row[k]! - predictor) & 255;
    }
    prev = row;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 255]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
