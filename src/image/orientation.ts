/**
 * Applies an EXIF orientation (1..8) so the pixels come out the way the photo is meant to be
 * viewed; without this a portrait phone photo reaches the detector lying on its side.
 */
import type { RgbaImage } from '../core/image.ts';

/**
 * The stored pixel read for output pixel (x, y) is (ax*x + bx*y + cx, ay*x + by*y + cy), where the
 * c terms are 0 or "far edge" (w-1 for sx, h-1 for sy), written as a flag.
 */
const MAPS: Record<number, { ax: number; bx: number; farX: boolean; ay: number; by: number; farY: boolean }> = {
  2: { ax: -1, bx: 0, farX: true, ay: 0, by: 1, farY: false }, // mirrored
  3: { ax: -1, bx: 0, farX: true, ay: 0, by: -1, farY: true }, // upside down
  4: { ax: 1, bx: 0, farX: false, ay: 0, by: -1, farY: true }, // mirrored upside down
  5: { ax: 0, bx: 1, farX: false, ay: 1, by: 0, farY: false }, // transposed
  6: { ax: 0, bx: 1, farX: false, ay: -1, by: 0, farY: true }, // needs a quarter turn clockwise
  7: { ax: 0, bx: -1, farX: true, ay: -1, by: 0, farY: true }, // transversed
  8: { ax: 0, bx: -1, farX: true, ay: 1, by: 0, farY: false }, // needs a quarter turn counter-clockwise
};

export function applyOrientation(img: RgbaImage, orientation: number): RgbaImage {
  const m = MAPS[orientation];
  if (!m) return img;
  const { width: w, height: h } = img;
  const outW = orientation >= 5 ? h : w;
  const outH = orientation >= 5 ? w : h;
  // Whole RGBA pixels move as one 32-bit word; a misaligned view is copied first.
  const bytes = img.data.byteOffset % 4 === 0 ? img.data : new Uint8Array(img.data);
  const src = new Uint32Array(bytes.buffer, bytes.byteOffset, w * h);
  const dst = new Uint32Array(outW * outH);
  const stepX = m.ay * w + m.ax;
  const stepY = m.by * w + m.bx;
  const origin = (m.farY ? h - 1 : 0) * w + (m.farX ? w - 1 : 0);
  for (let y = 0, o = 0; y < outH; y++) {
    let s = origin + y * stepY;
    for (let x = 0; x < outW; x++, o++, s += stepX) dst[o] = src[s]!;
  }
  return { data: new Uint8Array(dst.buffer), width: outW, height: outH };
}
