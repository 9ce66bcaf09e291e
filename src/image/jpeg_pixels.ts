/**
 * JPEG pixels in bounded memory, bit-identical to jpeg-js (whose pixels the engine's parity figures were
 * measured on): the same integer IDCT (jpeg_idct.ts), nearest-sample chroma upsampling computed with the
 * same floating-point expressions, and the same colour conversion and rounding.
 *
 * Memory: a sequential JPEG coded in one scan is decoded one MCU row at a time straight into the RGBA
 * output, so it needs the file, the output and a few rows of samples. Progressive JPEGs (and sequential
 * ones coded in several scans) need every coefficient until the last scan: they are kept as 16-bit
 * integers (2 bytes per sample before subsampling; jpeg-js kept 4, plus whole-image sample planes).
 *
 * The file's structure (segment lengths, the frame header, truncation) was already checked by
 * readJpegStructure; this module trusts that walk and checks what it reads itself.
 */
import type { RgbaImage } from '../core/image.ts';
import { buildHuffmanTable, JpegDataError, type HuffmanTable } from './jpeg_bits.ts';
import { idctBlock, ZIGZAG } from './jpeg_idct.ts';
import { decodeScan, type BlockSink, type ScanComponent, type ScanParams } from './jpeg_scan.ts';
import { endOfEntropyData, type JpegStructure } from './jpeg_structure.ts';

export { JpegDataError } from './jpeg_bits.ts';

interface Component extends ScanComponent {
  id: number;
  quantIndex: number;
  quant: Int32Array;
  /** Block rows per band: the MCU's height in blocks, or 1 in a one-component frame. */
  bandRows: number;
  /** Whole-image coefficients (several scans), or one band's (a single sequential scan). */
  coefs: Int16Array | Int32Array;
  /** The last two bands' samples, `stride` bytes a line; line L is at (L mod ringLines) * stride. */
  ring: Uint8Array;
  ringLines: number;
  stride: number;
  /** Sample column of each output column, and the vertical scale, as jpeg-js computes them. */
  columnOf: Int32Array;
  scaleY: number;
}

interface Segment {
  marker: number;
  payload: Uint8Array;
  /** For a scan: where its entropy-coded data starts. */
  data: number;
}

const SOS = 0xda;

/** Decodes the pixels of a JPEG whose structure `s` describes; throws JpegDataError on bad pixel data. */
export function decodeJpegPixels(bytes: Uint8Array, s: JpegStructure): RgbaImage {
  const segments = listSegments(bytes);
  const quant = finalQuantTables(segments);
  const frameSegment = segments.find((g) => g.marker >= 0xc0 && g.marker <= 0xc2)!;
  const progressive = frameSegment.marker === 0xc2;
  const frame = parseFrame(frameSegment.payload, quant, s);
  const scans = segments.filter((g) => g.marker === SOS);
  const firstScan = scanComponents(scans[0]!.payload, frame.byId);
  // One sequential scan of every component can go straight to the output, band by band.
  const streaming = !progressive && scans.length === 1 && new Set(firstScan).size === frame.unique.length;

  const out = new Uint8Array(s.width * s.height * 4);
  const writer = rowWriter(out, s, frame.order);
  const bandCount = frame.unique.length === 1 ? frame.unique[0]!.blocksPerColumn : frame.mcusPerColumn;
  for (const c of frame.unique) {
    const blocks = streaming ? c.paddedLine * c.bandRows : c.paddedLine * c.paddedColumn;
    c.coefs = streaming ? new Int32Array(blocks * 64) : new Int16Array(blocks * 64);
  }
  const work = new Int32Array(64);
  const renderBand = (band: number, streamed: boolean) => {
    for (const c of frame.unique) {
      const first = band * c.bandRows;
      for (let r = first; r < Math.min(first + c.bandRows, c.blocksPerColumn); r++) {
        const lineAt = ((r * 8) % c.ringLines) * c.stride;
        const rowAt = (streamed ? r - first : r) * c.paddedLine * 64;
        for (let b = 0; b < c.blocksPerLine; b++)
          idctBlock(c.coefs, rowAt + b * 64, c.quant, work, c.ring, lineAt + b * 8, c.stride);
      }
    }
    writer.emit(band);
  };

  let band = -1;
  const sink: BlockSink<Component> = streaming
    ? {
        startRow(row) {
          if (band >= 0) renderBand(band, true);
          band = row;
          for (const c of frame.unique) c.coefs.fill(0);
        },
        coefficients: (c) => c.coefs,
        offset: (c, r, col) => ((r - band * c.bandRows) * c.paddedLine + col) * 64,
      }
    : { startRow() {}, coefficients: (c) => c.coefs, offset: (c, r, col) => (r * c.paddedLine + col) * 64 };

  const dc: (HuffmanTable | undefined)[] = [];
  const ac: (HuffmanTable | undefined)[] = [];
  let restartInterval = 0;
  for (const g of segments) {
    if (g.marker === 0xc4) defineHuffmanTables(g.payload, dc, ac);
    else if (g.marker === 0xdd) restartInterval = g.payload.length >= 2 ? (g.payload[0]! << 8) | g.payload[1]! : 0;
    else if (g.marker === SOS) {
      const comps = scanComponents(g.payload, frame.byId);
      const n = g.payload[0]!;
      comps.forEach((c, k) => {
        const tables = g.payload[2 + 2 * k]!;
        c.dc = dc[tables >> 4];
        c.ac = ac[tables & 15];
      });
      const params: ScanParams = {
        start: g.payload[1 + 2 * n]!,
        end: g.payload[2 + 2 * n]!,
        high: g.payload[3 + 2 * n]! >> 4,
        low: g.payload[3 + 2 * n]! & 15,
        progressive,
        restartInterval,
        mcusPerLine: frame.mcusPerLine,
        mcusPerColumn: frame.mcusPerColumn,
        size: `${s.width}x${s.height}`,
      };
      if (progressive && (params.start > params.end || params.end > 63 || (params.start === 0) !== (params.end === 0)))
        throw new JpegDataError(`a progressive scan has an invalid spectral selection ${params.start}..${params.end}`);
      decodeScan(bytes, g.data, comps, params, sink);
    }
  }
  if (streaming) renderBand(band, true);
  else for (let b = 0; b < bandCount; b++) renderBand(b, false);
  writer.finish();
  return { data: out, width: s.width, height: s.height };
}

/** Every marker segment after SOI, in order (the structure walk has checked their lengths). */
function listSegments(b: Uint8Array): Segment[] {
  const segments: Segment[] = [];
  let i = 2;
  while (i < b.length) {
    while (b[i] === 0xff && b[i + 1] === 0xff) i++;
    const marker = b[i + 1]!;
    i += 2;
    if (marker === 0xd9) break;
    if (marker >= 0xd0 && marker <= 0xd7) continue;
    const length = (b[i]! << 8) | b[i + 1]!;
    const payload = b.subarray(i + 2, i + length);
    i += length;
    segments.push({ marker, payload, data: i });
    if (marker === SOS) i = endOfEntropyData(b, i);
  }
  return segments;
}

/** Quantisation tables in natural order; jpeg-js applies the last definition of each to the whole image. */
function finalQuantTables(segments: Segment[]): (Int32Array | undefined)[] {
  const tables: (Int32Array | undefined)[] = [];
  for (const g of segments) {
    if (g.marker !== 0xdb) continue;
    const p = g.payload;
    for (let at = 0; at < p.length;) {
      const spec = p[at++]!;
      const wide = spec >> 4;
      if (wide > 1) throw new JpegDataError(`quantisation table with invalid precision ${wide}`);
      if (at + 64 * (wide + 1) > p.length) throw new JpegDataError('a quantisation table runs past its segment');
      const t = new Int32Array(64);
      for (let k = 0; k < 64; k++, at += wide + 1) t[ZIGZAG[k]!] = wide ? (p[at]! << 8) | p[at + 1]! : p[at]!;
      tables[spec & 15] = t;
    }
  }
  return tables;
}

function defineHuffmanTables(p: Uint8Array, dc: (HuffmanTable | undefined)[], ac: (HuffmanTable | undefined)[]): void {
  for (let at = 0; at < p.length;) {
    const spec = p[at]!;
    if (at + 17 > p.length) throw new JpegDataError('a Huffman table runs past its segment');
    const counts = p.subarray(at + 1, at + 17);
    const n = counts.reduce((a, v) => a + v, 0);
    if (at + 17 + n > p.length) throw new JpegDataError('a Huffman table runs past its segment');
    (spec >> 4 === 0 ? dc : ac)[spec & 15] = buildHuffmanTable(counts, p.subarray(at + 17, at + 17 + n));
    at += 17 + n;
  }
}

interface Frame {
  /** Components in frame-header order (a repeated id names the same component, as in jpeg-js). */
  order: Component[];
  unique: Component[];
  byId: Map<number, Component>;
  mcusPerLine: number;
  mcusPerColumn: number;
}

function parseFrame(p: Uint8Array, quant: (Int32Array | undefined)[], s: JpegStructure): Frame {
  const n = p[5]!;
  const byId = new Map<number, Component>();
  const ids: number[] = [];
  for (let k = 0; k < n; k++) {
    const id = p[6 + 3 * k]!;
    ids.push(id);
    byId.set(id, { id, h: p[7 + 3 * k]! >> 4, v: p[7 + 3 * k]! & 15, quantIndex: p[8 + 3 * k]! } as Component);
  }
  const unique = [...byId.values()];
  let maxH = 1,
    maxV = 1;
  for (const c of unique) {
    maxH = Math.max(maxH, c.h);
    maxV = Math.max(maxV, c.v);
  }
  // The expressions are jpeg-js's: the sizes, and so the upsampling, depend on their floating-point rounding.
  const mcusPerLine = Math.ceil(s.width / 8 / maxH);
  const mcusPerColumn = Math.ceil(s.height / 8 / maxV);
  for (const c of unique) {
    const q = quant[c.quantIndex];
    if (!q) throw new JpegDataError(`component ${c.id} uses quantisation table ${c.quantIndex}, which is not defined`);
    c.quant = q;
    c.blocksPerLine = Math.ceil((Math.ceil(s.width / 8) * c.h) / maxH);
    c.blocksPerColumn = Math.ceil((Math.ceil(s.height / 8) * c.v) / maxV);
    c.paddedLine = mcusPerLine * c.h;
    c.paddedColumn = mcusPerColumn * c.v;
    c.bandRows = unique.length === 1 ? 1 : c.v;
    c.ringLines = 2 * 8 * c.bandRows;
    c.stride = c.blocksPerLine * 8;
    c.ring = new Uint8Array(c.ringLines * c.stride);
    const scaleX = c.h / maxH;
    c.columnOf = Int32Array.from({ length: s.width }, (_, x) => 0 | (x * scaleX));
    c.scaleY = c.v / maxV;
    c.pred = 0;
  }
  return { order: ids.map((id) => byId.get(id)!), unique, byId, mcusPerLine, mcusPerColumn };
}

function scanComponents(p: Uint8Array, byId: Map<number, Component>): Component[] {
  const n = p[0]!;
  const comps: Component[] = [];
  for (let k = 0; k < n; k++) {
    const c = byId.get(p[1 + 2 * k]!);
    if (!c) throw new JpegDataError(`a scan names component ${p[1 + 2 * k]}, which the frame does not have`);
    comps.push(c);
  }
  return comps;
}

/**
 * Converts sample rows to RGBA rows as soon as every component's samples for them are in its ring: jpeg-js's
 * upsampling (line floor(y * v / maxV), column floor(x * h / maxH)) and colour conversion.
 */
function rowWriter(out: Uint8Array, s: JpegStructure, order: Component[]) {
  const { width, height } = s;
  const unique = [...new Set(order)];
  const convert = converter(order.length, s);
  const lines = new Int32Array(order.length);
  let y = 0;
  return {
    /** Writes the rows whose samples are available once `band` is in the rings. */
    emit(band: number): void {
      for (; y < height; y++) {
        for (const c of unique) {
          const available = Math.min((band + 1) * c.bandRows, c.blocksPerColumn) * 8;
          const line = 0 | (y * c.scaleY);
          if (line >= available) return;
          // The ring holds this band and the one before (a line that float rounding put one band back).
          if (line < (band - 1) * c.bandRows * 8) throw new Error(`internal: JPEG sample line ${line} left the ring`);
        }
        for (let k = 0; k < order.length; k++) {
          const c = order[k]!;
          lines[k] = ((0 | (y * c.scaleY)) % c.ringLines) * c.stride;
        }
        convert(out, y * width * 4, width, order, lines);
      }
    },
    finish(): void {
      if (y !== height) throw new JpegDataError(`the image data holds ${y} of its ${height} rows`, true);
    },
  };
}

type Convert = (out: Uint8Array, at: number, width: number, comps: Component[], lines: Int32Array) => void;

const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

function converter(n: number, s: JpegStructure): Convert {
  if (n === 1) {
    return (out, at, width, [g], lines) => {
      const ring = g!.ring,
        col = g!.columnOf,
        base = lines[0]!;
      for (let x = 0; x < width; x++, at += 4) {
        const v = ring[base + col[x]!]!;
        out[at] = out[at + 1] = out[at + 2] = v;
        out[at + 3] = 255;
      }
    };
  }
  if (n === 3) {
    // jpeg-js treats three components as YCbCr unless told otherwise: Adobe's transform flag, or 'R','G','B' ids.
    const ycc = s.adobeTransform !== undefined ? s.adobeTransform !== 0 : !s.rgbComponentIds;
    return (out, at, width, comps, lines) => {
      const [a, b, c] = comps as [Component, Component, Component];
      const la = lines[0]!,
        lb = lines[1]!,
        lc = lines[2]!;
      for (let x = 0; x < width; x++, at += 4) {
        const s0 = a.ring[la + a.columnOf[x]!]!;
        const s1 = b.ring[lb + b.columnOf[x]!]!;
        const s2 = c.ring[lc + c.columnOf[x]!]!;
        if (ycc) {
          out[at] = clamp(s0 + 1.402 * (s2 - 128));
          out[at + 1] = clamp(s0 - 0.3441363 * (s1 - 128) - 0.71413636 * (s2 - 128));
          out[at + 2] = clamp(s0 + 1.772 * (s1 - 128));
        } else {
          out[at] = s0;
          out[at + 1] = s1;
          out[at + 2] = s2;
        }
        out[at + 3] = 255;
      }
    };
  }
  if (!s.adobe)
    throw new JpegDataError('a 4-component JPEG without an Adobe segment: whether it is CMYK or YCCK is unknown');
  const ycck = !!s.adobeTransform;
  return (out, at, width, comps, lines) => {
    const [a, b, c, d] = comps as [Component, Component, Component, Component];
    for (let x = 0; x < width; x++, at += 4) {
      const s0 = a.ring[lines[0]! + a.columnOf[x]!]!;
      const s1 = b.ring[lines[1]! + b.columnOf[x]!]!;
      const s2 = c.ring[lines[2]! + c.columnOf[x]!]!;
      const k = 255 - d.ring[lines[3]! + d.columnOf[x]!]!;
      // Adobe stores CMYK inverted; jpeg-js's two steps (to C, M, Y bytes, then to RGB) round as they do here.
      let cc: number, mm: number, yy: number;
      if (ycck) {
        cc = 0 | (255 - (255 - clamp(s0 + 1.402 * (s2 - 128))));
        mm = 0 | (255 - (255 - clamp(s0 - 0.3441363 * (s1 - 128) - 0.71413636 * (s2 - 128))));
        yy = 0 | (255 - (255 - clamp(s0 + 1.772 * (s1 - 128))));
      } else {
        cc = 255 - s0;
        mm = 255 - s1;
        yy = 255 - s2;
      }
      out[at] = 255 - clamp(cc * (1 - k / 255) + k);
      out[at + 1] = 255 - clamp(mm * (1 - k / 255) + k);
      out[at + 2] = 255 - clamp(yy * (1 - k / 255) + k);
      out[at + 3] = 255;
    }
  };
}
