/**
 * The EXIF Orientation tag (0x0112) from a JPEG APP1 payload. Phones store the sensor's pixels
 * unrotated and record how to turn them in this tag. Every offset in the TIFF structure comes from
 * the file, so each read is bounds-checked; broken metadata means "no rotation", never an error,
 * because the pixels themselves are still fine.
 */
const ORIENTATION_TAG = 0x0112;
const TYPE_SHORT = 3;

/** Orientation 1..8 (1 = as stored) from an APP1 payload starting with "Exif\0\0". */
export function exifOrientation(app1: Uint8Array): number {
  if (app1.length < 6 || String.fromCharCode(...app1.subarray(0, 6)) !== 'Exif\0\0') return 1;
  const tiff = app1.subarray(6);
  if (tiff.length < 8) return 1;
  const order = String.fromCharCode(tiff[0]!, tiff[1]!);
  if (order !== 'II' && order !== 'MM') return 1;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const little = order === 'II';
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd0 = view.getUint32(4, little);
  if (ifd0 < 8 || ifd0 + 2 > tiff.length) return 1;
  const count = view.getUint16(ifd0, little);
  for (let k = 0; k < count; k++) {
    const entry = ifd0 + 2 + 12 * k;
    if (entry + 12 > tiff.length) return 1;
    if (view.getUint16(entry, little) !== ORIENTATION_TAG) continue;
    if (view.getUint16(entry + 2, little) !== TYPE_SHORT || view.getUint32(entry + 4, little) < 1) return 1;
    // A single SHORT sits left-justified in the 4-byte value field.
    const value = view.getUint16(entry + 8, little);
    return value >= 1 && value <= 8 ? value : 1;
  }
  return 1;
}
