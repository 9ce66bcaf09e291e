/**
 * Where an image sits on the canvas that is resized to the model input (stretch, pad to a square, letterbox),
 * and the way back: model-space boxes to source-image pixels.
 */
import type { PreprocessSpec } from '../core/model_spec.ts';

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
export function boxToImage(
  p: Placement,
  width: number,
  height: number,
  ymin: number,
  xmin: number,
  ymax: number,
  xmax: number,
) {
  const clip = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const x1 = clip(xmin * p.canvasW - p.x0, width);
  const y1 = clip(ymin * p.canvasH - p.y0, height);
  const x2 = clip(xmax * p.canvasW - p.x0, width);
  const y2 = clip(ymax * p.canvasH - p.y0, height);
  return { x: x1, y: y1, width: Math.max(0, x2 - x1), height: Math.max(0, y2 - y1) };
}

/** Maps a normalized model-space point to source-image pixels (not clipped). */
export function pointToImage(p: Placement, x: number, y: number): { x: number; y: number } {
  return { x: x * p.canvasW - p.x0, y: y * p.canvasH - p.y0 };
}
