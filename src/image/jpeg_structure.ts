/**
 * A bounds-checked walk over a JPEG's marker segments, from SOI to EOI, done before the pixel
 * decoder runs. It reads what the decoder must know up front (the declared size, to refuse absurd
 * images before allocating; the coding process, to name unsupported kinds; the EXIF orientation;
 * the colour space hints), and it finds truncation: a file that ends before its EOI marker is cut
 * off, which the pixel decoder would otherwise fill with grey or misreport.
 */
import { exifOrientation } from './exif.ts';

export interface JpegStructure {
  width: number;
  height: number;
  components: number;
  /** EXIF orientation 1..8. */
  orientation: number;
  /** An Adobe APP14 segment is present (what tells a 4-component JPEG's colours apart, as CMYK or YCCK). */
  adobe: boolean;
  /** The Adobe APP14 colour transform code, when that segment is present and long enough to hold it. */
  adobeTransform: number | undefined;
  /** Component ids 'R', 'G', 'B': an RGB (not YCbCr) JPEG without an Adobe segment. */
  rgbComponentIds: boolean;
}

/** A structural problem: a cut-off file, corrupt content, or a valid JPEG of a kind we do not decode. */
export class JpegStructureProblem {
  constructor(
    readonly problem: string,
    readonly kind: 'truncated' | 'corrupt' | 'unsupported',
  ) {}
}

const SOF_KINDS: Record<number, string | undefined> = {
  0xc0: undefined, // baseline
  0xc1: undefined, // extended sequential, Huffman
  0xc2: undefined, // progressive, Huffman
  0xc3: 'lossless JPEG',
  0xc5: 'hierarchical (differential) JPEG',
  0xc6: 'hierarchical (differential) JPEG',
  0xc7: 'hierarchical (differential) JPEG',
  0xc9: 'arithmetic-coded JPEG',
  0xca: 'arithmetic-coded JPEG',
  0xcb: 'arithmetic-coded JPEG',
  0xcd: 'arithmetic-coded hierarchical JPEG',
  0xce: 'arithmetic-coded hierarchical JPEG',
  0xcf: 'arithmetic-coded hierarchical JPEG',
};

const SOS = 0xda;
const EOI = 0xd9;

/** `onFrame` sees the declared size as soon as the frame header is read, so a size check can stop the walk. */
export function readJpegStructure(
  b: Uint8Array,
  onFrame: (width: number, height: number) => void,
): JpegStructure | JpegStructureProblem {
  let frame: Frame | undefined;
  let orientation: number | undefined;
  let adobeTransform: number | undefined;
  let adobe = false;
  let scans = 0;
  let i = 2; // after SOI
  for (;;) {
    if (i >= b.length)
      return new JpegStructureProblem(`the file ends at byte ${b.length} before the end-of-image marker`, 'truncated');
    if (b[i] !== 0xff)
      return new JpegStructureProblem(`expected a marker at byte ${i}, found 0x${b[i]!.toString(16)}`, 'corrupt');
    while (i < b.length && b[i] === 0xff) i++; // fill bytes may pad any marker
    if (i >= b.length) return new JpegStructureProblem('the file ends inside a marker', 'truncated');
    const marker = b[i++]!;
    if (marker === EOI) {
      if (!frame) return new JpegStructureProblem('no frame header (SOF) before the end-of-image marker', 'corrupt');
      if (scans === 0) return new JpegStructureProblem('no image data (SOS) before the end-of-image marker', 'corrupt');
      const { sampling: _, ...declared } = frame;
      return { ...declared, orientation: orientation ?? 1, adobe, adobeTransform };
    }
    if (marker >= 0xd0 && marker <= 0xd7) continue; // a stray restart marker carries no data
    if (marker === 0x00 || marker === 0xd8)
      return new JpegStructureProblem(`unexpected marker 0xff${hex(marker)} at byte ${i - 2}`, 'corrupt');
    if (i + 2 > b.length) return new JpegStructureProblem('the file ends inside a segment header', 'truncated');
    const length = (b[i]! << 8) | b[i + 1]!;
    if (length < 2)
      return new JpegStructureProblem(
        `segment 0xff${hex(marker)} at byte ${i - 2} has an impossible length ${length}`,
        'corrupt',
      );
    if (i + length > b.length)
      return new JpegStructureProblem(
        `segment 0xff${hex(marker)} at byte ${i - 2} runs past the end of the file`,
        'truncated',
      );
    const payload = b.subarray(i + 2, i + length);
    i += length;

    if (marker in SOF_KINDS) {
      const unsupported = SOF_KINDS[marker];
      if (unsupported)
        return new JpegStructureProblem(
          `${unsupported} is not supported (only baseline and progressive Huffman JPEG)`,
          'unsupported',
        );
      if (frame) return new JpegStructureProblem('more than one frame header (SOF)', 'corrupt');
      const parsed = parseFrame(payload);
      if (parsed instanceof JpegStructureProblem) return parsed;
      frame = parsed;
      onFrame(parsed.width, parsed.height);
    } else if (marker === 0xe1 && orientation === undefined && isExif(payload)) {
      orientation = exifOrientation(payload);
    } else if (marker === 0xee && String.fromCharCode(...payload.subarray(0, 6)) === 'Adobe\0') {
      adobe = true;
      adobeTransform = payload[11];
    } else if (marker === SOS) {
      if (!frame) return new JpegStructureProblem('image data (SOS) comes before the frame header (SOF)', 'corrupt');
      scans++;
      const next = endOfEntropyData(b, i);
      if (next < 0)
        return new JpegStructureProblem(
          `the file ends inside the image data at byte ${b.length} (no end-of-image marker)`,
          'truncated',
        );
      const short = scanTooShort(frame, payload, next - i, scans);
      if (short) return short;
      i = next;
    }
  }
}

/** The frame header: declared size, components and each component's id -> sampling factors. */
type Frame = Pick<JpegStructure, 'width' | 'height' | 'components' | 'rgbComponentIds'> & {
  sampling: Map<number, { h: number; v: number }>;
};

function parseFrame(p: Uint8Array): Frame | JpegStructureProblem {
  if (p.length < 6) return new JpegStructureProblem('frame header (SOF) is too short', 'corrupt');
  const precision = p[0]!;
  const height = (p[1]! << 8) | p[2]!;
  const width = (p[3]! << 8) | p[4]!;
  const components = p[5]!;
  if (precision !== 8)
    return new JpegStructureProblem(`${precision}-bit JPEG is not supported (only 8-bit samples)`, 'unsupported');
  // Height 0 means "given later by a DNL marker", which no decoder we use understands.
  if (width === 0 || height === 0)
    return new JpegStructureProblem(`the frame header declares a zero-sized ${width}x${height} image`, 'corrupt');
  if (components !== 1 && components !== 3 && components !== 4) {
    return new JpegStructureProblem(
      `${components}-component JPEG is not supported (only greyscale, YCbCr/RGB and CMYK)`,
      'unsupported',
    );
  }
  if (p.length < 6 + 3 * components)
    return new JpegStructureProblem('frame header (SOF) is too short for its components', 'corrupt');
  const ids: number[] = [];
  const sampling = new Map<number, { h: number; v: number }>();
  for (let c = 0; c < components; c++) {
    const factors = p[7 + 3 * c]!;
    const h = factors >> 4;
    const v = factors & 15;
    if (h < 1 || h > 4 || v < 1 || v > 4)
      return new JpegStructureProblem(`component ${c} has invalid sampling factors ${h}x${v}`, 'corrupt');
    ids.push(p[6 + 3 * c]!);
    sampling.set(p[6 + 3 * c]!, { h, v });
  }
  const rgbComponentIds = components === 3 && String.fromCharCode(...ids) === 'RGB';
  return { width, height, components, rgbComponentIds, sampling };
}

/**
 * A scan that codes DC coefficients (a baseline scan, or a progressive scan with Ss = 0) spends at least one bit
 * on every 8x8 block of each of its components: a Huffman code is never shorter than one bit. A scan with fewer
 * bytes than that cannot hold the image its header declares: the file was cut, or its SOF was altered. jpeg-js
 * would decode such a file without complaint, into a mostly grey image of the declared (maybe huge) size.
 * AC scans are not checked: one end-of-band run may cover thousands of blocks.
 */
function scanTooShort(frame: Frame, sos: Uint8Array, bytes: number, scan: number): JpegStructureProblem | undefined {
  const n = sos[0] ?? 0;
  if (sos.length < 1 + 2 * n + 3) return new JpegStructureProblem(`scan ${scan} has a short header`, 'corrupt');
  if (sos[1 + 2 * n] !== 0) return undefined;
  let hMax = 1,
    vMax = 1;
  for (const f of frame.sampling.values()) {
    hMax = Math.max(hMax, f.h);
    vMax = Math.max(vMax, f.v);
  }
  let blocks = 0;
  for (let k = 0; k < n; k++) {
    const f = frame.sampling.get(sos[1 + 2 * k]!);
    if (!f) return new JpegStructureProblem(`scan ${scan} names a component the frame does not have`, 'corrupt');
    const w = Math.ceil((frame.width * f.h) / hMax);
    const h = Math.ceil((frame.height * f.v) / vMax);
    blocks += Math.ceil(w / 8) * Math.ceil(h / 8);
  }
  const needed = Math.ceil(blocks / 8);
  if (bytes >= needed) return undefined;
  const fraction = ((100 * bytes * 8) / blocks).toFixed(1);
  return new JpegStructureProblem(
    `scan ${scan} holds ${bytes} bytes of image data, but the ${frame.width}x${frame.height} image its header declares needs at least ${needed} (at most ${fraction}% of the image is there): the file is cut short or its header was altered`,
    'truncated',
  );
}

function isExif(p: Uint8Array): boolean {
  return p.length >= 6 && String.fromCharCode(...p.subarray(0, 6)) === 'Exif\0\0';
}

/** The offset of the marker that ends a scan's entropy-coded data, or -1 if the file ends first. */
export function endOfEntropyData(b: Uint8Array, from: number): number {
  for (let j = from; j + 1 < b.length; j++) {
    if (b[j] !== 0xff) continue;
    const next = b[j + 1]!;
    // FF00 is an escaped data byte, FFD0..FFD7 restart markers inside the scan, FFFF fill.
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return j;
  }
  return -1;
}

function hex(v: number): string {
  return v.toString(16).padStart(2, '0');
}
