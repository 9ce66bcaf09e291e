/**
 * The Node platform of ObjectDetector: models by name or path (converted on first use and cached,
 * node/model_registry.ts), optionally run at another input size, and inputs as files, encoded bytes or
 * RGBA pixels decoded on the CPU.
 */
import { rgbaFrame } from '../api/rgba_frame.ts';
import type { Platform } from '../api/object_detector.ts';
import type { RgbaImage } from '../core/image.ts';
import { InvalidInputError, InvalidOptionError } from '../errors.ts';
import { decodeImage, readImageFile, toRgbaImage, type DecodeLimits } from '../image/decode.ts';
import { fitToLimit } from '../image/fit.ts';
import { resolveModel } from './model_registry.ts';
import { resizeModelInput, type AnchorSizing } from '../ssd/resize_input.ts';

/** A file path, encoded JPEG/PNG bytes, or decoded RGBA pixels. */
export type ImageInput = string | Uint8Array | ArrayBuffer | RgbaImage;

export interface NodeModelOptions {
  /** Progress messages (first-use model conversion). */
  log?: (message: string) => void;
  /** Run the network at this input size ([height, width] or one number for a square) instead of the model's own. */
  inputSize?: number | readonly [number, number];
  /** Largest image (width x height) decoded; larger ones are refused from their header, before any pixel memory. */
  maxPixels?: number;
  /** With inputSize: anchors keep their trained size in pixels (default), or take the generator's sizes for the new input. */
  anchorSizing?: AnchorSizing;
  /**
   * MediaPipe's SSD options for a raw SSD .tflite loaded by path (the JSON of a `<model>.ssd.json` sidecar,
   * parsed; it replaces the sidecar): see docs/ssd_options.md.
   */
  ssdOptions?: unknown;
}

export function nodePlatform(o: NodeModelOptions): Platform<ImageInput, string, { dir: string }> {
  return {
    async loadModel(name) {
      const found = await resolveModel(name, {
        ...(o.log ? { log: o.log } : {}),
        ...(o.ssdOptions !== undefined ? { ssdOptions: o.ssdOptions } : {}),
      });
      const model =
        o.inputSize === undefined ? found : await resizeModelInput(found, ...inputDims(o.inputSize), o.anchorSizing);
      return { model, where: { dir: found.dir } };
    },
    async frame(input, ctx, warn) {
      const img = await toImage(input, o.maxPixels === undefined ? {} : { maxPixels: o.maxPixels });
      const limit = ctx.report.limits.maxTextureDimension2D ?? 8192;
      const fit = fitToLimit(img, limit, typeof input === 'string' ? input : 'image', warn);
      return { frame: rgbaFrame(fit.image), factor: fit.factor };
    },
    warn: (m) => process.emitWarning(m),
  };
}

async function toImage(input: ImageInput, limits: DecodeLimits): Promise<RgbaImage> {
  if (typeof input === 'string') return readImageFile(input, limits);
  if (input instanceof ArrayBuffer) return decodeImage(new Uint8Array(input), 'buffer', limits);
  if (input instanceof Uint8Array) return decodeImage(input, 'buffer', limits);
  if (input && typeof input === 'object' && 'data' in input) return toRgbaImage(input);
  throw new InvalidInputError(
    `unsupported image input (${typeof input})`,
    'pass a file path, JPEG/PNG bytes, or {data, width, height} RGBA pixels',
  );
}

function inputDims(size: number | readonly [number, number]): [number, number] {
  if (typeof size === 'number') return [size, size];
  if (Array.isArray(size) && size.length === 2) return [size[0], size[1]];
  throw new InvalidOptionError('inputSize', size, 'a number of pixels or [height, width]');
}
