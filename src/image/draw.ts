/**
 * Draws detections onto a copy of an RGBA image: a box outline and a filled "label 0.87" tag per
 * detection, coloured by class, and a dot per keypoint (BlazeFace's eyes, nose, mouth, ears). Pure pixel code with an embedded bitmap font, so it works the same
 * in Node and in browsers (no canvas, no Node imports).
 */
import type { Detection } from '../detect_types.ts';
import { InvalidOptionError } from '../errors.ts';
import type { RgbaImage } from '../core/image.ts';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyphRows } from './font5x7.ts';
import { toRgbaImage } from './rgba.ts';

export interface DrawOptions {
  /** Outline width in pixels. Default: 1 per 300 pixels of the image's shorter side, at least 1. */
  thickness?: number;
  /** Integer magnification of the 5x7 font. Default: 1 per 256 pixels of the shorter side (text about 3% of it), at least 1. */
  fontScale?: number;
  /** Append the score to the label ("Person 0.87"). Default true. */
  showScores?: boolean;
}

export type Rgb = readonly [number, number, number];

/** Saturated, mutually distinct colours; class ids beyond the table wrap around. */
const PALETTE: readonly Rgb[] = [
  [230, 40, 40],
  [40, 180, 70],
  [40, 110, 240],
  [255, 190, 0],
  [190, 60, 220],
  [0, 200, 200],
  [255, 120, 20],
  [255, 90, 170],
  [140, 210, 40],
  [20, 60, 140],
  [150, 90, 40],
  [0, 130, 110],
  [120, 90, 255],
  [235, 230, 70],
  [160, 20, 80],
  [120, 120, 120],
];

export function classColor(classId: number): Rgb {
  const i = Number.isInteger(classId) ? classId : 0;
  return PALETTE[((i % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

/** Black or white, whichever contrasts more with `bg` (WCAG relative luminance). */
export function textColorOn(bg: Rgb): Rgb {
  const linear = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const luminance = 0.2126 * linear(bg[0]) + 0.7152 * linear(bg[1]) + 0.0722 * linear(bg[2]);
  // Contrast with black (L + 0.05) / 0.05 equals contrast with white 1.05 / (L + 0.05) at L = 0.179.
  return luminance > 0.179 ? [0, 0, 0] : [255, 255, 255];
}

/** Returns a new image with the detections drawn; the input is not modified. */
export function drawDetections(
  image: RgbaImage,
  detections: readonly Detection[],
  options: DrawOptions = {},
): RgbaImage {
  const src = toRgbaImage(image, 'image to draw on');
  const canvas = new Canvas(new Uint8Array(src.data), src.width, src.height);
  const shortSide = Math.min(src.width, src.height);
  const thickness = positiveInteger('thickness', options.thickness, Math.max(1, Math.round(shortSide / 300)));
  const fontScale = positiveInteger('fontScale', options.fontScale, Math.max(1, Math.round(shortSide / 256)));
  const visible: { d: Detection; rect: Rect }[] = [];
  for (const d of detections) {
    const rect = pixelRect(d, canvas);
    if (rect) visible.push({ d, rect });
  }
  // Outlines (and keypoints) first, so no box line crosses another detection's tag.
  for (const { d, rect } of visible) canvas.outline(rect, thickness, classColor(d.classId));
  for (const { d } of visible) drawKeypoints(canvas, d, thickness);
  for (const { d, rect } of visible) {
    const text = options.showScores === false ? String(d.label) : `${d.label} ${Number(d.score).toFixed(2)}`;
    drawTag(canvas, rect, text, fontScale, classColor(d.classId));
  }
  return { data: canvas.data, width: canvas.width, height: canvas.height };
}

interface Rect {
  x0: number;
  y0: number;
  /** Exclusive. */
  x1: number;
  y1: number;
}

/** The box in whole pixels, or undefined when it is not finite or lies entirely off the image. */
function pixelRect(d: Detection, c: Canvas): Rect | undefined {
  const { x, y, width, height } = d.box;
  if (![x, y, width, height].every(Number.isFinite)) return undefined;
  const xa = Math.round(x),
    xb = Math.round(x + width);
  const ya = Math.round(y),
    yb = Math.round(y + height);
  const r = {
    x0: Math.min(xa, xb),
    y0: Math.min(ya, yb),
    x1: Math.max(xa, xb, Math.min(xa, xb) + 1),
    y1: Math.max(ya, yb, Math.min(ya, yb) + 1),
  };
  return r.x1 <= 0 || r.y1 <= 0 || r.x0 >= c.width || r.y0 >= c.height ? undefined : r;
}

/** A square dot per keypoint, 2 * thickness + 1 pixels wide in the class colour, ringed in the text colour. */
function drawKeypoints(c: Canvas, d: Detection, thickness: number): void {
  const color = classColor(d.classId);
  const r = thickness;
  for (const k of d.keypoints ?? []) {
    if (!Number.isFinite(k.x) || !Number.isFinite(k.y)) continue;
    const [x, y] = [Math.round(k.x), Math.round(k.y)];
    c.fill(x - r - 1, y - r - 1, 2 * r + 3, 2 * r + 3, textColorOn(color));
    c.fill(x - r, y - r, 2 * r + 1, 2 * r + 1, color);
  }
}

/** The tag sits on the box's top edge, outside it when there is room above, and is kept on the image. */
function drawTag(c: Canvas, box: Rect, text: string, scale: number, color: Rgb): void {
  const pad = scale;
  const advance = (GLYPH_WIDTH + 1) * scale;
  const w = text.length * advance - scale + 2 * pad;
  const h = GLYPH_HEIGHT * scale + 2 * pad;
  const x = Math.max(0, Math.min(box.x0, c.width - w));
  const y = box.y0 - h >= 0 ? box.y0 - h : Math.max(0, Math.min(box.y0, c.height - h));
  c.fill(x, y, w, h, color);
  const ink = textColorOn(color);
  for (let k = 0; k < text.length; k++) {
    const rows = glyphRows(text[k]!);
    const gx = x + pad + k * advance;
    for (let row = 0; row < GLYPH_HEIGHT; row++) {
      for (let col = 0; col < GLYPH_WIDTH; col++) {
        if (rows[row]! & (0x10 >> col)) c.fill(gx + col * scale, y + pad + row * scale, scale, scale, ink);
      }
    }
  }
}

/** RGBA pixels with clipped, opaque rectangle fills. */
class Canvas {
  constructor(
    readonly data: Uint8Array,
    readonly width: number,
    readonly height: number,
  ) {}

  fill(x: number, y: number, w: number, h: number, [r, g, b]: Rgb): void {
    const xa = Math.max(0, x),
      xb = Math.min(this.width, x + w);
    const ya = Math.max(0, y),
      yb = Math.min(this.height, y + h);
    for (let py = ya; py < yb; py++) {
      for (let i = (py * this.width + xa) * 4, end = (py * this.width + xb) * 4; i < end; i += 4) {
        this.data[i] = r;
        this.data[i + 1] = g;
        this.data[i + 2] = b;
        this.data[i + 3] = 255;
      }
    }
  }

  /** A frame `t` pixels wide inside the rectangle (a rectangle thinner than 2t is filled). */
  outline(r: Rect, t: number, color: Rgb): void {
    const w = r.x1 - r.x0,
      h = r.y1 - r.y0;
    this.fill(r.x0, r.y0, w, Math.min(t, h), color);
    this.fill(r.x0, r.y1 - Math.min(t, h), w, Math.min(t, h), color);
    this.fill(r.x0, r.y0, Math.min(t, w), h, color);
    this.fill(r.x1 - Math.min(t, w), r.y0, Math.min(t, w), h, color);
  }
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new InvalidOptionError(name, value, 'a positive integer');
  return value;
}
