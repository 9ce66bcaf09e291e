/**
 * Pixel size of a PNG or JPEG from its header alone, so dataset readers can size thousands of images
 * without decoding any pixels. Every read is bounds-checked: short or corrupt input yields a problem,
 * never an exception, and `truncated` tells the caller that more bytes of the file might help.
 */
export interface ImageSize {
  width: number;
  height: number;
  format: 'png' | 'jpeg';
}

export interface ImageSizeProblem {
  problem: string;
  truncated: boolean;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function imageSize(bytes: Uint8Array): ImageSize | ImageSizeProblem {
  if (startsWith(bytes, PNG_SIGNATURE)) return pngSize(bytes);
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return jpegSize(bytes);
  if (bytes.length < PNG_SIGNATURE.length) return { problem: 'file too short to be an image', truncated: true };
  return { problem: 'not a PNG or JPEG file', truncated: false };
}

export function isImageSizeProblem(r: ImageSize | ImageSizeProblem): r is ImageSizeProblem {
  return 'problem' in r;
}

function pngSize(b: Uint8Array): ImageSize | ImageSizeProblem {
  // The PNG spec requires IHDR to be the first chunk: length(4) "IHDR" width(4) height(4).
  if (b.length < 24) return { problem: 'PNG ends before its IHDR chunk', truncated: true };
  if (String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR')
    return { problem: 'PNG does not start with an IHDR chunk', truncated: false };
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return sized(view.getUint32(16), view.getUint32(20), 'png');
}

function jpegSize(b: Uint8Array): ImageSize | ImageSizeProblem {
  let i = 2;
  for (;;) {
    if (i >= b.length) return { problem: 'JPEG ends before its frame header', truncated: true };
    if (b[i] !== 0xff) return { problem: `JPEG marker expected at byte ${i}`, truncated: false };
    while (i < b.length && b[i] === 0xff) i++; // fill bytes may pad any marker
    if (i >= b.length) return { problem: 'JPEG ends before its frame header', truncated: true };
    const marker = b[i++]!;
    if (isStandalone(marker)) continue;
    if (marker === 0xd9) return { problem: 'JPEG has no frame header', truncated: false };
    if (marker === 0xda) return { problem: 'JPEG scan data starts before any frame header', truncated: false };
    if (i + 2 > b.length) return { problem: 'JPEG ends inside a segment header', truncated: true };
    const length = (b[i]! << 8) | b[i + 1]!;
    if (length < 2) return { problem: `JPEG segment at byte ${i} has length ${length}`, truncated: false };
    if (isStartOfFrame(marker)) {
      // SOFn payload: precision(1) height(2) width(2) ...
      if (i + 7 > b.length) return { problem: 'JPEG ends inside its frame header', truncated: true };
      return sized((b[i + 5]! << 8) | b[i + 6]!, (b[i + 3]! << 8) | b[i + 4]!, 'jpeg');
    }
    i += length;
  }
}

function sized(width: number, height: number, format: ImageSize['format']): ImageSize | ImageSizeProblem {
  // Height 0 in a JPEG means "given later by a DNL marker", which no common encoder writes.
  if (width === 0 || height === 0)
    return { problem: `${format.toUpperCase()} header gives a ${width}x${height} image`, truncated: false };
  if (width > 0x7fffffff || height > 0x7fffffff)
    return { problem: `${format.toUpperCase()} header gives an impossible size`, truncated: false };
  return { width, height, format };
}

/** Markers without a length field: RSTn, TEM and a repeated SOI. */
function isStandalone(marker: number): boolean {
  return (marker >= 0xd0 && marker <= 0xd8) || marker === 0x01;
}

/** SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC), which share the range. */
function isStartOfFrame(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function startsWith(b: Uint8Array, prefix: readonly number[]): boolean {
  return b.length >= prefix.length && prefix.every((v, i) => b[i] === v);
}
