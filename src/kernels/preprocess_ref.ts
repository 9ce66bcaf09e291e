/**
 * CPU reference of the GPU preprocessing: RGBA8 image -> float NHWC [H, W, 3] at the model's size.
 * The image is placed on a virtual canvas (itself for stretch; a square or the model's aspect for
 * padding modes, filled with black), and the canvas is resized bilinearly to the model size with
 * TensorFlow's resize_bilinear rules (edge-clamped; half-pixel centres or not).
 */
import type { PreprocessSpec } from '../core/model_spec.ts';
import type { RgbaImage } from '../core/image.ts';
import { placement } from '../image/placement.ts';

export function preprocessRef(spec: PreprocessSpec, img: RgbaImage): Float32Array {
  const p = placement(spec, img.width, img.height);
  const out = new Float32Array(spec.height * spec.width * 3);
  const sy = p.canvasH / spec.height;
  const sx = p.canvasW / spec.width;
  const pixel = (cx: number, cy: number, ch: number): number => {
    const ix = cx - p.x0;
    const iy = cy - p.y0;
    if (ix < 0 || iy < 0 || ix >= img.width || iy >= img.height) return 0;
    return img.data[(iy * img.width + ix) * 4 + ch]!;
  };
  for (let y = 0; y < spec.height; y++) {
    const fy = spec.halfPixelCenters ? (y + 0.5) * sy - 0.5 : y * sy;
    const y0 = Math.floor(fy);
    const ly = fy - y0;
    const ya = Math.min(Math.max(y0, 0), p.canvasH - 1);
    const yb = Math.min(Math.max(y0 + 1, 0), p.canvasH - 1);
    for (let x = 0; x < spec.width; x++) {
      const fx = spec.halfPixelCenters ? (x + 0.5) * sx - 0.5 : x * sx;
      const x0 = Math.floor(fx);
      const lx = fx - x0;
      const xa = Math.min(Math.max(x0, 0), p.canvasW - 1);
      const xb = Math.min(Math.max(x0 + 1, 0), p.canvasW - 1);
      for (let c = 0; c < 3; c++) {
        const top = pixel(xa, ya, c) + (pixel(xb, ya, c) - pixel(xa, ya, c)) * lx;
        const bottom = pixel(xa, yb, c) + (pixel(xb, yb, c) - pixel(xa, yb, c)) * lx;
        const v = top + (bottom - top) * ly;
        out[(y * spec.width + x) * 3 + c] = (v - spec.mean) / spec.std;
      }
    }
  }
  return out;
}
