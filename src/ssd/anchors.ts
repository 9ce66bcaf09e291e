/**
 * SSD default boxes ("anchors") as Float32Array rows of (yCenter, xCenter, height, width),
 * normalized to the input, ordered layer, y, x, anchor: the order the box predictors emit them.
 *
 * Two generators:
 *  - gridAnchors: MediaPipe's SsdAnchorsCalculator, which reproduces the TF Object Detection API
 *    multiple_grid_anchor_generator that the TFLite SSD models were trained with;
 *  - ssdPaperAnchors: the recipe of the SSD paper (Liu et al. 2016, section 2.2).
 */
import type { GridAnchorOptions } from '../core/model_spec.ts';

/** The options compiled into MediaPipe's Objectron graph for the Open Images SSD (1917 anchors). */
export const MEDIAPIPE_SSD_300: GridAnchorOptions = {
  numLayers: 6,
  minScale: 0.2,
  maxScale: 0.95,
  inputHeight: 300,
  inputWidth: 300,
  strides: [16, 32, 64, 128, 256, 512],
  aspectRatios: [1.0, 2.0, 0.5, 3.0, 0.3333],
  anchorOffsetX: 0.5,
  anchorOffsetY: 0.5,
  reduceBoxesInLowestLayer: true,
  interpolatedScaleAspectRatio: 1.0,
};

function layerScale(o: GridAnchorOptions, layer: number): number {
  if (o.strides.length === 1) return (o.minScale + o.maxScale) / 2;
  return o.minScale + ((o.maxScale - o.minScale) * layer) / (o.strides.length - 1);
}

/** Heights and widths of the boxes in one cell of a layer group (equal-stride layers merged). */
function cellBoxes(o: GridAnchorOptions, first: number, end: number): { h: number[]; w: number[] } {
  const h: number[] = [];
  const w: number[] = [];
  const add = (scale: number, ratio: number) => {
    const r = Math.sqrt(ratio);
    h.push(scale / r);
    w.push(scale * r);
  };
  for (let layer = first; layer < end; layer++) {
    const fitted = o.cellShapes?.[layer];
    if (fitted) {
      h.push(...fitted.h);
      w.push(...fitted.w);
      continue;
    }
    const scale = layerScale(o, layer);
    if (layer === 0 && o.reduceBoxesInLowestLayer) {
      add(0.1, 1.0);
      add(scale, 2.0);
      add(scale, 0.5);
      continue;
    }
    const next = layer === o.strides.length - 1 ? 1.0 : layerScale(o, layer + 1);
    const interpolated = () => {
      if (o.interpolatedScaleAspectRatio > 0) add(Math.sqrt(scale * next), o.interpolatedScaleAspectRatio);
    };
    const early = o.interpolatedPlacement === 'after-ratio-1';
    for (const ratio of o.aspectRatios) {
      add(scale, ratio);
      if (early && ratio === 1.0) interpolated();
    }
    if (!early) interpolated();
  }
  return { h, w };
}

export function gridAnchors(o: GridAnchorOptions): Float32Array {
  if (o.strides.length !== o.numLayers)
    throw new RangeError(`gridAnchors: ${o.strides.length} strides for ${o.numLayers} layers`);
  if (o.cellShapes && o.cellShapes.length !== o.numLayers)
    throw new RangeError(`gridAnchors: cell shapes for ${o.cellShapes.length} layers, ${o.numLayers} layers`);
  const rows: number[] = [];
  for (let layer = 0; layer < o.numLayers;) {
    let end = layer;
    while (end < o.numLayers && o.strides[end] === o.strides[layer]) end++;
    const { h, w } = cellBoxes(o, layer, end);
    const [fh, fw] = o.featureMapSizes?.[layer] ?? [
      Math.ceil(o.inputHeight / o.strides[layer]!),
      Math.ceil(o.inputWidth / o.strides[layer]!),
    ];
    for (let y = 0; y < fh; y++) {
      for (let x = 0; x < fw; x++) {
        for (let a = 0; a < h.length; a++) {
          const [ah, aw] = o.fixedAnchorSize ? [1, 1] : [h[a]!, w[a]!];
          rows.push((y + o.anchorOffsetY) / fh, (x + o.anchorOffsetX) / fw, ah, aw);
        }
      }
    }
    layer = end;
  }
  return new Float32Array(rows);
}

export interface SsdPaperAnchorOptions {
  /** Side of each (square) feature map, largest first. */
  featureMapSizes: number[];
  /** Scales of the first and last layer; the paper uses 0.2 and 0.9. */
  sMin?: number;
  sMax?: number;
  /** Aspect ratios per layer (the paper: {1, 2, 3, 1/2, 1/3}, or {1, 2, 1/2} on some layers). */
  aspectRatios?: number[][];
}

/**
 * s_k = s_min + (s_max - s_min)(k - 1)/(m - 1); w = s_k sqrt(a), h = s_k / sqrt(a) for each ratio a,
 * plus, where ratio 1 is used, a box of scale sqrt(s_k s_k+1). The paper leaves s_m+1 open; the
 * linear rule is extended one step, as the reference Caffe model does (max size 315 at 300).
 */
export function ssdPaperAnchors(o: SsdPaperAnchorOptions): Float32Array {
  const m = o.featureMapSizes.length;
  const sMin = o.sMin ?? 0.2;
  const sMax = o.sMax ?? 0.9;
  const scale = (k: number) => (m === 1 ? sMin : sMin + ((sMax - sMin) * k) / (m - 1));
  const rows: number[] = [];
  o.featureMapSizes.forEach((f, k) => {
    const ratios = o.aspectRatios?.[k] ?? [1, 2, 3, 1 / 2, 1 / 3];
    const boxes: [number, number][] = ratios.map((a) => [scale(k) / Math.sqrt(a), scale(k) * Math.sqrt(a)]);
    if (ratios.includes(1)) {
      const s = Math.sqrt(scale(k) * scale(k + 1));
      boxes.push([s, s]);
    }
    for (let y = 0; y < f; y++) {
      for (let x = 0; x < f; x++) {
        for (const [h, w] of boxes) rows.push((y + 0.5) / f, (x + 0.5) / f, h, w);
      }
    }
  });
  return new Float32Array(rows);
}

/** Converts corner boxes (yMin, xMin, yMax, xMax) to centre form (yc, xc, h, w). */
export function cornersToCenters(corners: ArrayLike<number>): Float32Array {
  const out = new Float32Array(corners.length);
  for (let i = 0; i + 3 < corners.length; i += 4) {
    const y0 = corners[i]!,
      x0 = corners[i + 1]!,
      y1 = corners[i + 2]!,
      x1 = corners[i + 3]!;
    out[i] = (y0 + y1) / 2;
    out[i + 1] = (x0 + x1) / 2;
    out[i + 2] = y1 - y0;
    out[i + 3] = x1 - x0;
  }
  return out;
}
