/**
 * Images larger than the adapter's texture limit are downscaled on the CPU (area average) before
 * upload, with a warning, instead of failing in the GPU's validation. The caller scales detection boxes
 * back by the returned factor, so they are in the original image's pixels.
 */
import type { RgbaImage } from '../core/image.ts';

/** Returns the image to upload and the factor that maps its pixels back to the original's. */
export function fitToLimit(
  img: RgbaImage,
  maxSide: number,
  source: string,
  warn: (message: string) => void,
): { image: RgbaImage; factor: number } {
  if (img.width <= maxSide && img.height <= maxSide) return { image: img, factor: 1 };
  const f = Math.ceil(Math.max(img.width, img.height) / maxSide);
  const w = Math.floor(img.width / f),
    h = Math.floor(img.height / f);
  warn(
    `${source}: ${img.width}x${img.height} exceeds this GPU's texture limit of ${maxSide}; downscaled by ${f} to ${w}x${h} on the CPU`,
  );
  const out = new Uint8Array(w * h * 4);
  const n = f * f;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let dy = 0; dy < f; dy++) {
          const row = ((y * f + dy) * img.width + x * f) * 4 + c;
          for (let dx = 0; dx < f; dx++) s += img.data[row + dx * 4]!;
        }
        out[(y * w + x) * 4 + c] = Math.round(s / n);
      }
  return { image: { data: out, width: w, height: h }, factor: f };
}
