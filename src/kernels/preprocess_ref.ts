/**
 * CPU reference of the GPU preprocessing: RGBA8 image -> float NHWC [H, W, 3] at the model's size.
 * The image is placed on a virtual canvas (itself for stretch; a square or the model's aspect for
 * padding modes, filled with black), and the canvas is resized bilinearly to the model size with
 * TensorFlow's resize_bilinear rules (edge-clamped; half-pixel centres or not).
 */
import type { PreprocessSpec } from '../graph/ir.ts';

export interface RgbaImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

/** Placement of the image on the canvas that is resized to the model input; maps boxes back to pixels. */
export interface Placement {
  canvasW: number;
  canvasH: number;
  /** Top-left of the image on the canvas, in canvas pixels. */
  x0: number;
  y0: number;
}

export function placement(spec: PreprocessSpec, width: number, height: number): Placement {
  switch (spec.resize) {
    case 'stretch':
      return { canvasW: width, canvasH: height, x0: 0, y0: 0 };
    case 'pad-bottom-right': {
      const s = Math.max(width, height);
      return { canvasW: s, canvasH: s, x0: 0, y0: 0 };
    }
    case 'letterbox': {
      const target = spec.width / spec.height;
      const canvasW = Math.max(width, Math.round(height * target));
      const canvasH = Math.max(height, Math.round(width / target));
      return { canvasW, canvasH, x0: Math.floor((canvasW - width) / 2), y0: Math.floor((canvasH - height) / 2) };
    }
  }
}

/** Maps a normalized model-space box (ymin, xmin, ymax, xmax) to source-image pixels, clipped to the image. */
export function boxToImage(p: Placement, width: number, height: number, ymin: number, xmin: number, ymax: number, xmax: number) {
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const x1 = clip(xmin * p.canvasW - p.x0, width);
  const y1 = clip(ymin * p.canvasH - p.y0, height);
  const x2 = clip(xmax * p.canvasW - p.x0, width);
  const y2 = clip(ymax * p.canvasH - p.y0, height);
  return { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1) };
}

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
