/**
 * Training data: labeled images to network inputs with SSD's augmentation (Liu et al. 2016,
 * section 3.6 and the reference implementation): a random crop that keeps the boxes whose centres
 * it contains, a horizontal flip, and photometric distortion (brightness, contrast, saturation,
 * hue). The crop is resized to the model input with the same bilinear rule as inference
 * preprocessing (kernels/preprocess_ref.ts), then normalized by the model's mean and std.
 */
import type { PreprocessSpec } from '../core/model_spec.ts';
import type { RgbaImage } from '../core/image.ts';
import type { Rng } from './rng.ts';
import type { GroundTruth } from './targets.ts';

/** An image with its boxes as normalized corners (ymin, xmin, ymax, xmax) and class columns. */
export interface LabeledImage {
  image: RgbaImage;
  truth: GroundTruth;
}

export interface AugmentOptions {
  crop: boolean;
  flip: boolean;
  photometric: boolean;
  /** Smallest crop side as a fraction of the image side (SSD: 0.3). */
  minCropScale: number;
}

export const SSD_AUGMENTATION: AugmentOptions = { crop: true, flip: true, photometric: true, minCropScale: 0.3 };
export const NO_AUGMENTATION: AugmentOptions = { crop: false, flip: false, photometric: false, minCropScale: 1 };

/** Pixel rectangle of the source image. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** SSD's sampler modes: the whole image, a patch whose IoU with some object is at least 0.1 ... 0.9, or any patch. */
const MIN_IOU_MODES = [undefined, 0.1, 0.3, 0.5, 0.7, 0.9, -Infinity] as const;
const TRIALS = 50;

function rectIou(r: Rect, b: GroundTruth['boxes'], j: number, w: number, h: number): number {
  const y0 = b[4 * j]! * h,
    x0 = b[4 * j + 1]! * w,
    y1 = b[4 * j + 2]! * h,
    x1 = b[4 * j + 3]! * w;
  const ih = Math.min(r.y + r.height, y1) - Math.max(r.y, y0);
  const iw = Math.min(r.x + r.width, x1) - Math.max(r.x, x0);
  if (ih <= 0 || iw <= 0) return 0;
  return (ih * iw) / (r.width * r.height + (y1 - y0) * (x1 - x0) - ih * iw);
}

/** The boxes whose centres lie in `r`, clipped to it and normalized to it. */
export function cropTruth(truth: GroundTruth, r: Rect, w: number, h: number): GroundTruth {
  const boxes: number[] = [];
  const classes: number[] = [];
  const b = truth.boxes;
  for (let j = 0; j < truth.classes.length; j++) {
    const cy = ((b[4 * j]! + b[4 * j + 2]!) / 2) * h;
    const cx = ((b[4 * j + 1]! + b[4 * j + 3]!) / 2) * w;
    if (cy <= r.y || cy >= r.y + r.height || cx <= r.x || cx >= r.x + r.width) continue;
    const ny = (v: number) => Math.min(Math.max((v * h - r.y) / r.height, 0), 1);
    const nx = (v: number) => Math.min(Math.max((v * w - r.x) / r.width, 0), 1);
    boxes.push(ny(b[4 * j]!), nx(b[4 * j + 1]!), ny(b[4 * j + 2]!), nx(b[4 * j + 3]!));
    classes.push(truth.classes[j]!);
  }
  return { boxes: new Float32Array(boxes), classes: new Int32Array(classes) };
}

/** SSD's random crop: a patch of side 0.3..1 of the image, aspect ratio 0.5..2, that keeps at least one object. */
export function sampleCrop(rng: Rng, truth: GroundTruth, w: number, h: number, minScale: number): Rect {
  const whole = { x: 0, y: 0, width: w, height: h };
  for (let attempt = 0; attempt < TRIALS; attempt++) {
    const minIou = MIN_IOU_MODES[rng.int(MIN_IOU_MODES.length)];
    if (minIou === undefined) return whole;
    for (let trial = 0; trial < TRIALS; trial++) {
      const cw = Math.round(rng.uniform(minScale * w, w));
      const ch = Math.round(rng.uniform(minScale * h, h));
      if (ch / cw < 0.5 || ch / cw > 2) continue;
      const r = { x: Math.floor(rng.uniform(0, w - cw)), y: Math.floor(rng.uniform(0, h - ch)), width: cw, height: ch };
      let best = 0;
      for (let j = 0; j < truth.classes.length; j++) best = Math.max(best, rectIou(r, truth.boxes, j, w, h));
      if (best < minIou) continue;
      if (cropTruth(truth, r, w, h).classes.length > 0) return r;
    }
  }
  return whole;
}

/** Bilinear resize of a source rectangle to out.width x out.height RGB floats in 0..255 (TF rules, as preprocessRef). */
export function resizeCrop(
  img: RgbaImage,
  r: Rect,
  outW: number,
  outH: number,
  halfPixelCenters: boolean,
): Float32Array {
  const out = new Float32Array(outW * outH * 3);
  const sy = r.height / outH;
  const sx = r.width / outW;
  const px = (x: number, y: number, c: number) => img.data[((r.y + y) * img.width + r.x + x) * 4 + c]!;
  const xa = new Int32Array(outW),
    xb = new Int32Array(outW),
    lx = new Float32Array(outW);
  for (let x = 0; x < outW; x++) {
    const fx = halfPixelCenters ? (x + 0.5) * sx - 0.5 : x * sx;
    const x0 = Math.floor(fx);
    lx[x] = fx - x0;
    xa[x] = Math.min(Math.max(x0, 0), r.width - 1);
    xb[x] = Math.min(Math.max(x0 + 1, 0), r.width - 1);
  }
  for (let y = 0; y < outH; y++) {
    const fy = halfPixelCenters ? (y + 0.5) * sy - 0.5 : y * sy;
    const y0 = Math.floor(fy);
    const ly = fy - y0;
    const ya = Math.min(Math.max(y0, 0), r.height - 1);
    const yb = Math.min(Math.max(y0 + 1, 0), r.height - 1);
    for (let x = 0; x < outW; x++) {
      for (let c = 0; c < 3; c++) {
        const top = px(xa[x]!, ya, c) + (px(xb[x]!, ya, c) - px(xa[x]!, ya, c)) * lx[x]!;
        const bottom = px(xa[x]!, yb, c) + (px(xb[x]!, yb, c) - px(xa[x]!, yb, c)) * lx[x]!;
        out[(y * outW + x) * 3 + c] = top + (bottom - top) * ly;
      }
    }
  }
  return out;
}

export function flipHorizontal(rgb: Float32Array, w: number, h: number, truth: GroundTruth): GroundTruth {
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w / 2; x++) {
      const a = (y * w + x) * 3,
        b = (y * w + (w - 1 - x)) * 3;
      for (let c = 0; c < 3; c++) [rgb[a + c], rgb[b + c]] = [rgb[b + c]!, rgb[a + c]!];
    }
  const boxes = Float32Array.from(truth.boxes);
  for (let j = 0; j < truth.classes.length; j++) {
    boxes[4 * j + 1] = 1 - truth.boxes[4 * j + 3]!;
    boxes[4 * j + 3] = 1 - truth.boxes[4 * j + 1]!;
  }
  return { boxes, classes: truth.classes };
}

/**
 * SSD's photometric distortion on RGB floats in 0..255, each part with probability 1/2: brightness
 * +-32, then contrast x0.5..1.5 either first or last, saturation x0.5..1.5 and hue +-18 degrees in HSV.
 */
export function distortColors(rgb: Float32Array, rng: Rng): void {
  const brightness = rng.chance(0.5) ? rng.uniform(-32, 32) : 0;
  const contrast = rng.chance(0.5) ? rng.uniform(0.5, 1.5) : 1;
  const contrastFirst = rng.chance(0.5);
  const saturation = rng.chance(0.5) ? rng.uniform(0.5, 1.5) : 1;
  const hue = rng.chance(0.5) ? rng.uniform(-18, 18) : 0;
  const hsv = saturation !== 1 || hue !== 0;
  for (let i = 0; i < rgb.length; i += 3) {
    let r = rgb[i]! + brightness,
      g = rgb[i + 1]! + brightness,
      b = rgb[i + 2]! + brightness;
    if (contrastFirst) [r, g, b] = [r * contrast, g * contrast, b * contrast];
    if (hsv) [r, g, b] = adjustHsv(r, g, b, saturation, hue);
    if (!contrastFirst) [r, g, b] = [r * contrast, g * contrast, b * contrast];
    rgb[i] = Math.min(Math.max(r, 0), 255);
    rgb[i + 1] = Math.min(Math.max(g, 0), 255);
    rgb[i + 2] = Math.min(Math.max(b, 0), 255);
  }
}

function adjustHsv(r: number, g: number, b: number, saturation: number, hueDegrees: number): [number, number, number] {
  const max = Math.max(r, g, b),
    min = Math.min(r, g, b);
  const v = max;
  const d = max - min;
  let s = max > 0 ? d / max : 0;
  let h = 0;
  if (d > 0) {
    if (max === r) h = ((g - b) / d) % 6;
    else if (max === g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
  }
  h = (((h * 60 + hueDegrees) % 360) + 360) % 360;
  s = Math.min(s * saturation, 1);
  const c = v * s;
  const x = c * (1 - Math.abs(((h / 60) % 2) - 1));
  const m = v - c;
  const [r1, g1, b1] =
    h < 60
      ? [c, x, 0]
      : h < 120
        ? [x, c, 0]
        : h < 180
          ? [0, c, x]
          : h < 240
            ? [0, x, c]
            : h < 300
              ? [x, 0, c]
              : [c, 0, x];
  return [r1 + m, g1 + m, b1 + m];
}

/** One augmented network input [H, W, 3] (normalized) and its boxes. */
export function augment(
  sample: LabeledImage,
  spec: PreprocessSpec,
  rng: Rng,
  o: AugmentOptions,
): { input: Float32Array; truth: GroundTruth } {
  if (spec.resize !== 'stretch')
    throw new Error(`training supports models that stretch their input, not "${spec.resize}"`);
  const { image } = sample;
  const rect = o.crop
    ? sampleCrop(rng, sample.truth, image.width, image.height, o.minCropScale)
    : { x: 0, y: 0, width: image.width, height: image.height };
  let truth = cropTruth(sample.truth, rect, image.width, image.height);
  const rgb = resizeCrop(image, rect, spec.width, spec.height, spec.halfPixelCenters);
  if (o.flip && rng.chance(0.5)) truth = flipHorizontal(rgb, spec.width, spec.height, truth);
  if (o.photometric) distortColors(rgb, rng);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (rgb[i]! - spec.mean) / spec.std;
  return { input: rgb, truth };
}
