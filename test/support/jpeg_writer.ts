/**
 * A hand-made JPEG writer for tests, for what jpeg-js's encoder cannot write: greyscale, CMYK,
 * plain RGB, progressive scans, and arbitrary extra segments (EXIF, Adobe). Every 8x8 block is one
 * flat value, so only DC coefficients are coded (AC is a lone end-of-block) and, with a
 * quantisation table of ones, the decoded pixels equal the block values (to within IDCT rounding).
 */
export interface JpegSpec {
  /** Size in 8x8 blocks; the pixel size is 8x that unless `width`/`height` crop it. */
  blocksX: number;
  blocksY: number;
  width?: number;
  height?: number;
  /** Sample value (0..255) of component `c` in block (bx, by). */
  block: (bx: number, by: number, c: number) => number;
  components: 1 | 3 | 4;
  componentIds?: readonly number[];
  progressive?: boolean;
  /** Marker segments (full, with FFxx and length) inserted after SOI. */
  segments?: readonly Uint8Array[];
  /** Override the frame marker (e.g. 0xc9 for an arithmetic-coded header), or the precision. */
  sofMarker?: number;
  precision?: number;
}

export function writeJpeg(spec: JpegSpec): Uint8Array {
  const n = spec.components;
  const ids = spec.componentIds ?? Array.from({ length: n }, (_, c) => c + 1);
  const width = spec.width ?? spec.blocksX * 8;
  const height = spec.height ?? spec.blocksY * 8;
  const out: number[] = [0xff, 0xd8];
  for (const s of spec.segments ?? []) out.push(...s);
  out.push(...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]));
  const sof = [spec.precision ?? 8, height >> 8, height & 255, width >> 8, width & 255, n];
  for (let c = 0; c < n; c++) sof.push(ids[c]!, 0x11, 0);
  out.push(...segment(spec.sofMarker ?? (spec.progressive ? 0xc2 : 0xc0), sof));
  // DC: categories 0..11, all 4-bit codes (code = category). AC: the one symbol EOB, code '0'.
  out.push(
    ...segment(0xc4, [0x00, 0, 0, 0, 12, ...new Array<number>(12).fill(0), ...Array.from({ length: 12 }, (_, k) => k)]),
  );
  out.push(...segment(0xc4, [0x10, 1, ...new Array<number>(15).fill(0), 0x00]));
  if (spec.progressive) {
    out.push(...scan(spec, ids, [...Array(n).keys()], 0, 0, 'dc'));
    for (let c = 0; c < n; c++) out.push(...scan(spec, ids, [c], 1, 63, 'ac'));
  } else {
    out.push(...scan(spec, ids, [...Array(n).keys()], 0, 63, 'both'));
  }
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

export function segment(marker: number, payload: readonly number[]): number[] {
  const len = payload.length + 2;
  return [0xff, marker, len >> 8, len & 255, ...payload];
}

/** An APP1 EXIF segment whose IFD0 holds an ImageWidth entry and then Orientation. */
export function exifSegment(orientation: number, order: 'II' | 'MM' = 'II'): Uint8Array {
  const le = order === 'II';
  const u16 = (v: number) => (le ? [v & 255, v >> 8] : [v >> 8, v & 255]);
  const u32 = (v: number) =>
    le ? [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24] : [v >>> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255];
  const tiff = [
    ...Array.from(order, (c) => c.charCodeAt(0)),
    ...u16(42),
    ...u32(8),
    ...u16(2),
    ...u16(0x0100),
    ...u16(4),
    ...u32(1),
    ...u32(640), // ImageWidth LONG
    ...u16(0x0112),
    ...u16(3),
    ...u32(1),
    ...u16(orientation),
    0,
    0, // Orientation SHORT
    ...u32(0),
  ];
  return Uint8Array.from(segment(0xe1, [...Array.from('Exif\0\0', (c) => c.charCodeAt(0)), ...tiff]));
}

export function adobeSegment(transform: number): Uint8Array {
  return Uint8Array.from(
    segment(0xee, [...Array.from('Adobe', (c) => c.charCodeAt(0)), 0, 100, 0, 0, 0, 0, transform]),
  );
}

function scan(
  spec: JpegSpec,
  ids: readonly number[],
  comps: readonly number[],
  ss: number,
  se: number,
  part: 'dc' | 'ac' | 'both',
): number[] {
  const header = [comps.length];
  for (const c of comps) header.push(ids[c]!, 0x00);
  header.push(ss, se, 0);
  const bits = new BitWriter();
  const pred = new Array<number>(spec.components).fill(0);
  for (let by = 0; by < spec.blocksY; by++) {
    for (let bx = 0; bx < spec.blocksX; bx++) {
      for (const c of comps) {
        if (part !== 'ac') {
          // A flat block of value p has the DC coefficient 8 * (p - 128) after the level shift.
          const dc = 8 * (spec.block(bx, by, c) - 128);
          const diff = dc - pred[c]!;
          pred[c] = dc;
          const cat = diff === 0 ? 0 : 32 - Math.clz32(Math.abs(diff));
          bits.write(cat, 4);
          if (cat) bits.write(diff >= 0 ? diff : diff + (1 << cat) - 1, cat);
        }
        if (part !== 'dc') bits.write(0, 1); // EOB
      }
    }
  }
  return [...segment(0xda, header), ...bits.finish()];
}

/** MSB-first bits with JPEG byte stuffing (FF -> FF 00) and 1-padding of the last byte. */
class BitWriter {
  private bytes: number[] = [];
  private acc = 0;
  private count = 0;

  write(value: number, n: number): void {
    for (let k = n - 1; k >= 0; k--) {
      this.acc = (this.acc << 1) | ((value >> k) & 1);
      if (++this.count === 8) this.flush();
    }
  }

  finish(): number[] {
    while (this.count) this.write(1, 1);
    return this.bytes;
  }

  private flush(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.count = 0;
  }
}
